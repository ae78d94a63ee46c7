import { startDemoMcpServer } from '../examples/demo-mcp-server.js';
import { startHandbookSite } from '../examples/handbook-site.js';
import { createPortal } from './app.js';
import { upstreamSchema } from './config/schema.js';
import { hashPassword } from './crypto/password.js';
import { randomToken } from './crypto/hash.js';
import type { Config } from './config/load.js';
import { ConfigError, loadConfig } from './config/load.js';
import { listen, warnOnRefusedConnections } from './http/server.js';
import { createLogger } from './logger.js';
import { openStore, redactUrl } from './store/index.js';

/** `gatehouse start`: loads config, opens the store, builds the portal and serves it until SIGTERM/SIGINT. */
export async function start(argv: readonly string[]): Promise<void> {
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
  const logger = createLogger({ level: config.logLevel });
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

  const demoServers: Array<{ close(): Promise<void> }> = [];
  if (config.demo && config.accounts.length === 0) await addDemoAccount(config);
  if (config.demo) demoServers.push(await addDemoMcpServer(config));
  if (config.demo) demoServers.push(await addDemoHandbook(config));

  const portal = createPortal({ config, store, logger });
  const running = await listen(portal.handle, { host: config.host, port: config.port, limits: config.http.connections });
  running.server.on('upgrade', portal.onUpgrade);
  running.server.on('drop', warnOnRefusedConnections(logger, config.http.connections.maxConnections));
  logger.info({ url: running.url, issuer: config.issuer }, `Gatehouse listening on ${running.url}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.http.shutdownGraceMs }, 'shutting down: draining in-flight requests');
    await running.close(config.http.shutdownGraceMs);
    await portal.close();
    await Promise.allSettled(demoServers.map((server) => server.close()));
    await store.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}


/**
 * The demo's one built-in account. Its password comes from `GATEHOUSE_DEMO_PASSWORD`, or is
 * generated and printed once, to the terminal only (never into the JSON log).
 */
async function addDemoAccount(config: Config): Promise<void> {
  const given = process.env.GATEHOUSE_DEMO_PASSWORD;
  const password = given || randomToken(12);
  config.accounts.push({ username: 'demo', password_hash: await hashPassword(password), name: 'Demo User', email: 'demo@example.com', groups: ['demo'] });
  process.stdout.write(
    given
      ? 'Demo account: username "demo", password from GATEHOUSE_DEMO_PASSWORD\n'
      : `Demo account: username "demo", password "${password}" (shown once; set GATEHOUSE_DEMO_PASSWORD to choose it)\n`,
  );
}

/** The demo's MCP upstream (examples/demo-mcp-server.ts), started in-process on a free loopback port. */
async function addDemoMcpServer(config: Config): Promise<{ close(): Promise<void> }> {
  const server = await startDemoMcpServer();
  config.upstreams = [...config.upstreams, upstreamSchema.parse({ id: 'demo', kind: 'mcp', title: 'Demo tools', url: server.url })];
  return server;
}

/** The demo's HTML app (examples/handbook-site.ts), in-process on a free loopback port: `/apps/handbook/`, Markdown for agents. */
async function addDemoHandbook(config: Config): Promise<{ close(): Promise<void> }> {
  const site = await startHandbookSite();
  config.upstreams = [...config.upstreams, upstreamSchema.parse({ id: 'handbook', kind: 'http', title: 'Acme handbook', url: site.url, markdown: true, entry_pages: ['/', '/onboarding', '/policies/expenses', '/policies/time-off'] })];
  return site;
}
