/**
 * What tracing costs: `tools/call` through `/mcp/{id}` with tracing off and on, in
 * rounds, on one portal started with `OTEL_EXPORTER_OTLP_ENDPOINT` (a collector here that
 * accepts and drops the spans). Off is the flag every span helper tests first, so "off" is what
 * a portal without the variable pays.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTracingOn } from '../portal/tracing/spans.js';
import { serviceToken, startPortal } from './portal.js';
import { runLoad, startUpstreams } from './processes.js';

const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};
const callEcho = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bench' } } };

export async function tracingCost(options: { seconds: number; rounds: number; median: (values: number[]) => number }): Promise<void> {
  const collector = http.createServer((req, res) =>
    req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')),
  );
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const upstreams = await startUpstreams(1);
  const portal = await startPortal([{ id: 'up0', kind: 'mcp', url: upstreams.urls[0]! }], {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
  });
  try {
    const endpoint = `${portal.running.url}/mcp/up0`;
    const token = await serviceToken(portal.running.url, endpoint);
    const opened = await fetch(endpoint, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
      }),
    });
    await opened.text();
    const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}`, 'mcp-session-id': opened.headers.get('mcp-session-id')! };
    await runLoad({ url: endpoint, headers, body: callEcho, seconds: 2 });
    console.log(`tracing: tools/call through /mcp/{id}, 10 connections, ${options.rounds} rounds of ${options.seconds}s runs, off then on`);
    const figures: Record<'off' | 'on', { rps: number[]; cpu: number[] }> = { off: { rps: [], cpu: [] }, on: { rps: [], cpu: [] } };
    for (let round = 1; round <= options.rounds; round++) {
      for (const state of ['off', 'on'] as const) {
        setTracingOn(state === 'on');
        const before = process.cpuUsage();
        const result = await runLoad({ url: endpoint, headers, body: callEcho, seconds: options.seconds });
        const used = process.cpuUsage(before);
        const cpu = (used.user + used.system) / 1000 / Math.max(1, result.total);
        figures[state].rps.push(result.rps);
        figures[state].cpu.push(cpu);
        console.log(
          `  round ${round} tracing ${state.padEnd(3)}  ${result.rps.toFixed(0)} req/s  p50 ${result.p50} ms  errors ${result.errors}  portal CPU/call ${cpu.toFixed(3)} ms`,
        );
      }
    }
    const [off, on] = [figures.off, figures.on].map((f) => ({ rps: options.median(f.rps), cpu: options.median(f.cpu) }));
    console.log(
      `  median: off ${off!.rps.toFixed(0)} req/s, ${off!.cpu.toFixed(3)} ms CPU/call; on ${on!.rps.toFixed(0)} req/s, ${on!.cpu.toFixed(3)} ms CPU/call (+${(on!.cpu - off!.cpu).toFixed(3)} ms)`,
    );
  } finally {
    await portal.close();
    await upstreams.stop();
    await new Promise<void>((resolve) => collector.close(() => resolve()));
  }
}
