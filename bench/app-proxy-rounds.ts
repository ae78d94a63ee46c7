/**
 * The app proxy measured side by side with what people would run instead, in rounds: a GET of a
 * 10 KB page directly from the app, through the portal's `/apps/{id}` with a bearer token,
 * through a do-nothing `node:http` proxy (what any Node hop costs on the machine) and through
 * nginx (one worker, keep-alive upstream), each round back to back; then the portal as
 * `gatehouse start --workers 1` and `--workers 2` on Redis. Every process is measured for its CPU
 * time per request, since on a small machine the app, the load generator and the proxy share
 * the cores and the throughput ratio says as much about the machine as about the proxy.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { hashPassword } from '../portal/crypto/password.js';
import { startBareProxy } from './bare-proxy.js';
import { freePort, startNginx, waitForPort } from './nginx.js';
import { removeKeys, SECRET, SERVICE, serviceToken, startPortal } from './portal.js';
import { processTreeCpuMs } from './proc-cpu.js';
import { runLoad, type ChildServers, type Load } from './processes.js';

/** How long and how often each contender runs. */
export interface Rounds {
  seconds: number;
  rounds: number;
}

/** A load run with the CPU time per request (ms) of the process under test and of the app behind it. */
interface Measured extends Load {
  cpuPerRequest: number;
  appCpuPerRequest: number;
}

async function measured(
  app: ChildServers,
  url: string,
  headers: Record<string, string>,
  seconds: number,
  cpuMs: () => number | Promise<number>,
): Promise<Measured> {
  const [appBefore, before] = [await app.cpuMs(), await cpuMs()];
  const result = await runLoad({ url, method: 'GET', headers, seconds });
  const requests = Math.max(1, result.total);
  return {
    ...result,
    cpuPerRequest: ((await cpuMs()) - before) / requests,
    appCpuPerRequest: ((await app.cpuMs()) - appBefore) / requests,
  };
}

/** This process's CPU time so far (ms): the in-process portal's and the bare proxy's. */
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const ms = (value: number) => `${value.toFixed(3)} ms`;
const line = (name: string, run: Measured, cpu?: string) =>
  console.log(
    `    ${name.padEnd(12)} ${run.rps.toFixed(0).padStart(6)} req/s  p50 ${run.p50} ms  p99 ${run.p99} ms  errors ${run.errors}${cpu ? `  CPU/request: ${cpu}` : ''}`,
  );

/** Direct, `/apps/{id}`, bare proxy and nginx, in rounds; prints each round and the medians. */
export async function compareAppProxies(app: ChildServers, options: Rounds): Promise<void> {
  const appUrl = app.urls[0]!;
  const portal = await startPortal([{ id: 'wiki', kind: 'http', url: appUrl, markdown: true }]);
  const bare = await startBareProxy(appUrl);
  const nginx = await startNginx(appUrl);
  try {
    const portalPage = `${portal.running.url}/apps/wiki/page`;
    const bearer = { authorization: `Bearer ${await serviceToken(portal.running.url, `${portal.running.url}/apps/wiki`)}` };
    // Warm each hop's JIT (and nginx's connections) first.
    await runLoad({ url: portalPage, method: 'GET', headers: bearer, seconds: 3 });
    await runLoad({ url: `${bare.url}/page`, method: 'GET', headers: {}, seconds: 1 });
    await runLoad({ url: `${nginx.url}/page`, method: 'GET', headers: {}, seconds: 1 });

    console.log(
      `GET of a 10 KB page, 10 connections, ${options.rounds} rounds of ${options.seconds}s runs (portal in-process, memory store)`,
    );
    const figures = {
      direct: [] as number[],
      portal: [] as number[],
      bare: [] as number[],
      nginx: [] as number[],
      portalCpu: [] as number[],
      bareCpu: [] as number[],
      nginxCpu: [] as number[],
      appCpu: [] as number[],
    };
    for (let round = 1; round <= options.rounds; round++) {
      const direct = await measured(app, `${appUrl}/page`, {}, options.seconds, () => 0);
      const through = await measured(app, portalPage, bearer, options.seconds, ownCpuMs);
      const floor = await measured(app, `${bare.url}/page`, {}, options.seconds, ownCpuMs);
      const peer = await measured(app, `${nginx.url}/page`, {}, options.seconds, () => nginx.cpuMs());
      console.log(`  round ${round}`);
      line('direct', direct, `app ${ms(direct.appCpuPerRequest)}`);
      line('/apps/{id}', through, `portal ${ms(through.cpuPerRequest)}`);
      line('bare proxy', floor, `proxy ${ms(floor.cpuPerRequest)}`);
      line('nginx', peer, `nginx ${ms(peer.cpuPerRequest)}`);
      figures.direct.push(direct.rps);
      figures.portal.push(through.rps);
      figures.bare.push(floor.rps);
      figures.nginx.push(peer.rps);
      figures.portalCpu.push(through.cpuPerRequest);
      figures.bareCpu.push(floor.cpuPerRequest);
      figures.nginxCpu.push(peer.cpuPerRequest);
      figures.appCpu.push(direct.appCpuPerRequest);
    }
    const ratio = (of: number[], to: number[]) => median(of.map((value, i) => value / to[i]!)).toFixed(2);
    console.log(
      `  medians: direct ${median(figures.direct).toFixed(0)}, /apps/{id} ${median(figures.portal).toFixed(0)}, bare proxy ${median(figures.bare).toFixed(0)}, nginx ${median(figures.nginx).toFixed(0)} req/s`,
    );
    console.log(
      `  ratio /apps/{id} / nginx: ${ratio(figures.portal, figures.nginx)} (goal ≥ 0.5); bare proxy / nginx: ${ratio(figures.bare, figures.nginx)}; /apps/{id} / direct: ${ratio(figures.portal, figures.direct)}`,
    );
    console.log(
      `  CPU per request: portal ${ms(median(figures.portalCpu))} (goal ≤ 0.15 ms), bare node:http proxy ${ms(median(figures.bareCpu))}, nginx ${ms(median(figures.nginxCpu))}, the app ${ms(median(figures.appCpu))}`,
    );
  } finally {
    await nginx.stop();
    await bare.close();
    await portal.close();
  }
}

