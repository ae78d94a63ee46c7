import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent } from './helpers/agent.js';
import { until } from './helpers/mcp-wire.js';
import { openConnection, rawRequest } from './helpers/raw-http.js';
import { startPortalProcess } from './helpers/portal-process.js';
import { freePort } from './helpers/redis-server.js';

/** Runs `npm start`'s entry point as a real process; `matched` resolves when it exits or `until` matches stdout. */
function run(args: string[], env: NodeJS.ProcessEnv, until?: RegExp, cwd = tmpdir()) {
  const proc = startPortalProcess(args, env, cwd);
  return { ...proc, matched: until ? proc.until((out) => until.test(out)) : proc.exited.then(() => undefined) };
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
    const proc = run(
      [],
      { PORT: String(port), GATEHOUSE_DEMO_PASSWORD: 'demo-password-for-tests' },
      /Demo account/,
      mkdtempSync(path.join(tmpdir(), 'gh-start-')),
    );
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
    expect(proc.output().stderr).toBe(`config: ${file}: upstreams[0].id: must match ^[a-z0-9][a-z0-9-]{0,30}$\n`);
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

  describe('the first hour: one line that says what to do, and the right exit code', () => {
    const CLI = path.resolve('dist/portal/cli.js');
    function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: mkdtempSync(path.join(tmpdir(), 'gh-cli-')),
        env: { PATH: process.env.PATH, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
        child.once('exit', (code) => resolve({ code, stdout, stderr })),
      );
    }

    test('--help, -h and help print the usage and exit 0 (they never start the demo)', async () => {
      for (const args of [['--help'], ['-h'], ['help']]) {
        const { code, stdout } = await cli(args);
        expect(code).toBe(0);
        expect(stdout).toMatch(/^usage: gatehouse <command>/);
      }
      const start = await cli(['start', '--help']);
      expect(start).toMatchObject({ code: 0, stdout: expect.stringMatching(/^usage: gatehouse start \[--config PATH\]/) });
    });

    test('a mistyped option or command exits 2 with a suggestion', async () => {
      const typo = await cli(['--confg', 'x.yaml']);
      expect(typo.code).toBe(2);
      expect(typo.stderr.split('\n')[0]).toBe('gatehouse start: unknown option "--confg" (did you mean "--config"?)');
      const command = await cli(['strat']);
      expect(command.code).toBe(2);
      expect(command.stderr.split('\n')[0]).toBe('gatehouse: unknown command "strat" (did you mean "start"?)');
    });

    test('a port in use is one line and exit 1', async () => {
      const taken = http.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = (taken.address() as AddressInfo).port;
      try {
        const proc = run([], { PORT: String(port) });
        expect(await proc.exited).toBe(1);
        expect(proc.output().stderr).toBe(`port ${port} is in use: stop the other process or set PORT\n`);
      } finally {
        await new Promise<void>((resolve) => taken.close(() => resolve()));
      }
    });

    test('REDIS_URL naming a database the server lacks, or a port that is not Redis, fails start-up naming it', async () => {
      const redis = new URL(process.env.GATEHOUSE_TEST_REDIS_URL!);
      const missing = run([], { PORT: String(await freePort()), REDIS_URL: `redis://${redis.host}/99`, GATEHOUSE_SECRET: 's'.repeat(32) });
      expect(await missing.exited).toBe(1);
      expect(missing.output().stderr).toMatch(/^store: Redis has no database 99 \(REDIS_URL names it; .*\)\n$/);

      const web = http.createServer((_req, res) => res.end('hello'));
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
      try {
        const notRedis = run([], {
          PORT: String(await freePort()),
          REDIS_URL: `redis://127.0.0.1:${(web.address() as AddressInfo).port}`,
          GATEHOUSE_SECRET: 's'.repeat(32),
        });
        expect(await notRedis.exited).toBe(1);
        expect(notRedis.output().stderr).toBe(`store: redis://127.0.0.1:${(web.address() as AddressInfo).port} is not a Redis server\n`);
      } finally {
        await new Promise<void>((resolve) => web.close(() => resolve()));
      }
    });

    test("the start-up log names where people and agents go, on the issuer's host; the demo password comes once the portal listens", async () => {
      const port = await freePort();
      const proc = run([], { PORT: String(port) }, /Demo account/, mkdtempSync(path.join(tmpdir(), 'gh-start-')));
      try {
        await proc.matched;
        const { stdout } = proc.output();
        expect(stdout).toContain(`people sign in at http://localhost:${port}/, agents connect to http://localhost:${port}/mcp`);
        expect(stdout.indexOf('Gatehouse listening on')).toBeLessThan(stdout.indexOf('Demo account'));
      } finally {
        proc.child.kill('SIGTERM');
      }
      expect(await proc.exited).toBe(0);
    });
  });
});
