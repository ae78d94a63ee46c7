// Finds a Redis for the test run: REDIS_URL when set, else one on 127.0.0.1:6379, else a
// `redis-server` started here on a free loopback port (stopped by global-teardown.js).
import { spawn } from 'node:child_process';
import net from 'node:net';

export default async function globalSetup() {
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
      reject(new Error(`No Redis answers on 127.0.0.1:6379 and redis-server could not be started (${error.message}). Install it (Debian: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.`)),
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
