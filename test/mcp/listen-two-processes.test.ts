import type { McpSubscription, SubscriptionFilter } from '@modelcontextprotocol/client';
import { authorizedToken, connectModernAgent, type ModernAgent } from '../helpers/agent.js';
import { startEverythingServer, type ChildServer } from '../helpers/child-server.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { toolText, until } from '../helpers/mcp-wire.js';
import { ALICE, testAccounts } from '../helpers/portal.js';
import { startTwoPortals, type TwoPortals } from '../helpers/two-portals.js';

/** What a listening agent heard: the params of each change notification, by method. */
interface Heard {
  toolsChanged: Record<string, unknown>[];
  resourcesUpdated: { uri: string; _meta?: Record<string, unknown> }[];
}

/** A 2026 agent at each process, both with one grant (one stateless session), and what the one at A hears. */
interface AgentsAtBoth {
  atA: ModernAgent;
  atB: ModernAgent;
  heard: Heard;
  listen(filter: SubscriptionFilter): Promise<McpSubscription>;
  close(): Promise<void>;
}

/**
 * `subscriptions/listen` on `/mcp` behind two portal processes on one Redis: a 2026 agent (the v2
 * SDK client) listens at process A while its calls go to process B. Changes of a 2026 upstream
 * (the v2 SDK server) and of 2025 upstreams (an SDK server of the session protocol and
 * `server-everything`) reach the stream at A whether B caused them or B is the process that
 * heard them from the upstream. Each test has a grant of its own, so its upstream sessions are its own.
 */
