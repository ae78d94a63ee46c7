import cluster from 'node:cluster';
import { startDemoMcpServer } from '../examples/demo-mcp-server.js';
import { startHandbookSite } from '../examples/handbook-site.js';
import { createPortal } from './app.js';
import { deepFreeze } from './config/deep-freeze.js';
import { upstreamSchema, type AccountConfig } from './config/schema.js';
import { hashPassword } from './crypto/password.js';
import { randomToken } from './crypto/hash.js';
import type { Config } from './config/load.js';
import { ConfigError, loadConfig } from './config/load.js';
import { nearest } from './config/suggest.js';
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
const START_OPTIONS = ['--config', '--workers', '--help'];

/** `gatehouse start`: loads config, opens the store, builds the portal and serves it until SIGTERM/SIGINT. */
export async function start(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(START_USAGE);
    process.exit(0);
  }
  const unknown = unknownOption(argv);
  if (unknown) {
    process.stderr.write(`gatehouse start: ${unknown}
${START_USAGE}`);
    process.exit(2);
  }
  // A cluster worker is one of the processes its primary counted: it serves alone.
  const workers = cluster.isWorker ? 1 : workerCount(argv);
  if (typeof workers !== 'number') {
    process.stderr.write(`gatehouse start: ${workers.problem}\n`);
    process.exit(2);
  }
  let config;
  try {
    config = loadConfig({ argv });
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
    config.store.redisUrl ? { store: config.store.cluster ? 'redis cluster' : 'redis', url: redactUrl(config.store.redisUrl) } : { store: 'memory' },
    config.store.redisUrl ? 'state lives in Redis' : 'state lives in memory: for one process only, lost on restart',
  );

  const demo = config.demo ? await startDemo(config) : undefined;
  const portal = createPortal({ config: demo?.config ?? config, store, logger });
  let running;
  try {
    running = await listen(portal.handle, { host: config.host, port: config.port, limits: config.http.connections });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    process.stderr.write(code === 'EADDRINUSE' ? `port ${config.port} is in use: stop the other process or set PORT\n` : `port ${config.port} needs privileges this process lacks: set PORT (e.g. 8787)\n`);
    process.exit(1);
  }
  running.server.on('upgrade', portal.onUpgrade);
  running.server.on('drop', warnOnRefusedConnections(logger, config.http.connections.maxConnections));
  // The issuer's own host (localhost, say, rather than 127.0.0.1): clients check the resource URL strictly.
  const people = `${config.issuer}/`;
  const agents = `${config.issuer}/mcp`;
  logger.info({ url: running.url, issuer: config.issuer, people, agents }, `Gatehouse listening on ${running.url}: people sign in at ${people}, agents connect to ${agents}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.http.shutdownGraceMs }, 'shutting down: draining in-flight requests');
    await running.close(config.http.shutdownGraceMs);
    await portal.close();
    await Promise.allSettled((demo?.servers ?? []).map((server) => server.close()));
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
    process.stderr.write(`gatehouse start: --workers ${count} needs Redis (set REDIS_URL or store.redis): with the memory store each worker would keep tokens and sessions of its own\n`);
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

/** The built-in demo, running: the config it serves, its in-process servers, and the line about its account. */
interface Demo {
  config: Config;
  servers: Array<{ close(): Promise<void> }>;
  accountLine?: string;
}

/**
 * Starts the demo's servers and derives the config that serves them (the loaded one is frozen):
 * its MCP server and HTML app as upstreams and, unless the config has accounts, its account.
 */
async function startDemo(config: Config): Promise<Demo> {
  const account = config.accounts.length === 0 ? await demoAccount(config.issuer) : undefined;
  const mcp = await startDemoMcpServer();
  const site = await startHandbookSite();
  return {
    config: deepFreeze({
      ...config,
      accounts: account ? [...config.accounts, account.config] : config.accounts,
      // The demo account is an admin of the demo portal, so that `/admin` shows something.
      admins: account && !config.admins.groups.includes('demo') ? { ...config.admins, groups: [...config.admins.groups, 'demo'] } : config.admins,
      upstreams: [
        ...config.upstreams,
        // examples/demo-mcp-server.ts, in-process on a free loopback port.
        upstreamSchema.parse({ id: 'demo', kind: 'mcp', title: 'Demo tools', url: mcp.url }),
        // examples/handbook-site.ts: `/apps/handbook/`, Markdown for agents.
        upstreamSchema.parse({ id: 'handbook', kind: 'http', title: 'Acme handbook', url: site.url, markdown: true, entry_pages: ['/', '/onboarding', '/policies/expenses', '/policies/time-off'] }),
      ],
    }),
    servers: [mcp, site],
    accountLine: account?.line,
  };
}

/**
 * The demo's one built-in account. Its password comes from `GATEHOUSE_DEMO_PASSWORD`, or is
 * generated; `line` tells the person, printed once the portal listens, to the terminal only
 * (never into the JSON log).
 */
async function demoAccount(issuer: string): Promise<{ config: AccountConfig; line: string }> {
  const given = process.env.GATEHOUSE_DEMO_PASSWORD;
  const password = given || randomToken(12);
  return {
    config: { username: 'demo', passwordHash: await hashPassword(password), name: 'Demo User', email: 'demo@example.com', groups: ['demo'] },
    line: given
      ? `Demo account: username "demo", password from GATEHOUSE_DEMO_PASSWORD; sign in at ${issuer}/`
      : `Demo account: username "demo", password "${password}" (shown once; set GATEHOUSE_DEMO_PASSWORD to choose it); sign in at ${issuer}/`,
  };
}

/** Why `argv` is not what `start` takes (`--confg x.yaml`), with the option it probably meant; `undefined` when it is. */
function unknownOption(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' || arg === '--workers') {
      i++;
      continue;
    }
    if (arg.startsWith('--config=') || arg.startsWith('--workers=')) continue;
    const name = arg.split('=')[0]!;
    const meant = name.startsWith('-') ? nearest(name, START_OPTIONS) : undefined;
    return `unknown ${name.startsWith('-') ? 'option' : 'argument'} "${arg}"${meant ? ` (did you mean "${meant}"?)` : ''}`;
  }
  return undefined;
}
