import { ElicitRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, connectModernAgent, type Agent, type ModernAgent } from '../helpers/agent.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { toolText, until } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * An MCP 2026-07-28-only upstream (the v2 SDK, `legacy: 'reject'`) behind the portal, reached by
 * a 2025-era agent (the v1 SDK client, sessions) and a 2026 agent (the v2 client), on `/mcp`
 * and on `/mcp/{id}`. The portal probes the upstream's era once and speaks 2026 to it.
 */
describe('an MCP 2026-07-28 upstream through the portal, for agents of both eras', () => {
  let upstream: ModernMcpServer;
  let portal: TestPortal;
  let legacyAggregate: Agent;
  let legacyTransparent: Agent;
  let modernAggregate: ModernAgent;
  let modernTransparent: ModernAgent;
  const legacyChanges: string[] = [];

  beforeAll(async () => {
    upstream = await startModernMcpServer();
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'modern', kind: 'mcp', url: upstream.url }] },
    });
    legacyAggregate = await connectAgent(portal.url, ALICE, {
      capabilities: { elicitation: {} },
      setup: (client) => {
        client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { ok: true } }));
        client.setNotificationHandler(ToolListChangedNotificationSchema, async (n) => void legacyChanges.push(n.method));
      },
    });
    legacyTransparent = await connectAgent(portal.url, ALICE, { path: '/mcp/modern' });
    modernAggregate = await connectModernAgent(portal.url, ALICE);
    modernTransparent = await connectModernAgent(portal.url, ALICE, { path: '/mcp/modern' });
  });
  afterAll(async () => {
    for (const agent of [legacyAggregate, legacyTransparent]) await agent?.client.close();
    for (const agent of [modernAggregate, modernTransparent]) await agent?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  const upstreamCalls = () => upstream.requests.filter((r) => r.body?.method === 'tools/call');

  test('2025 agent on /mcp: lists and calls the 2026 upstream, which hears 2026-07-28 with its own tool name', async () => {
    const { tools } = await legacyAggregate.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['modern__echo', 'modern__count']));
    const before = upstreamCalls().length;
    expect(toolText(await legacyAggregate.client.callTool({ name: 'modern__echo', arguments: { message: 'from 2025' } }))).toBe(
      'from 2025',
    );
    const [call] = upstreamCalls().slice(before);
    expect(call!.headers['mcp-protocol-version']).toBe('2026-07-28');
    expect(call!.headers['mcp-method']).toBe('tools/call');
    expect(call!.headers['mcp-name']).toBe('echo');
    expect(call!.headers['mcp-session-id']).toBeUndefined();
    expect(call!.body!.params!._meta).toMatchObject({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28' });
  });

  test('2025 agent on /mcp/{id}: a session with the portal, stateless requests upstream', async () => {
    expect(legacyTransparent.transport.sessionId).toEqual(expect.any(String));
    expect(legacyTransparent.client.getServerVersion()).toMatchObject({ name: 'modern-upstream' });
    expect(toolText(await legacyTransparent.client.callTool({ name: 'echo', arguments: { message: 'plain' } }))).toBe('plain');
    const read = await legacyTransparent.client.readResource({ uri: 'modern://note' });
    expect(read.contents[0]).toMatchObject({ text: 'a note from 2026' });
    const prompt = await legacyTransparent.client.getPrompt({ name: 'hello', arguments: { name: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Hello, Ada');
  });

  test("2025 agent: the upstream's input_required becomes an elicitation on the agent's stream, and the call completes", async () => {
    expect(toolText(await legacyAggregate.client.callTool({ name: 'modern__confirm', arguments: { action: 'deploy' } }))).toBe(
      'deploy: done',
    );
  });

  test('2025 agent: progress of a 2026 upstream reaches the agent', async () => {
    const progress: number[] = [];
    const result = await legacyAggregate.client.callTool({ name: 'modern__count', arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(toolText(result)).toBe('counted 3');
    expect(progress).toEqual([1, 2, 3]);
  });

  test('2026 agent on /mcp and on /mcp/{id}: 2026 end to end', async () => {
    expect(toolText(await modernAggregate.client.callTool({ name: 'modern__echo', arguments: { message: 'a' } }))).toBe('a');
    expect(toolText(await modernTransparent.client.callTool({ name: 'echo', arguments: { message: 'b' } }))).toBe('b');
    const discover = modernTransparent.client.getDiscoverResult()!;
    expect(discover._meta?.['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: 'modern-upstream' });
    expect(discover.instructions).toBe('A 2026-era upstream.');
    const progress: number[] = [];
    await modernAggregate.client.callTool(
      { name: 'modern__count', arguments: { steps: 2 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(progress).toEqual([1, 2]);
  });

  test("a 2026 upstream's tools/list_changed reaches a 2026 agent's listen stream and a 2025 agent's GET stream", async () => {
    const modernChanges: unknown[] = [];
    modernAggregate.client.setNotificationHandler('notifications/tools/list_changed', async (n) => void modernChanges.push(n.params));
    const subscription = await modernAggregate.client.listen({ toolsListChanged: true });
    try {
      expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
      // The portal listens upstream for each agent that listens (one upstream listen per grant's
      // stream), and has before it acknowledges the agent's listen.
      expect(upstream.requests.filter((r) => r.body?.method === 'subscriptions/listen').length).toBeGreaterThanOrEqual(1);
      expect(toolText(await modernAggregate.client.callTool({ name: 'modern__announce', arguments: {} }))).toBe('announced');
      await until(() => modernChanges.length > 0);
      expect(modernChanges[0]).toMatchObject({ _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() } });
      // The 2025 agent's GET stream is listened for too.
      await until(() => legacyChanges.includes('notifications/tools/list_changed'));
    } finally {
      await subscription.close();
    }
  });

  test("an x-mcp-header argument reaches the upstream as its Mcp-Param header; the agent's trace context in _meta", async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const traced = await connectModernAgent(portal.url, ALICE, {
      token: modernAggregate.token,
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), traceparent, tracestate: 'vendor=1' } }),
    });
    try {
      const before = upstreamCalls().length;
      expect(toolText(await traced.client.callTool({ name: 'modern__where', arguments: { region: 'eu-west' } }))).toBe('in eu-west');
      const answered = upstreamCalls()
        .slice(before)
        .filter((r) => r.body?.params?.name === 'where')
        .at(-1)!;
      expect(answered.headers['mcp-param-region']).toBe('eu-west');
      expect(answered.body!.params!._meta).toMatchObject({ traceparent, tracestate: 'vendor=1' });
    } finally {
      await traced.client.close();
    }
  });

  test('a malformed traceparent is not passed on', async () => {
    const traced = await connectModernAgent(portal.url, ALICE, {
      token: modernAggregate.token,
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), traceparent: 'not-a-trace' } }),
    });
    try {
      const before = upstreamCalls().length;
      await traced.client.callTool({ name: 'modern__echo', arguments: { message: 'x' } });
      const [call] = upstreamCalls().slice(before);
      expect(call!.body!.params!._meta).not.toHaveProperty('traceparent');
    } finally {
      await traced.client.close();
    }
  });

  test("2026 agent: a 2026 upstream's input_required on prompts/get becomes the agent's own round, and the prompt arrives", async () => {
    const asked: unknown[] = [];
    const agent = await connectModernAgent(portal.url, ALICE, {
      token: modernAggregate.token,
      capabilities: { elicitation: {} },
      setup: (client) =>
        client.setRequestHandler('elicitation/create', async (request) => {
          asked.push(request.params);
          return { action: 'accept', content: { name: 'Ada' } };
        }),
    });
    try {
      const prompt = await agent.client.getPrompt({ name: 'modern__greeting' });
      expect(JSON.stringify(prompt.messages)).toContain('Greetings, Ada');
      expect(asked).toEqual([expect.objectContaining({ message: 'Your name?' })]);
    } finally {
      await agent.client.close();
    }
  });

  test("extensions both ways: the aggregate declares its upstreams' extensions; an agent's extensions reach the upstream", async () => {
    const agent = await connectModernAgent(portal.url, ALICE, { capabilities: { extensions: { 'io.example/agent-side': {} } } });
    try {
      // The upstream has been reached by now (earlier tests): its MCP Apps extension is the aggregate's too.
      expect(agent.client.getDiscoverResult()!.capabilities.extensions).toMatchObject({ 'io.modelcontextprotocol/ui': {} });
      const before = upstreamCalls().length;
      await agent.client.callTool({ name: 'modern__echo', arguments: { message: 'ext' } });
      const [call] = upstreamCalls().slice(before);
      expect(call!.body!.params!._meta).toMatchObject({
        'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.example/agent-side': {} } },
      });
    } finally {
      await agent.client.close();
    }
  });

  test("the upstream's era is probed once and remembered, not on every connection", async () => {
    const probes = upstream.requests.filter((r) => r.body?.method === 'server/discover').length;
    const more = await connectModernAgent(portal.url, ALICE, { path: '/mcp/modern' });
    await more.client.callTool({ name: 'echo', arguments: { message: 'again' } });
    await more.client.close();
    // The agent's own server/discover is relayed (the upstream answers it); the portal did not probe again.
    expect(upstream.requests.filter((r) => r.body?.method === 'server/discover').length).toBe(probes + 1);
  });

  test("the agents' tokens never reach the upstream", () => {
    const tokens = [legacyAggregate.accessToken(), legacyTransparent.accessToken(), modernAggregate.token, modernTransparent.token];
    const sent = upstream.requests.map((r) => String(r.headers.authorization ?? ''));
    expect(sent.some((value) => tokens.some((token) => value.includes(token)))).toBe(false);
  });
});
