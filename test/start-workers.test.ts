import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../portal/crypto/password.js';
import { startTestUpstream, type Echo, type TestUpstream } from './helpers/http-app-upstream.js';
import { deleteKeysWithPrefix, testKeyPrefix, testRedisUrl } from './helpers/redis.js';
import { startPortalProcess } from './helpers/portal-process.js';
import { freePort } from './helpers/redis-server.js';

const ROBOT = { id: 'robot', secret: 'robot-secret-for-the-workers-test' };
const SECRET = 'workers-test-secret-0123456789abcdef';

const run = startPortalProcess;

/** One request on a connection of its own (no keep-alive), so that the cluster may hand each to another worker. */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The JSON log lines of `stdout` (the portal logs one per line). */
function logLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('gatehouse start --workers', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'gh-workers-'));

  test('more than one worker on the memory store is refused with one line and exit 2', async () => {
    const proc = run(['--workers', '2'], { PORT: String(await freePort()) }, cwd);
    expect(await proc.exited).toBe(2);
    expect(proc.output().stderr).toBe(
      'gatehouse start: --workers 2 needs Redis (set REDIS_URL or store.redis): with the memory store each worker would keep tokens and sessions of its own\n',
    );
  });

  test.each([['0'], ['two'], ['']])('--workers %p is one line and exit 2', async (value) => {
    const proc = run([`--workers=${value}`], { PORT: String(await freePort()) }, cwd);
    expect(await proc.exited).toBe(2);
    expect(proc.output().stderr).toBe(`gatehouse start: --workers takes a number of processes (1-1024) or "auto", not "${value}"\n`);
  });

  test('the built-in demo (no config file) runs in one process only: one line and exit 2', async () => {
    const proc = run(
      ['--workers', '2'],
      { PORT: String(await freePort()), REDIS_URL: testRedisUrl(), GATEHOUSE_SECRET: SECRET },
      mkdtempSync(path.join(tmpdir(), 'gh-workers-demo-')),
    );
    expect(await proc.exited).toBe(2);
    expect(proc.output().stderr).toBe('gatehouse start: --workers needs a config file: the built-in demo runs in one process\n');
  });

  test('workers that cannot listen (the port is taken) stop the group with exit 1', async () => {
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const file = path.join(cwd, 'taken.yaml');
    writeFileSync(file, JSON.stringify({ upstreams: [], store: { key_prefix: testKeyPrefix() } }));
    try {
      const proc = run(
        ['--config', file, '--workers', '2'],
        { PORT: String(port), REDIS_URL: testRedisUrl(), GATEHOUSE_SECRET: SECRET },
        cwd,
      );
      expect(await proc.exited).toBe(1);
      expect(proc.output().stderr).toContain(`port ${port} is in use: stop the other process or set PORT\n`);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  describe('two workers on one Redis', () => {
    let wiki: TestUpstream;
    let keyPrefix: string;
    let proc: ReturnType<typeof run>;
    let portalUrl: string;

    beforeAll(async () => {
      wiki = await startTestUpstream();
      keyPrefix = testKeyPrefix();
      const file = path.join(cwd, 'gatehouse.yaml');
      writeFileSync(
        file,
        JSON.stringify({
          upstreams: [{ id: 'wiki', kind: 'http', url: wiki.url }],
          service_clients: [{ client_id: ROBOT.id, secret_hash: await hashPassword(ROBOT.secret), upstreams: ['wiki'] }],
          store: { key_prefix: keyPrefix },
        }),
      );
      const port = await freePort();
      portalUrl = `http://127.0.0.1:${port}`;
      proc = run(
        ['--config', file, '--workers', '2'],
        { PORT: String(port), PUBLIC_URL: portalUrl, REDIS_URL: testRedisUrl(), GATEHOUSE_SECRET: SECRET, LOG_LEVEL: 'info' },
        cwd,
      );
      await proc.until((out) => out.split('Gatehouse listening on').length === 3);
    }, 60_000);
    afterAll(async () => {
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      await wiki.close();
      await deleteKeysWithPrefix(keyPrefix);
    });

    test('the steps of one grant (token, app requests, revocation) land on both workers, which act as one portal', async () => {
      const basic = `Basic ${Buffer.from(`${ROBOT.id}:${ROBOT.secret}`).toString('base64')}`;
      const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
      const issued = await request(`${portalUrl}/token`, {
        method: 'POST',
        headers: form,
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${portalUrl}/apps/wiki` }).toString(),
      });
      expect(issued.status).toBe(200);
      const token = (JSON.parse(issued.text) as { access_token: string }).access_token;

      const bearer = { authorization: `Bearer ${token}` };
      for (let i = 0; i < 6; i++) {
        const answer = await request(`${portalUrl}/apps/wiki/echo`, { headers: bearer });
        expect(answer.status).toBe(200);
        expect((JSON.parse(answer.text) as Echo).headers['gatehouse-assertion']).toBeDefined();
      }
      expect(
        (await request(`${portalUrl}/revoke`, { method: 'POST', headers: form, body: new URLSearchParams({ token }).toString() })).status,
      ).toBe(200);
      // Revoked on one worker, refused by every worker from then on.
      for (let i = 0; i < 4; i++) {
        const refused = await request(`${portalUrl}/apps/wiki/echo`, { headers: bearer });
        expect(refused.status).toBe(401);
        expect(refused.headers['www-authenticate']).toContain('error="invalid_token"');
      }

      // Each request's log line names the worker that served it (written when its response finished).
      const servedLines = () => logLines(proc.output().stdout).filter((line) => line.msg === 'request' && line.path === '/apps/wiki/echo');
      await proc.until(() => servedLines().length === 10);
      const served = servedLines();
      expect(new Set(served.map((line) => line.pid)).size).toBe(2);
      expect(new Set(served.slice(6).map((line) => line.pid)).size).toBe(2);
    }, 60_000);
  });
});
