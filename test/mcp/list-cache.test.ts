import { connectAgent, connectModernAgent, type Agent, type ModernAgent } from '../helpers/agent.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { until } from '../helpers/mcp-wire.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * Upstream lists served from the portal's cache while the upstream says they are fresh (MCP
 * 2026-07-28 `ttlMs`), shared between people only when it says `public`, dropped when it
 * announces a change; the aggregate's own `ttlMs` is never longer than its upstreams'.
 */
describe('the list cache, against 2026 upstreams with cache hints', () => {
  let shared: ModernMcpServer;
  let personal: ModernMcpServer;
  let portal: TestPortal;
  let alice: ModernAgent;
  let bob: ModernAgent;
  let legacyAlice: Agent;

  beforeAll(async () => {
    shared = await startModernMcpServer({ toolsCacheHint: { ttlMs: 60_000, cacheScope: 'public' } });
    personal = await startModernMcpServer({ toolsCacheHint: { ttlMs: 30_000, cacheScope: 'private' } });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'shared', kind: 'mcp', url: shared.url },
          { id: 'personal', kind: 'mcp', url: personal.url },
        ],
      },
    });
    alice = await connectModernAgent(portal.url, ALICE);
    bob = await connectModernAgent(portal.url, BOB);
    legacyAlice = await connectAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await alice?.client.close();
    await bob?.client.close();
    await legacyAlice?.client.close();
    await portal?.close();
    await personal?.close();
    await shared?.close();
  });

  const listings = (server: ModernMcpServer) => server.requests.filter((r) => r.body?.method === 'tools/list').length;
  // The agent's own SDK client caches too: ask past it.
  const listTools = (agent: ModernAgent) => agent.client.listTools(undefined, { cacheMode: 'bypass' });

  test('a fresh page is served from the cache; a public one to everyone, a private one per person', async () => {
    const first = await listTools(alice);
    expect(first.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['shared__echo', 'personal__echo']));
    const [sharedAsked, personalAsked] = [listings(shared), listings(personal)];
    expect(sharedAsked).toBeGreaterThanOrEqual(1);
    await listTools(alice);
    expect([listings(shared), listings(personal)]).toEqual([sharedAsked, personalAsked]);
    // Bob gets the public page from the cache; the private one is asked for him.
    const forBob = await listTools(bob);
    expect(forBob.tools.map((t) => t.name)).toEqual(first.tools.map((t) => t.name));
    expect([listings(shared), listings(personal)]).toEqual([sharedAsked, personalAsked + 1]);
  });

  test("the aggregate's ttlMs is no longer than its upstreams' and its scope is private", async () => {
    const raw = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/list',
        authorization: `Bearer ${alice.token}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    const { result } = (await raw.json()) as { result: { ttlMs: number; cacheScope: string } };
    expect(result.cacheScope).toBe('private');
    expect(result.ttlMs).toBeGreaterThan(0);
    expect(result.ttlMs).toBeLessThanOrEqual(30_000);
  });

  test('a 2025 agent is served from the same cache and sees no cache fields', async () => {
    const before = listings(shared);
    const result = await legacyAlice.client.listTools();
    expect(result.tools.map((t) => t.name)).toContain('shared__echo');
    expect(result).not.toHaveProperty('ttlMs');
    expect(listings(shared)).toBe(before);
  });

  test("an upstream's tools/list_changed drops its cached pages", async () => {
    const subscription = await alice.client.listen({ toolsListChanged: true });
    try {
      // Listened for upstream before the agent's listen was acknowledged.
      expect(shared.requests.some((r) => r.body?.method === 'subscriptions/listen')).toBe(true);
      const before = listings(shared);
      await alice.client.callTool({ name: 'shared__announce', arguments: {} });
      // The change reaches the portal on its upstream listen stream; the next listing asks again.
      await until(() => {
        void listTools(alice);
        return listings(shared) > before;
      });
    } finally {
      await subscription.close();
    }
  });
});