const BUILT_MAIN = fileURLToPath(new URL('../portal/main.js', import.meta.url));

/** `gatehouse start --workers N` on Redis as a process of its own, fronting the app. */
async function startWorkersPortal(
  appUrl: string,
  workers: number,
  redisUrl: string,
): Promise<{ url: string; cpuMs(): number; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-workers-'));
  const keyPrefix = `gatehouse-bench-${randomUUID()}:`;
  const config = {
    upstreams: [{ id: 'wiki', kind: 'http', url: appUrl }],
    service_clients: [{ client_id: SERVICE.id, secret_hash: await hashPassword(SERVICE.secret), upstreams: ['wiki'] }],
    rate_limits: { token_per_minute: 1000 },
    store: { key_prefix: keyPrefix },
  };
  writeFileSync(path.join(dir, 'gatehouse.yaml'), JSON.stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    PORT: String(port),
    PUBLIC_URL: url,
    REDIS_URL: redisUrl,
    GATEHOUSE_SECRET: SECRET,
    LOG_LEVEL: 'warn',
  };
  const child = spawn(process.execPath, [BUILT_MAIN, '--config', path.join(dir, 'gatehouse.yaml'), '--workers', String(workers)], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, exited);
  return {
    url,
    cpuMs: () => processTreeCpuMs(child.pid!),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      await removeKeys(redisUrl, keyPrefix);
    },
  };
}

/** `/apps/{id}` served by one and by two worker processes on Redis, in rounds. */
export async function compareWorkers(app: ChildServers, options: Rounds): Promise<void> {
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await reachable(redisUrl))) {
    console.log(`--workers 1 vs 2: skipped, no Redis at ${redisUrl} (set BENCH_REDIS_URL)`);
    return;
  }
  const portals = [await startWorkersPortal(app.urls[0]!, 1, redisUrl), await startWorkersPortal(app.urls[0]!, 2, redisUrl)];
  try {
    const targets = [];
    for (const portal of portals) {
      const bearer = { authorization: `Bearer ${await serviceToken(portal.url, `${portal.url}/apps/wiki`)}` };
      // Warm-up; it also gives the second worker time to start listening before the measured runs connect.
      await runLoad({ url: `${portal.url}/apps/wiki/page`, method: 'GET', headers: bearer, seconds: 3 });
      targets.push({ url: `${portal.url}/apps/wiki/page`, bearer, cpuMs: portal.cpuMs });
    }
    console.log(
      `GET of a 10 KB page through /apps/{id}, gatehouse start --workers 1 vs 2 on Redis, 10 connections, ${options.rounds} rounds of ${options.seconds}s runs`,
    );
    const rps: number[][] = [[], []];
    const cpu: number[][] = [[], []];
    for (let round = 1; round <= options.rounds; round++) {
      console.log(`  round ${round}`);
      for (const [i, target] of targets.entries()) {
        const run = await measured(app, target.url, target.bearer, options.seconds, target.cpuMs);
        line(`${i + 1} worker${i ? 's' : ''}`, run, `portal processes ${ms(run.cpuPerRequest)}`);
        rps[i]!.push(run.rps);
        cpu[i]!.push(run.cpuPerRequest);
      }
    }
    console.log(
      `  medians: 1 worker ${median(rps[0]!).toFixed(0)} req/s (${ms(median(cpu[0]!))} CPU/request), 2 workers ${median(rps[1]!).toFixed(0)} req/s (${ms(median(cpu[1]!))}); ratio 2/1 ${median(rps[1]!.map((value, i) => value / rps[0]![i]!)).toFixed(2)}`,
    );
  } finally {
    for (const portal of portals) await portal.stop();
  }
}

async function reachable(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
