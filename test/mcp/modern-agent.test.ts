import { connectAgent, connectModernAgent, type ModernAgent } from '../helpers/agent.js';
import { startEverythingServer, type ChildServer } from '../helpers/child-server.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { toolText, until } from '../helpers/mcp-wire.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * A 2026-07-28 agent (the v2 SDK client, stateless) in front of 2025-era upstreams
 * (`server-everything` and an SDK server of the session protocol), on `/mcp` and `/mcp/{id}`.
 */
describe('a 2026-07-28 agent through the portal to 2025-era upstreams', () => {
  let everything: ChildServer & { url: string };
  let recorder: RecordingServer;
  let portal: TestPortal;
  let aggregate: ModernAgent;
  let transparent: ModernAgent;
  const responseHeaders: Headers[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    responseHeaders.push(response.headers);
    return response;
  };

  beforeAll(async () => {
    everything = await startEverythingServer();
    recorder = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'everything', kind: 'mcp', url: everything.url, credentials: { type: 'none' }, tools: { deny: ['get-env'] } },
          { id: 'recorder', kind: 'mcp', url: recorder.url },
        ],
      },
    });
    aggregate = await connectModernAgent(portal.url, ALICE, { fetch: recordingFetch });
    transparent = await connectModernAgent(portal.url, ALICE, { path: '/mcp/everything' });
  });
  afterAll(async () => {
    await aggregate?.client.close();
    await transparent?.client.close();
    await portal?.close();
    await recorder?.close();
    await everything?.close();
  });

  test('negotiates 2026-07-28 with server/discover: the aggregate names itself, its capabilities and instructions', () => {
    expect(aggregate.client.getProtocolEra()).toBe('modern');
    expect(aggregate.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const discover = aggregate.client.getDiscoverResult()!;
    expect(discover.supportedVersions).toContain('2026-07-28');
    expect(discover._meta?.['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: 'gatehouse' });
    // listChanged and subscribe: what a subscriptions/listen stream can ask for.
    expect(discover.capabilities).toMatchObject({
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
    });
    expect(discover.instructions).toContain('{upstream}__{name}');
  });

  test('the transparent endpoint discovers as its upstream', () => {
    expect(transparent.client.getProtocolEra()).toBe('modern');
    const discover = transparent.client.getDiscoverResult()!;
    expect(discover._meta?.['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: expect.stringContaining('everything') });
    expect(discover.capabilities.tools).toBeDefined();
  });

  test('lists and calls tools of 2025-era upstreams on /mcp, prefixed, with no session', async () => {
    const { tools } = await aggregate.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'recorder__echo']));
    expect(names).not.toContain('everything__get-env');
    expect(toolText(await aggregate.client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }))).toBe('Echo: hi');
    expect(toolText(await aggregate.client.callTool({ name: 'recorder__echo', arguments: { message: 'plain' } }))).toBe('plain');
    expect(responseHeaders.length).toBeGreaterThan(0);
    expect(responseHeaders.every((h) => !h.has('mcp-session-id'))).toBe(true);
  });

  test('/mcp/{id} lists and calls the upstream tools by their own names', async () => {
    const { tools } = await transparent.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo']));
    expect(tools.map((t) => t.name)).not.toContain('get-env');
    expect(toolText(await transparent.client.callTool({ name: 'echo', arguments: { message: 'direct' } }))).toBe('Echo: direct');
  });

  test("an upstream's progress reaches the 2026 agent on its request's stream", async () => {
    const progress: number[] = [];
    const result = await aggregate.client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(toolText(result)).toContain('completed');
    expect(progress.length).toBeGreaterThanOrEqual(2);
  });

  test('reads resources and gets prompts through the aggregate', async () => {
    const { resources } = await aggregate.client.listResources();
    const first = resources.find((r) => r.uri.startsWith('gatehouse+everything+'))!;
    expect(first).toBeDefined();
    const read = await aggregate.client.readResource({ uri: first.uri });
    expect(read.contents[0]!.uri).toBe(first.uri);
    const { prompts } = await aggregate.client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain('everything__simple-prompt');
    const prompt = await aggregate.client.getPrompt({ name: 'everything__simple-prompt' });
    expect(prompt.messages.length).toBeGreaterThan(0);
  });

  test("subscriptions/listen delivers a 2025 upstream's tools/list_changed, tagged with the agent's subscription", async () => {
    const changes: unknown[] = [];
    aggregate.client.setNotificationHandler(
      'notifications/tools/list_changed',
      async (notification) => void changes.push(notification.params),
    );
    const subscription = await aggregate.client.listen({ toolsListChanged: true, promptsListChanged: true });
    try {
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true, promptsListChanged: true });
      // `grow` adds a tool to the grant's upstream session, which announces it on its own stream.
      expect(toolText(await aggregate.client.callTool({ name: 'recorder__grow', arguments: {} }))).toMatch(/^grown-/);
      await until(() => changes.length > 0);
      expect(changes[0]).toMatchObject({ _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() } });
    } finally {
      await subscription.close();
    }
  });

  test('a listen stream on /mcp/{id} is honoured only for what the upstream offers', async () => {
    const subscription = await transparent.client.listen({ toolsListChanged: true, resourceSubscriptions: ['demo://nothing'] });
    try {
      const { capabilities } = transparent.client.getDiscoverResult()!;
      const expected = {
        ...(capabilities.tools?.listChanged ? { toolsListChanged: true } : {}),
        ...(capabilities.resources?.subscribe ? { resourceSubscriptions: ['demo://nothing'] } : {}),
      };
      expect(subscription.honoredFilter).toEqual(expected);
    } finally {
      await subscription.close();
    }
  });

  test("one grant's upstream session is never another person's", async () => {
    const bob = await connectModernAgent(portal.url, BOB);
    try {
      const before = recorder.requests.filter((r) => r.method === 'POST').length;
      expect(toolText(await bob.client.callTool({ name: 'recorder__echo', arguments: { message: 'bob' } }))).toBe('bob');
      expect(toolText(await aggregate.client.callTool({ name: 'recorder__echo', arguments: { message: 'alice' } }))).toBe('alice');
      const calls = recorder.requests.filter((r) => r.method === 'POST').slice(before);
      const sessionsUsed = new Set(calls.map((r) => r.headers['mcp-session-id']).filter(Boolean));
      // Bob's calls opened his own upstream session: two distinct sessions between them.
      expect(sessionsUsed.size).toBe(2);
    } finally {
      await bob.client.close();
    }
  });

  test("a 2025 agent's trace context headers pass the /mcp/{id} relay", async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const relayed = await connectAgent(portal.url, ALICE, {
      path: '/mcp/recorder',
      fetch: (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), traceparent } }),
    });
    try {
      const before = recorder.requests.length;
      expect(toolText(await relayed.client.callTool({ name: 'echo', arguments: { message: 'traced' } }))).toBe('traced');
      expect(recorder.requests.slice(before).some((r) => r.headers.traceparent === traceparent)).toBe(true);
    } finally {
      await relayed.client.close();
    }
  });

  test("the agent's token never reaches an upstream", () => {
    const sent = recorder.requests.map((r) => r.headers.authorization ?? '');
    expect(sent.some((value) => value.includes(aggregate.token))).toBe(false);
  });
});
