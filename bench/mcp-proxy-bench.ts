/**
 * Benchmark of the MCP portal, on loopback only:
 *  1. `tools/call` through `/mcp/{id}` versus directly to the same upstream, same load
 *     (autocannon, 10 connections, then 1): throughput ratio, added p50/p99 latency, and the
 *     same through a do-nothing `node:http` proxy: what any proxy hop costs on the machine; then
 *     the same call through the aggregate `/mcp` (an SDK server and client in between). Each run
 *     also measures the CPU time per call of every process (upstream, portal, load generator): at
 *     10 connections three busy processes share the machine's cores, so the ratio is bounded by
 *     the cores as much as by the portal; the CPU figures give the ratio when each has a core;
 *     then `tools/call` from an MCP 2026-07-28 (stateless) agent, directly and through `/mcp/{id}`;
 *  2. `tools/list` on the aggregate `/mcp` with 1, 10 and 50 upstreams, and its size with every
 *     tool listed and in search mode (`?tools=search`).
 * The portal runs here; the upstreams and the load generator run in processes of their own.
 * The machine's speed drifts between runs, so each comparison runs in BENCH_ROUNDS rounds
 * (default 3) of direct / portal / bare proxy back to back, and the ratios are the medians of
 * the rounds' ratios.
 * Run: `npm run bench` (builds first; it runs token-bench.ts after this). Durations: BENCH_SECONDS per run (default 5).
 */
import { availableParallelism } from 'node:os';
import { startBareProxy } from './bare-proxy.js';
import { serviceToken, startPortal } from './portal.js';
import { tracingCost } from './tracing-bench.js';
import { runLoad, startUpstreams, type ChildServers, type Load } from './processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

/** Initializes an MCP session at `url` and returns the headers that continue it. */
async function session(url: string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
    }),
  });
  await res.text();
  const id = res.headers.get('mcp-session-id');
  if (!res.ok || !id) throw new Error(`initialize at ${url}: ${res.status}`);
  return { ...MCP_HEADERS, ...headers, 'mcp-session-id': id };
}

function load(url: string, headers: Record<string, string>, body: unknown, connections = 10): Promise<Load> {
  return runLoad({ url, headers, body, seconds: SECONDS, connections });
}

/** CPU time per call (ms) of each process in a run: the upstream's, this process's (the portal or the bare proxy) and the load generator's. */
interface CpuPerCall {
  upstream: number;
  here: number;
  load: number;
}

/** A load run, with each process's CPU time per call. */
async function measured(
  upstream: ChildServers,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  connections: number,
): Promise<Load & { cpu: CpuPerCall }> {
  const [upstreamBefore, hereBefore] = [await upstream.cpuMs(), process.cpuUsage()];
  const result = await load(url, headers, body, connections);
  const hereUsed = process.cpuUsage(hereBefore);
  const calls = Math.max(1, result.total);
  const cpu = {
    upstream: ((await upstream.cpuMs()) - upstreamBefore) / calls,
    here: (hereUsed.user + hereUsed.system) / 1000 / calls,
    load: result.cpuMs / calls,
  };
  return { ...result, cpu };
}

const callEcho = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } };
/** The same call from an MCP 2026-07-28 agent: no session, its version, identity and capabilities in every request. */
const modernEcho = {
  ...callEcho,
  params: {
    ...callEcho.params,
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    },
  },
};
const MODERN_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/call',
  'mcp-name': 'echo',
};
const listTools = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

