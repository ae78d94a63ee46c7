import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';

/** The most worker processes `--workers` accepts: a bound on a typo, far above any machine's cores. */
const MAX_WORKERS = 1024;

/** How long the primary waits before replacing a worker that stopped unexpectedly. */
const RESTART_DELAY_MS = 1_000;

/**
 * The number of processes `gatehouse start --workers N|auto` asks for (`auto`: one per core, as
 * `os.availableParallelism()` counts them), 1 without the option, or why the value is wrong.
 */
export function workerCount(value: string | undefined): number | { problem: string } {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const count = Number(value);
  if (!value || !Number.isInteger(count) || count < 1 || count > MAX_WORKERS)
    return { problem: `--workers takes a number of processes (1-${MAX_WORKERS}) or "auto", not "${value ?? ''}"` };
  return count;
}

/**
 * The primary of `gatehouse start --workers N`: forks N portal processes that share one listening
 * port (`node:cluster`, which hands connections to the workers in turn) and one Redis, so that
 * any of them can serve any request. A worker that stops unexpectedly is replaced; one that stops
 * before it ever listened (a bad port, an unreachable store) stops the whole group with its exit
 * code, since its siblings would fail the same way. SIGTERM/SIGINT stop every worker gracefully.
 */
export function runWorkers(count: number, logger: Logger): void {
  let stopping = false;
  const listened = new Set<number>();
  const fork = () => cluster.fork();
  const live = () => Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
  const stopAll = (signal: string) => {
    stopping = true;
    logger.info({ signal, workers: live().length }, 'shutting down: stopping the workers');
    for (const worker of live()) worker.process.kill('SIGTERM');
  };

  cluster.on('listening', (worker) => listened.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping && !listened.has(worker.id)) {
      logger.error({ worker: worker.id, code, signal }, 'a worker stopped before it could serve: stopping');
      process.exitCode = code || 1;
      stopAll('worker-failed');
    } else if (!stopping) {
      logger.error({ worker: worker.id, pid: worker.process.pid, code, signal }, 'a worker stopped unexpectedly: starting another');
      setTimeout(() => stopping || fork(), RESTART_DELAY_MS).unref();
    }
    if (stopping && live().length === 0) {
      logger.info('stopped');
      process.exit();
    }
  });
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  process.on('SIGINT', () => stopAll('SIGINT'));
  logger.info({ workers: count }, `serving with ${count} worker processes on one port`);
  for (let i = 0; i < count; i++) fork();
}
