import { CreateMessageRequestSchema, type CreateMessageRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpSubscription } from '@modelcontextprotocol/client';
import { authorizedToken, connectAgent, connectModernAgent, type ModernAgent } from '../helpers/agent.js';
import { startEverythingServer, type ChildServer } from '../helpers/child-server.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { toolText, until } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/** What a listening agent heard: the params of each change notification, by method. */
interface Heard {
  toolsChanged: Record<string, unknown>[];
  resourcesUpdated: { uri: string; _meta?: Record<string, unknown> }[];
}

/**
 * Era pairings the other suites leave out, with real peers: a 2026 agent's `subscriptions/listen`
 * on `/mcp/{id}` (the upstream's changes relayed as they are), a 2026 upstream asking a 2025
 * agent to sample (its `input_required` round becomes a request on the agent's stream), and a
 * 2026 agent's progress, resources and prompts on `/mcp/{id}` over a 2025 upstream. Upstreams:
 * a 2026-only v2 SDK server, a v1 SDK server of the session protocol, and `server-everything`.
 * Every test has its own agent and grant.
 */
describe('more era pairings through the portal', () => {
  let modern: ModernMcpServer;
  let recorder: RecordingServer;
  let everything: ChildServer & { url: string };
  let portal: TestPortal;

  beforeAll(async () => {
    modern = await startModernMcpServer();
    recorder = await startRecordingMcpServer();
    everything = await startEverythingServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'modern', kind: 'mcp', url: modern.url },
          // Tools added at runtime are listed (flagged), not held for an administrator.
          { id: 'recorder', kind: 'mcp', url: recorder.url, tools: { pinning: 'warn' } },
          { id: 'everything', kind: 'mcp', url: everything.url, credentials: { type: 'none' } },
        ],
      },
    });
  });
  afterAll(async () => {
    await portal?.close();
    await everything?.close();
    await recorder?.close();
    await modern?.close();
  });

  /** A 2026 agent on `path` with a grant of its own, and what it hears on its listen streams. */
  async function listeningAgent(path: string): Promise<ModernAgent & { heard: Heard }> {
    const heard: Heard = { toolsChanged: [], resourcesUpdated: [] };
    const agent = await connectModernAgent(portal.url, ALICE, {
      path,
      token: await authorizedToken(portal.url, ALICE, path),
      setup: (client) => {
        client.setNotificationHandler('notifications/tools/list_changed', async (n) => void heard.toolsChanged.push(n.params ?? {}));
        client.setNotificationHandler('notifications/resources/updated', async (n) => void heard.resourcesUpdated.push(n.params));
      },
    });
    return { ...agent, heard };
  }

  const tagged = { _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() } };

  describe('subscriptions/listen on /mcp/{id}', () => {
    test("a 2026 upstream's tools/list_changed and resources/updated reach the agent under the upstream's own URI", async () => {
      const agent = await listeningAgent('/mcp/modern');
      let subscription: McpSubscription | undefined;
      try {
        const asked = modern.requests.filter((r) => r.body?.method === 'subscriptions/listen').length;
        subscription = await agent.client.listen({ toolsListChanged: true, resourceSubscriptions: ['modern://note'] });
        expect(subscription.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: ['modern://note'] });
        // The portal listens upstream for the agent's stream, asking for the same, before the agent is told it listens.
        expect(modern.requests.filter((r) => r.body?.method === 'subscriptions/listen').length).toBeGreaterThan(asked);
        const upstreamListen = modern.requests.filter((r) => r.body?.method === 'subscriptions/listen').at(-1)!;
        expect(upstreamListen.body!.params!.notifications).toEqual({ toolsListChanged: true, resourceSubscriptions: ['modern://note'] });
        expect(toolText(await agent.client.callTool({ name: 'announce', arguments: {} }))).toBe('announced');
        expect(toolText(await agent.client.callTool({ name: 'touch', arguments: {} }))).toBe('touched');
        await until(() => agent.heard.toolsChanged.length > 0 && agent.heard.resourcesUpdated.length > 0);
        expect(agent.heard.toolsChanged[0]).toMatchObject(tagged);
        expect(agent.heard.resourcesUpdated[0]).toMatchObject({ uri: 'modern://note', ...tagged });
      } finally {
        await subscription?.close();
        await agent.client.close();
      }
    });

    test("a 2025 upstream's tools/list_changed (from its session's event stream) reaches the agent", async () => {
      const agent = await listeningAgent('/mcp/recorder');
      let subscription: McpSubscription | undefined;
      try {
        subscription = await agent.client.listen({ toolsListChanged: true });
        expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
        const grown = toolText(await agent.client.callTool({ name: 'grow', arguments: {} }));
        expect(grown).toMatch(/^grown-/);
        await until(() => agent.heard.toolsChanged.length > 0);
        expect(agent.heard.toolsChanged[0]).toMatchObject(tagged);
        // The change is real: the agent lists the new tool under the upstream's own name.
        expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain(grown);
      } finally {
        await subscription?.close();
        await agent.client.close();
      }
    });

    test("a 2025 upstream's resources/updated for a subscribed resource reaches the agent under the upstream's own URI", async () => {
      const agent = await listeningAgent('/mcp/everything');
      let subscription: McpSubscription | undefined;
      try {
        const { resources } = await agent.client.listResources();
        const uri = resources[0]!.uri;
        expect(uri).not.toMatch(/^gatehouse\+/);
        subscription = await agent.client.listen({ resourceSubscriptions: [uri] });
        expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: [uri] });
        // server-everything then announces its subscribed resources at once and every 5 s.
        expect(toolText(await agent.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} }))).toMatch(/^Started/);
        await until(() => agent.heard.resourcesUpdated.length > 0, 600);
        expect(agent.heard.resourcesUpdated[0]).toMatchObject({ uri, ...tagged });
      } finally {
        await subscription?.close();
        await agent.client.close();
      }
    });
  });

  describe("a 2026 upstream's sampling request reaches a 2025 agent", () => {
    test.each([
      ['/mcp', 'modern__sample'],
      ['/mcp/modern', 'sample'],
    ])('%s: as sampling/createMessage on its stream, and the call completes with its answer', async (path, tool) => {
      const asked: CreateMessageRequest['params'][] = [];
      const agent = await connectAgent(portal.url, ALICE, {
        path,
        capabilities: { sampling: {} },
        setup: (client) =>
          client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
            asked.push(request.params);
            return { role: 'assistant', content: { type: 'text', text: 'from the 2025 agent' }, model: 'test-model' };
          }),
      });
      try {
        const calls = () => modern.requests.filter((r) => r.body?.method === 'tools/call' && r.body.params?.name === 'sample');
        const before = calls().length;
        const result = await agent.client.callTool({ name: tool, arguments: { prompt: 'Write a haiku' } });
        expect(toolText(result)).toBe('sampled: from the 2025 agent');
        expect(asked).toHaveLength(1);
        expect(asked[0]).toMatchObject({ messages: [{ role: 'user', content: { type: 'text', text: 'Write a haiku' } }], maxTokens: 10 });
        // The upstream asked (input_required), then was called again with the agent's answer under its own key.
        const [first, retry] = calls().slice(before);
        expect(first!.body!.params!.inputResponses).toBeUndefined();
        expect(retry!.body!.params!.inputResponses).toMatchObject({
          draft: { role: 'assistant', content: { type: 'text', text: 'from the 2025 agent' } },
        });
      } finally {
        await agent.client.close();
      }
    });
  });

  describe('a 2026 agent on /mcp/{id} over a 2025 upstream (server-everything)', () => {
    let agent: ModernAgent | undefined;
    beforeEach(async () => {
      agent = await connectModernAgent(portal.url, ALICE, {
        path: '/mcp/everything',
        token: await authorizedToken(portal.url, ALICE, '/mcp/everything'),
      });
    });
    afterEach(async () => {
      await agent?.client.close();
      agent = undefined;
    });

    test("the upstream's progress reaches the agent on its request's stream", async () => {
      const progress: number[] = [];
      const result = await agent!.client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
        { onprogress: (p) => progress.push(p.progress) },
      );
      expect(toolText(result)).toContain('completed');
      expect(progress).toEqual([1, 2, 3]);
    });

    test('resources/read reads a resource by its own URI', async () => {
      const { resources } = await agent!.client.listResources();
      const text = resources.find((r) => r.mimeType?.startsWith('text/'))!;
      expect(text).toBeDefined();
      const read = await agent!.client.readResource({ uri: text.uri });
      expect(read.contents).toEqual([expect.objectContaining({ uri: text.uri, text: expect.any(String) })]);
    });

    test('prompts/get gets a prompt by its own name, with its arguments', async () => {
      const { prompts } = await agent!.client.listPrompts();
      expect(prompts.map((p) => p.name)).toEqual(expect.arrayContaining(['simple-prompt', 'args-prompt']));
      const simple = await agent!.client.getPrompt({ name: 'simple-prompt' });
      expect(simple.messages.length).toBeGreaterThan(0);
      const withArgs = await agent!.client.getPrompt({ name: 'args-prompt', arguments: { city: 'Lisbon' } });
      expect(JSON.stringify(withArgs.messages)).toContain('Lisbon');
    });
  });
});
