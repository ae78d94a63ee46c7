import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent } from './helpers/agent.js';
import { until } from './helpers/mcp-wire.js';
import { openConnection, rawRequest } from './helpers/raw-http.js';
import { freePort } from './helpers/redis-server.js';

const MAIN = path.resolve('dist/portal/main.js');

/** Runs `npm start`'s entry point as a real process; resolves when it exits or `until` matches stdout. */
function run(args: string[], env: NodeJS.ProcessEnv, until?: RegExp, cwd = tmpdir()) {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const matched = until
    ? new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => until.test(stdout) && resolve());
        void exited.then(() => reject(new Error(`exited before ${until}: ${stderr}`)));
      })
    : exited.then(() => undefined);
  return { child, exited, matched, output: () => ({ stdout, stderr }) };
}

describe('gatehouse start', () => {
  test('with no config runs the demo on the memory store, serves /healthz, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const cwd = mkdtempSync(path.join(tmpdir(), 'gh-start-'));
    const proc = run([], { PORT: String(port) }, /Gatehouse listening on/, cwd);
    try {
      await proc.matched;
      const { stdout } = proc.output();
      expect(stdout).toContain('running the built-in demo');
      expect(stdout).toContain('state lives in memory');
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });

  test('the demo serves a newcomer end to end: an MCP client signs in as demo and uses the demo upstreams', async () => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const proc = run([], { PORT: String(port), GATEHOUSE_DEMO_PASSWORD: 'demo-password-for-tests' }, /Gatehouse listening on/, mkdtempSync(path.join(tmpdir(), 'gh-start-')));
    try {
      await proc.matched;
      expect(proc.output().stdout).toContain('password from GATEHOUSE_DEMO_PASSWORD');
      expect(proc.output().stdout).not.toContain('demo-password-for-tests');
      const agent = await connectAgent(issuer, { username: 'demo', password: 'demo-password-for-tests' });
      try {
        const names = (await agent.client.listTools()).tools.map((t) => t.name);
        expect(names).toEqual(expect.arrayContaining(['demo__echo', 'demo__whoami', 'handbook__fetch']));
        const whoami = (await agent.client.callTool({ name: 'demo__whoami', arguments: {} })) as CallToolResult;
        expect(JSON.stringify(whoami.content)).toContain('local:demo');
        const page = (await agent.client.callTool({ name: 'handbook__fetch', arguments: { path: '/' } })) as CallToolResult;
        expect((page.content[0] as { text: string }).text).toMatch(/^# /m);
      } finally {
        await agent.client.close();
      }
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });

  test('http limits from the config file: a silent connection is closed, one past max_connections is refused and logged once', async () => {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-start-'));
    const file = path.join(dir, 'limits.yaml');
    writeFileSync(file, 'http: { max_connections: 2, headers_timeout: 1s, keep_alive_timeout: 30s }\n');
    const proc = run(['--config', file], { PORT: String(port), GATEHOUSE_SECRET: 'x'.repeat(32) }, /Gatehouse listening on/);
    try {
      await proc.matched;
      const silent = await openConnection(port);
      await until(() => silent.closed(), 200);
      expect(silent.closed()).toBe(true);

      const request = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
      const held = [await openConnection(port, request), await openConnection(port, request)];
      for (const connection of held) await connection.next('"status":"ok"');
      for (let i = 0; i < 3; i++) expect(await rawRequest(port, request)).toEqual({ status: 0, text: '' });
      await until(() => /connection refused: http.max_connections/.test(proc.output().stdout));
      expect(proc.output().stdout.match(/connection refused: http.max_connections/g)).toHaveLength(1);
      for (const connection of held) connection.socket.destroy();
    } finally {
      proc.child.kill('SIGTERM');
    }
    expect(await proc.exited).toBe(0);
  });

  test('a bad config file stops start-up with one line naming the key, exit code 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-start-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'upstreams:\n  - { id: Bad_Id, kind: http, url: "http://127.0.0.1:4000" }\n');
    const proc = run(['--config', file], {});
    expect(await proc.exited).toBe(2);
    expect(proc.output().stderr).toBe('config: upstreams[0].id: must match ^[a-z0-9][a-z0-9-]{0,30}$\n');
  });

  test('an unreachable REDIS_URL fails start-up after a bounded retry with a clear line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-start-'));
    const file = path.join(dir, 'gatehouse.yaml');
    writeFileSync(file, 'store: { connect_timeout: 300ms }\n');
    const port = await freePort();
    const proc = run(['--config', file], { REDIS_URL: `redis://:pw-in-url@127.0.0.1:${port}`, GATEHOUSE_SECRET: 's'.repeat(32) });
    expect(await proc.exited).toBe(1);
    const { stderr } = proc.output();
    expect(stderr).toMatch(new RegExp(`^store: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
    expect(stderr).not.toContain('pw-in-url');
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