async function proxyOverhead(): Promise<void> {
  const upstreams = await startUpstreams(1);
  const url = upstreams.urls[0]!;
  const portal = await startPortal(upstreams.urls.map((url, i) => ({ id: `up${i}`, kind: 'mcp', url })));
  const bare = await startBareProxy(url);
  try {
    const endpoint = `${portal.running.url}/mcp/up0`;
    const token = await serviceToken(portal.running.url, endpoint);
    const [directHeaders, portalHeaders] = [await session(url), await session(endpoint, { authorization: `Bearer ${token}` })];
    const aggregate = `${portal.running.url}/mcp`;
    const aggregateHeaders = await session(aggregate, { authorization: `Bearer ${await serviceToken(portal.running.url, aggregate)}` });
    const bareHeaders = await session(`${bare.url}/mcp`);
    const row = (name: string, result: Load, direct: Load, extra = '') =>
      console.log(
        `  ${name.padEnd(10)} ${result.rps.toFixed(0)} req/s  p50 ${result.p50} ms  p99 ${result.p99} ms  errors ${result.errors}  ratio ${(result.rps / direct.rps).toFixed(2)}, added p50 ${result.p50 - direct.p50} ms, p99 ${result.p99 - direct.p99} ms${extra}`,
      );
    // Warm every hop's JIT first: the first run on a cold upstream would be the slowest.
    await runLoad({ url: endpoint, headers: portalHeaders, body: callEcho, seconds: 3 });
    await runLoad({ url: `${bare.url}/mcp`, headers: bareHeaders, body: callEcho, seconds: 2 });
    const aggregateCall = { ...callEcho, params: { ...callEcho.params, name: 'up0__echo' } };
    await runLoad({ url: aggregate, headers: aggregateHeaders, body: aggregateCall, seconds: 2 });
    const ms = (value: number) => `${value.toFixed(2)} ms`;
    // BENCH_ONLY=modern: the 2026 agent's calls alone (for profiling that path).
    for (const connections of process.env.BENCH_ONLY === 'modern' ? [] : [10, 1]) {
      console.log(`tools/call, ${connections} connection${connections === 1 ? '' : 's'}, ${ROUNDS} rounds of ${SECONDS}s runs`);
      const ratios: Record<string, number[]> = { '/mcp/{id}': [], 'bare proxy': [], '/mcp': [] };
      const cpu: Record<'upstream' | 'portal' | 'bare' | 'load', number[]> = { upstream: [], portal: [], bare: [], load: [] };
      const addedP50: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const direct = await measured(upstreams, url, directHeaders, callEcho, connections);
        const through = await measured(upstreams, endpoint, portalHeaders, callEcho, connections);
        const floor = await measured(upstreams, `${bare.url}/mcp`, bareHeaders, callEcho, connections);
        console.log(`  round ${round}`);
        console.log(
          `  direct     ${direct.rps.toFixed(0)} req/s  p50 ${direct.p50} ms  p99 ${direct.p99} ms  errors ${direct.errors}  (CPU/call: upstream ${ms(direct.cpu.upstream)}, load ${ms(direct.cpu.load)})`,
        );
        row(
          '/mcp/{id}',
          through,
          direct,
          `  (CPU/call: portal ${ms(through.cpu.here)}, upstream ${ms(through.cpu.upstream)}, load ${ms(through.cpu.load)})`,
        );
        row('bare proxy', floor, direct, `  (CPU/call: proxy ${ms(floor.cpu.here)})`);
        ratios['/mcp/{id}']!.push(through.rps / direct.rps);
        ratios['bare proxy']!.push(floor.rps / direct.rps);
        addedP50.push(through.p50 - direct.p50);
        cpu.upstream.push(direct.cpu.upstream);
        cpu.portal.push(through.cpu.here);
        cpu.bare.push(floor.cpu.here);
        cpu.load.push(through.cpu.load);
        // The aggregate at 10 connections only: its cost per call is what the figure shows.
        if (connections === 1) continue;
        const aggregated = await measured(upstreams, aggregate, aggregateHeaders, aggregateCall, connections);
        row('/mcp', aggregated, direct, `  (CPU/call: portal ${ms(aggregated.cpu.here)})`);
        ratios['/mcp']!.push(aggregated.rps / direct.rps);
      }
      const medians = Object.entries(ratios)
        .filter(([, values]) => values.length)
        .map(([name, values]) => `${name} ${median(values).toFixed(2)}`);
      console.log(`  median ratio to direct: ${medians.join(', ')}; /mcp/{id} added p50 ${median(addedP50)} ms`);
      if (connections === 1) continue;
      // The ratio above is bounded by the machine's cores as much as by the portal: read it with these.
      const [upstreamMs, portalMs, loadMs] = [median(cpu.upstream), median(cpu.portal), median(cpu.load)];
      const cores = availableParallelism();
      console.log(
        `  median CPU/call: upstream ${ms(upstreamMs)}, portal ${ms(portalMs)}, bare proxy ${ms(median(cpu.bare))}, load generator ${ms(loadMs)}`,
      );
      console.log(
        `  through the portal the three processes need ${ms(upstreamMs + portalMs + loadMs)} of CPU per call: at most ${((cores * 1000) / (upstreamMs + portalMs + loadMs)).toFixed(0)} calls/s on this machine's ${cores} cores`,
      );
      console.log(
        `  with a core of its own, one portal process serves ${(1000 / portalMs).toFixed(0)} calls/s, the upstream ${(1000 / upstreamMs).toFixed(0)}: ratio ${Math.min(1, upstreamMs / portalMs).toFixed(2)}`,
      );
    }
    await modernCalls(upstreams, url, endpoint, token);
  } finally {
    await bare.close();
    await portal.close();
    await upstreams.stop();
  }
}

