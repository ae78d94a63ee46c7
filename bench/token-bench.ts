/**
 * Benchmark of the token endpoint, on loopback only: `grant_type=refresh_token` with rotation,
 * 10 confidential clients (`client_secret_basic`) refreshing at once, each waiting for its new
 * refresh token before it refreshes again. Contenders, each in a process of its own (and the load
 * generator in another): the portal on the memory store, the portal on Redis, and
 * node-oidc-provider (memory adapter) with the same workload: the peer a user would pick instead.
 * The machine's speed drifts, so the contenders run in BENCH_ROUNDS rounds (default 3) back to
 * back, and the figures are the medians of the rounds.
 * Run: `npm run bench` (BENCH_ONLY=token runs only this). Redis: BENCH_REDIS_URL, else
 * redis://127.0.0.1:6379 (its rows are skipped when none answers). Durations: BENCH_SECONDS (default 5).
 * BENCH_PROFILE=1 runs the portal processes with `--cpu-prof` (profiles in the working directory).
 */
import { Redis } from 'ioredis';
import { startChild } from './processes.js';
import { runRefreshLoad, type RefreshLoad, type TokenServer } from './refresh-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = 10;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PROFILE = process.env.BENCH_PROFILE ? ['--cpu-prof'] : [];

interface Contender {
  name: string;
  server: TokenServer;
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

async function start(name: string, script: string, args: string[], nodeArgs: string[] = []): Promise<Contender> {
  const { first, cpuMs, stop } = await startChild<TokenServer>(script, args, nodeArgs);
  return { name, server: first, cpuMs, stop };
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** One run against `contender`, going on from its clients' latest refresh tokens; adds its CPU time per grant. */
async function measure(contender: Contender, seconds: number): Promise<RefreshLoad & { cpuPerGrantMs: number }> {
  const before = await contender.cpuMs();
  const result = await runRefreshLoad({ tokenEndpoint: contender.server.tokenEndpoint, clients: contender.server.clients, seconds });
  const cpuPerGrantMs = ((await contender.cpuMs()) - before) / Math.max(1, result.total);
  contender.server.clients = result.clients;
  return { ...result, cpuPerGrantMs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function refreshGrants(): Promise<void> {
  const contenders: Contender[] = [await start('oidc-provider', './oidc-provider-process.js', [String(CLIENTS)])];
  contenders.push(await start('portal, memory', './token-portal-process.js', ['memory', '', String(CLIENTS)], PROFILE));
  if (await redisAnswers(REDIS_URL))
    contenders.push(await start('portal, Redis', './token-portal-process.js', ['redis', REDIS_URL, String(CLIENTS)], PROFILE));
  else console.log(`  (no Redis answers at ${REDIS_URL}: the Redis row is skipped)`);
  try {
    // Warm every contender's JIT first.
    for (const contender of contenders) await measure(contender, 2);
    console.log(`refresh_token grants (rotation), ${CLIENTS} clients at once, ${ROUNDS} rounds of ${SECONDS}s runs`);
    const figures = new Map(
      contenders.map((c) => [c.name, { rps: [] as number[], ratio: [] as number[], cpu: [] as number[], p50: [] as number[] }]),
    );
    for (let round = 1; round <= ROUNDS; round++) {
      const results = new Map<string, RefreshLoad & { cpuPerGrantMs: number }>();
      for (const contender of contenders) results.set(contender.name, await measure(contender, SECONDS));
      const peer = results.get('oidc-provider')!;
      console.log(`  round ${round}`);
      for (const [name, result] of results) {
        const figure = figures.get(name)!;
        figure.rps.push(result.rps);
        figure.ratio.push(result.rps / peer.rps);
        figure.cpu.push(result.cpuPerGrantMs);
        figure.p50.push(result.p50);
        console.log(
          `    ${name.padEnd(15)} ${result.rps.toFixed(0).padStart(5)} grants/s  p50 ${result.p50} ms  p99 ${result.p99} ms  errors ${result.errors}  ratio ${(result.rps / peer.rps).toFixed(2)}  CPU/grant ${result.cpuPerGrantMs.toFixed(3)} ms`,
        );
      }
    }
    console.log('  medians');
    for (const [name, figure] of figures) {
      console.log(
        `    ${name.padEnd(15)} ${median(figure.rps).toFixed(0).padStart(5)} grants/s  p50 ${median(figure.p50)} ms  ratio to oidc-provider ${median(figure.ratio).toFixed(2)}  CPU/grant ${median(figure.cpu).toFixed(3)} ms`,
      );
    }
  } finally {
    await Promise.all(contenders.map((c) => c.stop()));
  }
}

if (process.env.BENCH_ONLY === undefined || process.env.BENCH_ONLY === 'token') await refreshGrants();
