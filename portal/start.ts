import cluster from 'node:cluster';
import { createPortal } from './app.js';
import { parseCommandArgs, UsageError } from './cli/args.js';
import type { Config } from './config/load.js';
import { ConfigError, loadConfig } from './config/load.js';
import { listen, warnOnRefusedConnections } from './http/server.js';
import { pino, type Logger } from 'pino';
import { createLogger } from './logger.js';
import { openStore, redactUrl } from './store/index.js';
import { runWorkers, workerCount } from './workers.js';

export const START_USAGE = `usage: gatehouse start [--config PATH] [--workers N|auto]

  --config PATH     the config file (else GATEHOUSE_CONFIG, else ./gatehouse.yaml, else the built-in demo)
  --workers N|auto  serve from N processes on one port (auto: one per core); they share state
                    through Redis (REDIS_URL or store.redis), so more than one needs it
`;

/** The options `start` knows; anything else is a mistake worth stopping for (a typo would run the demo). */
const START_OPTIONS = { config: { type: 'string' }, workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** `gatehouse start`: loads config, opens the store, builds the portal and serves it until SIGTERM/SIGINT. */
export async function start(argv: readonly string[]): Promise<void> {
  let options;
  try {
    options = parseCommandArgs(argv, START_OPTIONS);
    if (options.positional.length) throw new UsageError(`unknown argument "${options.positional[0]}"`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`gatehouse start: ${error.message}\n${START_USAGE}`);
    process.exit(2);
  }
  if (options.values.help) {
    process.stdout.write(START_USAGE);
    process.exit(0);
  }
  // A cluster worker is one of the processes its primary counted: it serves alone.
  const workers = cluster.isWorker ? 1 : workerCount(options.values.workers);
  if (typeof workers !== 'number') {
    process.stderr.write(`gatehouse start: ${workers.problem}\n`);
    process.exit(2);
  }
  let config;
  try {
    config = loadConfig({ configFile: options.values.config });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // One stream for the log and the lines for people (the demo password): they reach stdout in the order written.
  const stdout = pino.destination(1);
  const rootLogger = createLogger({ level: config.logLevel, destination: stdout });
  // Each worker's lines say which process wrote them.
  const logger = cluster.isWorker ? rootLogger.child({ worker: cluster.worker!.id, pid: process.pid }) : rootLogger;
  if (workers > 1) return startWorkers(workers, config, logger);
  logger.info({ config: config.source }, config.demo ? 'no config file found: running the built-in demo' : 'config loaded');
  if (config.secretGenerated) {
    logger.warn('GATEHOUSE_SECRET is not set: generated one for this process; sessions end when it stops');
  }

  let store;
  try {
    store = await openStore(config.store);
  } catch (error) {
    process.stderr.write(`store: ${(error as Error).message}\n`);
    process.exit(1);
  }
  logger.info(
    config.store.redisUrl
      ? { store: config.store.cluster ? 'redis cluster' : 'redis', url: redactUrl(config.store.redisUrl) }
      : { store: 'memory' },
    config.store.redisUrl ? 'state lives in Redis' : 'state lives in memory: for one process only, lost on restart',
  );

  // The demo's code is loaded only when it runs: a deployment with a config file never loads examples/.
  const demo = config.demo ? await (await import('../examples/demo.js')).startDemo(config) : undefined;
  if (demo) config = demo.config;

  const portal = createPortal({ config, store, logger });
  let running;
  try {
    running = await listen(portal.handle, { host: config.host, port: config.port, limits: config.http.connections });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    process.stderr.write(
      code === 'EADDRINUSE'
        ? `port ${config.port} is in use: stop the other process or set PORT\n`
        : `port ${config.port} needs privileges this process lacks: set PORT (e.g. 8787)\n`,
    );
    process.exit(1);
  }
  running.server.on('upgrade', portal.onUpgrade);
  running.server.on('drop', warnOnRefusedConnections(logger, config.http.connections.maxConnections));
  // The issuer's own host (localhost, say, rather than 127.0.0.1): clients check the resource URL strictly.
  const people = `${config.issuer}/`;
  const agents = `${config.issuer}/mcp`;
  logger.info(
    { url: running.url, issuer: config.issuer, people, agents },
    `Gatehouse listening on ${running.url}: people sign in at ${people}, agents connect to ${agents}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.http.shutdownGraceMs }, 'shutting down: draining in-flight requests');
    await running.close(config.http.shutdownGraceMs);
    await portal.close();
    await demo?.close();
    await store.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // After the log lines above: the password comes once the portal listens (on the terminal, not in a JSON line).
  if (demo?.accountLine) stdout.write(`${demo.accountLine}\n`);
}

/**
 * `--workers N` with N > 1: refused without a shared store (each process would hold tokens,
 * sessions and rate limits of its own) and for the built-in demo (its apps and account live in
 * one process); else the store is tried once here, so that an unreachable one is one message,
 * and the workers are forked.
 */
async function startWorkers(count: number, config: Config, logger: Logger): Promise<void> {
  if (!config.store.redisUrl) {
    process.stderr.write(
      `gatehouse start: --workers ${count} needs Redis (set REDIS_URL or store.redis): with the memory store each worker would keep tokens and sessions of its own\n`,
    );
    process.exit(2);
  }
  if (config.demo) {
    process.stderr.write('gatehouse start: --workers needs a config file: the built-in demo runs in one process\n');
    process.exit(2);
  }
  try {
    await (await openStore(config.store)).close();
  } catch (error) {
    process.stderr.write(`store: ${(error as Error).message}\n`);
    process.exit(1);
  }
  runWorkers(count, logger);
}
