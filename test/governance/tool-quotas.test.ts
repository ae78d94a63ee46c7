import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { hashPassword } from '../../portal/crypto/password.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { toolText } from '../helpers/mcp-wire.js';
import { basicAuth, formPost } from '../helpers/oauth-flow.js';
import { startMutableToolsServer, type MutableToolsServer } from '../helpers/mutable-tools-server.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, testKeyPrefix } from '../helpers/redis.js';

const ROBOTS = [
  { id: 'nightly', secret: 'nightly-secret-0123456789' },
  { id: 'hourly', secret: 'hourly-secret-0123456789' },
];

/**
 * Quotas and per-tool rate limits (`upstreams[].tools.limits`): counted per person (and per
 * service client) across portal
 * processes on one Redis, on the aggregate and the relay alike; a call past a limit is a tool
 * error saying which limit and when to retry, audited and counted, and never reaches the upstream.
 */
describe('tool quotas across two portal processes on one Redis', () => {
  let upstream: MutableToolsServer;
  let first: TestPortal;
  let second: TestPortal;
  let alice: Agent;
  let aliceRelayed: Agent;
  let bob: Agent;
  const robots: Array<Pick<Agent, 'client'>> = [];
  const cleanups: Array<() => Promise<void>> = [];

  // Each request of an agent goes to the other process.
  let turn = 0;
  const alternate: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    return fetch(`${(turn++ % 2 === 0 ? first : second).url}${url.pathname}${url.search}`, init);
  };

  beforeAll(async () => {
    upstream = await startMutableToolsServer({ search: 'Searches.', read: 'Reads.' });
    const keyPrefix = testKeyPrefix();
    const [a, b] = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(a.cleanup, b.cleanup);
    const limits = { search: { per_minute: 3 }, '*': { per_day: 5 } };
    const document = {
      login: { accounts: await testAccounts() },
      upstreams: [{ id: 'wiki', kind: 'mcp', url: upstream.url, tools: { limits } }],
      service_clients: await Promise.all(
        ROBOTS.map(async ({ id, secret }) => ({ client_id: id, secret_hash: await hashPassword(secret), upstreams: ['wiki'] })),
      ),
    };
    first = await startTestPortal({ document, store: a.store });
    second = await startTestPortal({ document, store: b.store, env: { PUBLIC_URL: first.url } });
    alice = await connectAgent(first.url, ALICE, { fetch: alternate });
    aliceRelayed = await connectAgent(first.url, ALICE, { path: '/mcp/wiki', fetch: alternate });
    bob = await connectAgent(first.url, BOB, { fetch: alternate });
  });
  afterAll(async () => {
    for (const agent of [alice, aliceRelayed, bob, ...robots]) await agent?.client.close();
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await upstream?.close();
  });

  /** A service client (client_credentials) connected to the aggregate through both processes. */
  async function connectServiceClient(robot: { id: string; secret: string }): Promise<Pick<Agent, 'client'>> {
    const response = await formPost(first.url, { grant_type: 'client_credentials' }, { authorization: basicAuth(robot.id, robot.secret) });
    expect(response.status).toBe(200);
    const { access_token } = (await response.json()) as { access_token: string };
    const client = new Client({ name: robot.id, version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${first.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${access_token}` } },
        fetch: alternate,
      }),
    );
    robots.push({ client });
    return { client };
  }

  const call = async (agent: Pick<Agent, 'client'>, name: string) =>
    (await agent.client.callTool({ name, arguments: {} })) as CallToolResult;
  const searches = () => upstream.calls.filter((name) => name === 'search').length;

  test("a tool's per-minute limit counts one person's calls through both processes and both endpoints", async () => {
    expect(toolText(await call(alice, 'wiki__search'))).toBe('search ran');
    expect(toolText(await call(aliceRelayed, 'search'))).toBe('search ran');
    expect(toolText(await call(alice, 'wiki__search'))).toBe('search ran');
    for (const [agent, name] of [
      [alice, 'wiki__search'],
      [aliceRelayed, 'search'],
    ] as const) {
      const refused = await call(agent, name);
      expect(refused.isError).toBe(true);
      expect(toolText(refused)).toMatch(/at most 3 calls per minute to tool "search" of upstream "wiki" for you\. Retry in \d+ seconds\./);
    }
    expect(searches()).toBe(3);
    // Another person counts on their own.
    expect(toolText(await call(bob, 'wiki__search'))).toBe('search ran');
    expect(searches()).toBe(4);
  });

  test('"*" counts every tool of the upstream together', async () => {
    // Alice's 3 searches count; the refused ones stopped at the search limit. Two reads make 5.
    expect(toolText(await call(alice, 'wiki__read'))).toBe('read ran');
    expect(toolText(await call(aliceRelayed, 'read'))).toBe('read ran');
    const refused = await call(alice, 'wiki__read');
    expect(refused.isError).toBe(true);
    expect(toolText(refused)).toMatch(/at most 5 calls per day to the tools of upstream "wiki" for you/);
    expect(upstream.calls.filter((name) => name === 'read')).toHaveLength(2);
  });

  test('each refusal is audited and counted in /metrics', async () => {
    const denials = [...first.logs.lines, ...second.logs.lines].filter((l) => l.event === 'policy_denied' && l.rule === 'quota');
    expect(denials.length).toBe(3);
    expect(denials.map((l) => l.limit)).toEqual(expect.arrayContaining(['search per_minute 3', '* per_day 5']));
    const metrics = (await (await fetch(`${first.url}/metrics`)).text()) + (await (await fetch(`${second.url}/metrics`)).text());
    const counted = [...metrics.matchAll(/^gatehouse_tool_quota_refusals_total\{upstream="wiki",tool="(\w+)"\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[2]),
      0,
    );
    expect(counted).toBe(3);
  });

  test('a service client counts on its own, apart from people and from other service clients', async () => {
    const [nightly, hourly] = [await connectServiceClient(ROBOTS[0]!), await connectServiceClient(ROBOTS[1]!)];
    const before = searches();
    // Alice has used up her searches; the service client has not.
    for (let i = 0; i < 3; i++) expect(toolText(await call(nightly, 'wiki__search'))).toBe('search ran');
    const refused = await call(nightly, 'wiki__search');
    expect(refused.isError).toBe(true);
    expect(toolText(refused)).toMatch(/at most 3 calls per minute to tool "search" of upstream "wiki"/);
    expect(searches()).toBe(before + 3);
    expect(toolText(await call(hourly, 'wiki__search'))).toBe('search ran');
    expect(searches()).toBe(before + 4);
    const denials = [...first.logs.lines, ...second.logs.lines].filter(
      (l) => l.event === 'policy_denied' && l.rule === 'quota' && l.person === 'service:nightly',
    );
    expect(denials).toHaveLength(1);
  });
});
