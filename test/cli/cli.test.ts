import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { adminDocument, adminToken, eventually } from '../helpers/admin.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { mcpInitialize } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, TEST_SECRET, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, subscriberCount, testKeyPrefix } from '../helpers/redis.js';

const CLI = 'dist/portal/cli.js';

/** Runs the built `gatehouse` CLI (run `npm run build` first) and resolves its exit code and output. */
function gatehouse(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv;
    execFile(process.execPath, [CLI, ...args], { env: clean, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the gatehouse CLI against two running portals on Redis', () => {
  let upstream: RecordingServer;
  let first: TestPortal;
  let second: TestPortal;
  let env: Record<string, string>;
  let dir: string;
  const keyPrefix = testKeyPrefix();
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
    const stores = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(...stores.map((s) => s.cleanup));
    const document = await adminDocument({
      audit: { file: join(dir, 'audit.jsonl') },
      upstreams: [{ id: 'configured', kind: 'mcp', url: upstream.url }],
    });
    first = await startTestPortal({ document, store: stores[0]!.store });
    second = await startTestPortal({ document, store: stores[1]!.store, env: { PUBLIC_URL: first.url } });
    env = { GATEHOUSE_URL: second.url, GATEHOUSE_TOKEN: await adminToken(first.url) };
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('apps list, add (flags and file), remove; --json; the other process serves what was added', async () => {
    const list = await gatehouse(['apps', 'list', '--json'], env);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: 'configured', source: 'config' })]);

    const add = await gatehouse(['apps', 'add', '--id', 'echoes', '--kind', 'mcp', '--url', upstream.url, '--title', 'Echoes'], env);
    expect(add).toMatchObject({ code: 0, stderr: '' });
    expect(add.stdout).toContain('added upstream "echoes"');
    const file = join(dir, 'wiki.yaml');
    writeFileSync(file, `id: wiki\nkind: http\nurl: ${upstream.url}\nmarkdown: true\n`);
    expect((await gatehouse(['apps', 'add', '--file', file], env)).code).toBe(0);

    // The other process learns of them through pub/sub (on a busy machine, not always at once).
    let seen = '';
    await eventually(
      async () => {
        const res = await fetch(`${first.url}/admin/api/v1/upstreams`, { headers: { authorization: `Bearer ${env.GATEHOUSE_TOKEN}` } });
        const text = await res.text();
        seen = `${res.status} ${text}`;
        const listed = res.ok ? (JSON.parse(text) as { upstreams: Array<{ id: string }> }) : { upstreams: [] };
        return ['echoes', 'wiki'].every((id) => listed.upstreams.some((u) => u.id === id)) ? true : undefined;
      },
      300,
      async () => `${seen}; ${await subscriberCount(`${keyPrefix}upstreams:changed`)} processes subscribed to upstream changes`,
    );
    const table = await gatehouse(['apps', 'list'], { ...env, GATEHOUSE_URL: first.url });
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+KIND\s+SOURCE\s+URL\s+TITLE$/);
    expect(table.stdout).toMatch(/echoes\s+mcp\s+admin/);
    expect(table.stdout).toMatch(/wiki\s+http\s+admin/);

    // Added through one process, used through the other.
    const agent = await connectAgent(first.url, ALICE);
    const result = (await agent.client.callTool({ name: 'echoes__echo', arguments: { message: 'via the CLI' } })) as CallToolResult;
    expect(result.content[0]).toMatchObject({ text: 'via the CLI' });
    await agent.client.close();

    expect(await gatehouse(['apps', 'remove', 'wiki'], env)).toMatchObject({ code: 0, stdout: 'removed upstream "wiki"\n' });
  }, 90_000); // six CLI processes: each starts Node afresh, slow on a busy machine

  test('bad input: clear errors and exit codes', async () => {
    const invalid = await gatehouse(['apps', 'add', '--id', 'Bad_Id', '--kind', 'mcp', '--url', upstream.url], env);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^gatehouse apps: invalid_upstream: id: must match/);
    const exists = await gatehouse(['apps', 'add', '--id', 'configured', '--kind', 'mcp', '--url', upstream.url], env);
    expect(exists.code).toBe(1);
    expect(exists.stderr).toContain('already exists');
    expect((await gatehouse(['apps', 'remove', 'configured'], env)).stderr).toContain('read_only');
    expect((await gatehouse(['apps', 'remove', 'nothing'], env)).code).toBe(4);

    const noUrl = await gatehouse(['apps', 'list'], {});
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('set GATEHOUSE_URL');
    expect((await gatehouse(['apps', 'list'], { GATEHOUSE_URL: second.url })).stderr).toContain('set GATEHOUSE_TOKEN');
    const badToken = await gatehouse(['apps', 'list'], { ...env, GATEHOUSE_TOKEN: 'nope' });
    expect(badToken.code).toBe(3);
    expect(badToken.stderr).toContain('invalid_token');
    const agent = await connectAgent(first.url, ALICE);
    const agentToken = await gatehouse(['apps', 'list'], { ...env, GATEHOUSE_TOKEN: agent.accessToken() });
    expect(agentToken.code).toBe(3);
    expect(agentToken.stderr).toContain('insufficient_scope');
    await agent.client.close();

    expect((await gatehouse(['apps', 'list', '--colour', 'red'], env)).code).toBe(2);
    expect((await gatehouse(['apps', 'frobnicate'], env)).code).toBe(2);
    expect((await gatehouse(['grants', 'list'], env)).stderr).toContain('exactly one of --person or --client');
    const down = await gatehouse(['apps', 'list'], { ...env, GATEHOUSE_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach');
    // Thirteen CLI processes, each a Node start-up: room for a busy machine.
  }, 120_000);

  test('grants list and revoke: the agent is cut off at once', async () => {
    const agent: Agent = await connectAgent(first.url, ALICE);
    const clientId = agent.provider.clientInformation()!.client_id;
    const listed = await gatehouse(['grants', 'list', '--client', clientId, '--json'], env);
    expect(listed.code).toBe(0);
    const grants = JSON.parse(listed.stdout) as Array<{ id: string; person: string }>;
    expect(grants).toEqual([expect.objectContaining({ person: 'local:alice' })]);
    const table = await gatehouse(['grants', 'list', '--person', 'local:alice'], env);
    expect(table.stdout).toContain(grants[0]!.id);

    expect((await mcpInitialize(`${first.url}/mcp`, agent.accessToken())).status).toBe(200);
    expect((await gatehouse(['grants', 'revoke', grants[0]!.id], env)).code).toBe(0);
    expect((await mcpInitialize(`${first.url}/mcp`, agent.accessToken())).status).toBe(401);
    expect((await gatehouse(['grants', 'revoke', grants[0]!.id], env)).code).toBe(4);
    await agent.client.close().catch(() => {});
  });

  test('audit tail shows who did what; audit verify passes, and fails on an edited file', async () => {
    const agent = await connectAgent(first.url, ALICE);
    await agent.client.callTool({ name: 'configured__echo', arguments: { message: 'tail me' } });
    await agent.client.close();
    const calls = await eventually(async () => {
      const tail = await gatehouse(['audit', 'tail', '--event', 'mcp_tool_call', '--json', '--since', '10m'], env);
      const events = tail.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { upstream: string; person: string });
      return events.some((e) => e.upstream === 'configured') ? events : undefined;
    }, 20);
    expect(calls.find((e) => e.upstream === 'configured')).toMatchObject({ person: 'local:alice', client_name: 'SDK Test Agent' });
    const text = await gatehouse(['audit', 'tail', '--person', 'local:alice', '--limit', '3'], env);
    expect(text.code).toBe(0);
    expect(text.stdout.trim().split('\n')).toHaveLength(3);
    expect(text.stdout).toContain('local:alice');

    const verify = await gatehouse(['audit', 'verify'], env);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^audit log intact: \d+ event\(s\) in 2 chain\(s\) verified/);

    // The file sink (first process's chain): intact, then edited.
    await first.close().catch(() => {});
    const file = join(dir, 'audit.jsonl');
    const fileEnv = { GATEHOUSE_SECRET: TEST_SECRET };
    expect((await gatehouse(['audit', 'verify', '--file', file], fileEnv)).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const index = lines.findIndex((l) => l.includes('"mcp_tool_call"'));
    lines[index] = lines[index]!.replace('"local:alice"', '"local:bob"');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const tampered = await gatehouse(['audit', 'verify', '--file', file, '--json'], fileEnv);
    expect(tampered.code).toBe(1);
    const report = JSON.parse(tampered.stdout) as { ok: boolean; problems: Array<{ problem: string; at: string }> };
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ problem: 'hash_mismatch', at: `line ${index + 1}` }));
    expect((await gatehouse(['audit', 'verify', '--file', file], {})).code).toBe(2);
  });
});
