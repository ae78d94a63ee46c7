import { connectModernAgent } from '../helpers/agent.js';
import { toolText, until } from '../helpers/mcp-wire.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * A `subscriptions/listen` is acknowledged once the subscription is established (MCP 2026-07-28):
 * the portal acknowledges an agent's listen only when the upstreams listen too. Upstreams slow to
 * set that up make the difference visible (a 2026 one holds each listen for 400 ms; a 2025 one
 * opens a session's event stream, which carries its changes, a second late): a change made
 * right after the acknowledgement reaches the agent.
 */
describe('an acknowledged listen already hears the upstreams', () => {
  let upstream: ModernMcpServer;
  let legacy: RecordingServer;
  let portal: TestPortal;

  beforeAll(async () => {
    upstream = await startModernMcpServer({ listenDelayMs: 400 });
    legacy = await startRecordingMcpServer({ eventStreamDelayMs: 1_000 });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'slow', kind: 'mcp', url: upstream.url },
          // Its `grow` adds a tool: listed, flagged, not held for an administrator.
          { id: 'late', kind: 'mcp', url: legacy.url, tools: { pinning: 'warn' } },
        ],
      },
    });
  });
  afterAll(async () => {
    await portal?.close();
    await legacy?.close();
    await upstream?.close();
  });

  test.each([
    ['/mcp', 'slow__announce', /^announced$/],
    ['/mcp/slow', 'announce', /^announced$/],
    ['/mcp', 'late__grow', /^grown-/],
    ['/mcp/late', 'grow', /^grown-/],
  ])('on %s, a tools/list_changed that %s causes right after the acknowledgement is heard', async (path, tool, answer) => {
    const heard: unknown[] = [];
    const agent = await connectModernAgent(portal.url, ALICE, {
      path,
      setup: (client) => client.setNotificationHandler('notifications/tools/list_changed', async (n) => void heard.push(n.params)),
    });
    // The tools are known (and pinned) before the agent listens: the change heard is the upstream's.
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain(tool);
    const subscription = await agent.client.listen({ toolsListChanged: true });
    try {
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
      expect(toolText(await agent.client.callTool({ name: tool, arguments: {} }))).toMatch(answer);
      await until(() => heard.length > 0);
      expect(heard[0]).toMatchObject({ _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() } });
    } finally {
      await subscription.close();
      await agent.client.close();
    }
  });
});
