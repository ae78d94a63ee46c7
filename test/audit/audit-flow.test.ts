import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AUDIT_STREAM } from '../../portal/audit/sinks.js';
import type { AuditEvent } from '../../portal/audit/event.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { adminDocument, adminFetch, adminToken, eventually } from '../helpers/admin.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, BOB, startTestPortal, type TestPortal } from '../helpers/portal.js';
import type { RedisStore } from '../../portal/store/index.js';
import { createTestRedisStore } from '../helpers/redis.js';

type Stored = AuditEvent & { id: string };

describe('audit events of a full agent flow, on Redis', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;
  let store: RedisStore;
  let cleanup: () => Promise<void>;
  let token: string;
  let agent: Agent;
  let dir: string;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    ({ store, cleanup } = await createTestRedisStore());
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'));
    const document = await adminDocument({
      audit: { file: join(dir, 'audit.jsonl') },
      upstreams: [
        { id: 'tools', kind: 'mcp', url: upstream.url, tools: { deny: ['grow'] } },
        { id: 'eng-only', kind: 'mcp', url: upstream.url, access: { groups: ['eng'] } },
      ],
    });
    portal = await startTestPortal({ document, store });
    token = await adminToken(portal.url);
    agent = await connectAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await agent?.client.close().catch(() => {});
    await portal?.close();
    await cleanup?.();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function events(query: string): Promise<Stored[]> {
    const res = await adminFetch(portal.url, `/audit?${query}`, { token });
    expect(res.status).toBe(200);
    return ((await res.json()) as { events: Stored[] }).events;
  }

  test('sign-in, consent, token and every MCP call are attributed to the person and the agent', async () => {
    const clientId = agent.provider.clientInformation()!.client_id;
    const result = (await agent.client.callTool({ name: 'tools__echo', arguments: { message: 'audited' } })) as CallToolResult;
    expect(result.content[0]).toMatchObject({ text: 'audited' });

    const mine = await eventually(async () => {
      const found = await events(`client=${encodeURIComponent(clientId)}`);
      return found.some((e) => e.event === 'mcp_tool_call') ? found : undefined;
    });
    const names = mine.map((e) => e.event);
    expect(names).toEqual(
      expect.arrayContaining(['client_registered', 'consent_granted', 'token_issued', 'mcp_session_started', 'mcp_tool_call']),
    );
    const call = mine.find((e) => e.event === 'mcp_tool_call')!;
    expect(call).toMatchObject({
      outcome: 'success',
      person: 'local:alice',
      person_name: 'Alice',
      client_id: clientId,
      client_name: 'SDK Test Agent',
      upstream: 'tools',
      source_ip: expect.stringMatching(/127\.0\.0\.1/),
      request_id: expect.any(String),
      details: { method: 'tools/call', tool: 'echo' },
    });
    expect(typeof call.latency_ms).toBe('number');
    // Arguments are not logged by default.
    expect(JSON.stringify(mine)).not.toContain('audited');
    for (const event of mine.filter((e) => e.event !== 'client_registered')) expect(event.person).toBe('local:alice');

    const logins = await events('event=login&person=local:alice');
    expect(logins.length).toBeGreaterThan(0);
  });

  test('a call denied by policy is recorded as policy_denied, with person and agent', async () => {
    await expect(agent.client.callTool({ name: 'tools__grow', arguments: {} })).rejects.toThrow(/unknown tool/);
    const denied = await eventually(async () => {
      const found = await events('event=policy_denied');
      return found.length ? found : undefined;
    });
    expect(denied[0]).toMatchObject({
      outcome: 'denied',
      person: 'local:alice',
      client_id: agent.provider.clientInformation()!.client_id,
      upstream: 'tools',
      details: { rule: 'tools', tool: 'grow' },
    });

    // Bob may not use eng-only: his agent's grant leaves it out, and asking for it is denied too.
    const bobs = await connectAgent(portal.url, BOB);
    const { tools } = await bobs.client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('eng-only__echo');
    await bobs.client.close();
    const failed = await events('event=login_failed');
    expect(failed.every((e) => e.outcome === 'failure')).toBe(true);
  });

  test('queries filter by person, client, upstream and time, and page with a cursor', async () => {
    const all = await events('limit=1000');
    expect(all.length).toBeGreaterThan(5);
    const pageOne = await adminFetch(portal.url, '/audit?limit=2', { token });
    const first = (await pageOne.json()) as { events: Stored[]; next_cursor: string };
    expect(first.events).toHaveLength(2);
    const second = (await (await adminFetch(portal.url, `/audit?limit=2&cursor=${first.next_cursor}`, { token })).json()) as {
      events: Stored[];
    };
    expect(second.events.map((e) => e.id)).toEqual(all.slice(2, 4).map((e) => e.id));
    expect((await events('upstream=tools')).every((e) => e.upstream === 'tools')).toBe(true);
    expect((await events('person=local:bob')).every((e) => e.person === 'local:bob')).toBe(true);
    expect(await events(`from=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    expect(await events('to=1000')).toEqual([]);
    expect((await adminFetch(portal.url, '/audit?limit=0', { token })).status).toBe(400);
    expect((await adminFetch(portal.url, '/audit?from=yesterday', { token })).status).toBe(400);
  });

  test('the file sink holds the same chained events', async () => {
    await portal.store.ping();
    const verify = (await (await adminFetch(portal.url, '/audit/verify', { token })).json()) as { ok: boolean; events: number };
    expect(verify.ok).toBe(true);
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(lines.length).toBe(verify.events);
    expect(lines.every((l, i) => i === 0 || l.prev === lines[i - 1]!.hash)).toBe(true);
  });

  test('verify detects an event edited in the store, and one removed', async () => {
    const entries = await store.readStream(AUDIT_STREAM);
    const target = entries.findIndex((e) => (JSON.parse(e.entry) as AuditEvent).event === 'mcp_tool_call');
    const edited = JSON.parse(entries[target]!.entry) as AuditEvent;
    edited.person = 'local:bob';
    // Rewrite the stream as a tamperer would: same events, one changed.
    await store.delete(AUDIT_STREAM);
    for (const [i, e] of entries.entries())
      await store.append(AUDIT_STREAM, i === target ? JSON.stringify(edited) : e.entry, { maxLength: 100_000 });
    const report = (await (await adminFetch(portal.url, '/audit/verify', { token })).json()) as {
      ok: boolean;
      problems: Array<{ problem: string; seq: number }>;
    };
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ problem: 'hash_mismatch', seq: edited.seq }));

    await store.delete(AUDIT_STREAM);
    for (const [i, e] of entries.entries()) if (i !== target) await store.append(AUDIT_STREAM, e.entry, { maxLength: 100_000 });
    const gap = (await (await adminFetch(portal.url, '/audit/verify', { token })).json()) as {
      ok: boolean;
      problems: Array<{ problem: string }>;
    };
    expect(gap.ok).toBe(false);
    expect(gap.problems.map((p) => p.problem)).toContain('gap');
  });
});