describe('subscriptions/listen on /mcp across two portal processes on one Redis', () => {
  let modern: ModernMcpServer;
  let recorder: RecordingServer;
  let everything: ChildServer & { url: string };
  let portals: TwoPortals;

  beforeAll(async () => {
    modern = await startModernMcpServer();
    recorder = await startRecordingMcpServer();
    everything = await startEverythingServer();
    portals = await startTwoPortals({
      login: { accounts: await testAccounts() },
      upstreams: [
        { id: 'modern', kind: 'mcp', url: modern.url },
        // Tools added at runtime are listed (flagged), not held for an administrator.
        { id: 'recorder', kind: 'mcp', url: recorder.url, tools: { pinning: 'warn' } },
        { id: 'everything', kind: 'mcp', url: everything.url, credentials: { type: 'none' } },
      ],
    });
  });
  afterAll(async () => {
    await portals?.close();
    await everything?.close();
    await recorder?.close();
    await modern?.close();
  });

  /** A fresh grant for ALICE, used by an agent at each process. */
  async function agentsAtBoth(): Promise<AgentsAtBoth> {
    const token = await authorizedToken(portals.first.url, ALICE);
    const heard: Heard = { toolsChanged: [], resourcesUpdated: [] };
    const atA = await connectModernAgent(portals.first.url, ALICE, {
      token,
      setup: (client) => {
        client.setNotificationHandler('notifications/tools/list_changed', async (n) => void heard.toolsChanged.push(n.params ?? {}));
        client.setNotificationHandler('notifications/resources/updated', async (n) => void heard.resourcesUpdated.push(n.params));
      },
    });
    const atB = await connectModernAgent(portals.second.url, ALICE, { token });
    const subscriptions: McpSubscription[] = [];
    return {
      atA,
      atB,
      heard,
      async listen(filter) {
        const subscription = await atA.client.listen(filter);
        subscriptions.push(subscription);
        return subscription;
      },
      async close() {
        for (const subscription of subscriptions) await subscription.close();
        await atA.client.close();
        await atB.client.close();
      },
    };
  }

  /** The upstream's `subscriptions/listen` requests that ask for `key` (the portal listening on an agent's behalf). */
  const modernListens = (key: keyof SubscriptionFilter) =>
    modern.requests.filter((r) => {
      const filter = (r.body?.params as { notifications?: SubscriptionFilter } | undefined)?.notifications;
      return r.body?.method === 'subscriptions/listen' && filter?.[key] !== undefined;
    }).length;

  test("a 2026 upstream's tools/list_changed, caused through process B, reaches the listen stream at process A", async () => {
    const agents = await agentsAtBoth();
    try {
      const asked = modernListens('toolsListChanged');
      const subscription = await agents.listen({ toolsListChanged: true });
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
      // Process A listens upstream for the stream it holds, before it acknowledges the agent's listen.
      expect(modernListens('toolsListChanged')).toBeGreaterThan(asked);
      expect(toolText(await agents.atB.client.callTool({ name: 'modern__announce', arguments: {} }))).toBe('announced');
      await until(() => agents.heard.toolsChanged.length > 0);
      expect(agents.heard.toolsChanged[0]).toMatchObject({ _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() } });
    } finally {
      await agents.close();
    }
  });

  test("a 2026 upstream's resources/updated, caused through process B, reaches the stream at A under the aggregate's URI", async () => {
    const agents = await agentsAtBoth();
    try {
      const { resources } = await agents.atA.client.listResources();
      const uri = 'gatehouse+modern+modern://note';
      expect(resources.map((r) => r.uri)).toContain(uri);
      const asked = modernListens('resourceSubscriptions');
      const subscription = await agents.listen({ resourceSubscriptions: [uri] });
      expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: [uri] });
      // The upstream is asked for its own URI, before the agent's listen is acknowledged.
      expect(modernListens('resourceSubscriptions')).toBeGreaterThan(asked);
      const upstreamListen = modern.requests.filter((r) => r.body?.method === 'subscriptions/listen').at(-1)!;
      expect(upstreamListen.body!.params!.notifications).toEqual({ resourceSubscriptions: ['modern://note'] });
      expect(toolText(await agents.atB.client.callTool({ name: 'modern__touch', arguments: {} }))).toBe('touched');
      await until(() => agents.heard.resourcesUpdated.length > 0);
      expect(agents.heard.resourcesUpdated[0]).toMatchObject({
        uri,
        _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() },
      });
    } finally {
      await agents.close();
    }
  });

  test("a 2025 upstream's tools/list_changed that process B hears (it holds the upstream session's event stream) reaches the stream at A", async () => {
    const agents = await agentsAtBoth();
    try {
      // B opens the grant's upstream session, and with it the session's one GET stream.
      const before = recorder.requests.length;
      expect(toolText(await agents.atB.client.callTool({ name: 'recorder__echo', arguments: { message: 'first' } }))).toBe('first');
      const opened = recorder.requests.slice(before);
      const sessionId = opened.find((r) => r.headers['mcp-session-id'])?.headers['mcp-session-id'];
      expect(sessionId).toEqual(expect.any(String));
      await until(() => recorder.requests.some((r) => r.method === 'GET' && r.headers['mcp-session-id'] === sessionId));
      // A re-attaches to that session for its listener; the upstream keeps B's stream (one per session).
      const subscription = await agents.listen({ toolsListChanged: true });
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
      // The change is caused at A; the upstream announces it on B's stream.
      expect(toolText(await agents.atA.client.callTool({ name: 'recorder__grow', arguments: {} }))).toMatch(/^grown-/);
      await until(() => agents.heard.toolsChanged.length > 0);
      expect(agents.heard.toolsChanged[0]).toMatchObject({ _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() } });
      // Both processes served this grant in that one upstream session.
      const used = new Set(
        recorder.requests
          .slice(before)
          .map((r) => r.headers['mcp-session-id'])
          .filter(Boolean),
      );
      expect(used).toEqual(new Set([sessionId]));
    } finally {
      await agents.close();
    }
  });

  test("a 2025 upstream's resources/updated for a subscribed resource reaches the stream at A under the aggregate's URI, from process B", async () => {
    const agents = await agentsAtBoth();
    try {
      const { resources } = await agents.atB.client.listResources();
      const resource = resources.find((r) => r.uri.startsWith('gatehouse+everything+'))!;
      expect(resource).toBeDefined();
      // B opens the grant's session at `server-everything` (and its GET stream) before A listens.
      expect(toolText(await agents.atB.client.callTool({ name: 'everything__echo', arguments: { message: 'x' } }))).toBe('Echo: x');
      const subscription = await agents.listen({ resourceSubscriptions: [resource.uri] });
      expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: [resource.uri] });
      // server-everything then announces its subscribed resources at once and every 5 s, on the session's stream.
      expect(toolText(await agents.atB.client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} }))).toMatch(
        /^Started/,
      );
      await until(() => agents.heard.resourcesUpdated.length > 0, 600);
      expect(agents.heard.resourcesUpdated[0]).toMatchObject({
        uri: resource.uri,
        _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() },
      });
    } finally {
      await agents.close();
    }
  });
});