/** `tools/call` from an MCP 2026-07-28 agent, directly to the (dual-era) upstream and through `/mcp/{id}`. */
async function modernCalls(upstreams: ChildServers, url: string, endpoint: string, token: string): Promise<void> {
  const portalHeaders = { ...MODERN_HEADERS, authorization: `Bearer ${token}` };
  await runLoad({ url: endpoint, headers: portalHeaders, body: modernEcho, seconds: 3 });
  console.log(`tools/call from an MCP 2026-07-28 agent (stateless), 10 connections, ${ROUNDS} rounds of ${SECONDS}s runs`);
  const ratios: number[] = [];
  const portalCpu: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const direct = await measured(upstreams, url, MODERN_HEADERS, modernEcho, 10);
    const through = await measured(upstreams, endpoint, portalHeaders, modernEcho, 10);
    console.log(
      `  round ${round}: direct ${direct.rps.toFixed(0)} req/s p50 ${direct.p50} ms (errors ${direct.errors}), /mcp/{id} ${through.rps.toFixed(0)} req/s p50 ${through.p50} ms (errors ${through.errors}), portal CPU/call ${through.cpu.here.toFixed(2)} ms`,
    );
    ratios.push(through.rps / direct.rps);
    portalCpu.push(through.cpu.here);
  }
  console.log(
    `  median ratio to direct: /mcp/{id} ${median(ratios).toFixed(2)}; median portal CPU/call ${median(portalCpu).toFixed(2)} ms`,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function aggregateListing(count: number): Promise<void> {
  const upstreams = await startUpstreams(count);
  const portal = await startPortal(upstreams.urls.map((url, i) => ({ id: `up${i}`, kind: 'mcp', url })));
  try {
    const token = await serviceToken(portal.running.url, `${portal.running.url}/mcp`);
    const endpoint = `${portal.running.url}/mcp`;
    const legacy = await load(endpoint, await session(endpoint, { authorization: `Bearer ${token}` }), listTools);
    const { 'mcp-name': _name, ...modernHeaders } = MODERN_HEADERS;
    const modern = await load(
      endpoint,
      { ...modernHeaders, 'mcp-method': 'tools/list', authorization: `Bearer ${token}` },
      { ...listTools, params: { _meta: modernEcho.params._meta } },
    );
    for (const [agent, result] of [
      ['2025 session', legacy],
      ['2026 agent', modern],
    ] as const) {
      console.log(
        `  ${String(count).padStart(2)} upstreams, ${agent.padEnd(12)}  ${result.rps.toFixed(0)} req/s  p50 ${result.p50} ms  p99 ${result.p99} ms  errors ${result.errors}`,
      );
    }
    // What a model's context pays for the listing: every tool, or the two of search mode.
    for (const mode of ['all', 'search']) {
      const res = await fetch(`${endpoint}?tools=${mode}`, {
        method: 'POST',
        headers: { ...modernHeaders, 'mcp-method': 'tools/list', authorization: `Bearer ${token}` },
        body: JSON.stringify({ ...listTools, params: { _meta: modernEcho.params._meta } }),
      });
      const text = await res.text();
      // A failed listing must stop the bench, not print a size of 0 tools.
      const tools = res.ok ? (JSON.parse(text) as { result?: { tools?: unknown[] } }).result?.tools : undefined;
      if (!Array.isArray(tools) || tools.length === 0)
        throw new Error(`tools/list with tool_mode ${mode} failed: HTTP ${res.status} ${text.slice(0, 200)}`);
      console.log(
        `  ${String(count).padStart(2)} upstreams, tools/list size with tool_mode ${mode.padEnd(6)}  ${tools.length} tools, ${(text.length / 1024).toFixed(1)} KB`,
      );
    }
  } finally {
    await portal.close();
    await upstreams.stop();
  }
}

// BENCH_ONLY=proxy stops after the tools/call comparisons; BENCH_ONLY=listing runs only the listings; BENCH_ONLY=tracing
// only what tracing costs; another BENCH_ONLY (token, markdown) names another benchmark, and this one runs nothing.
const only = process.env.BENCH_ONLY;
if (only === 'tracing') await tracingCost({ seconds: SECONDS, rounds: ROUNDS, median });
if (only === undefined || ['proxy', 'modern', 'listing'].includes(only)) {
  if (only !== 'listing') await proxyOverhead();
  if (only === undefined) await tracingCost({ seconds: SECONDS, rounds: ROUNDS, median });
  if (only !== 'proxy' && only !== 'modern') {
    console.log(`tools/list on the aggregate, 10 connections, ${SECONDS}s each`);
    for (const count of [1, 10, 50]) await aggregateListing(count);
  }
}
