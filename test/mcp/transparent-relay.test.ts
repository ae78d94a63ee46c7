import { createRemoteJWKSet, jwtVerify } from 'jose';
import { CallToolResultSchema, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { startLegacySseServer, startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { startForgetfulMcpServer, type ForgetfulServer } from '../helpers/relay-test-servers.js';
import { MCP_HEADERS, toolText, until } from '../helpers/mcp-wire.js';

interface RpcAnswer {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** The JSON-RPC messages of an SSE body, in order. */
function sseMessages(body: string): RpcAnswer[] {
  return body
    .split(/\n\n/)
    .map((event) =>
      event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n'),
    )
    .filter((data) => data !== '')
    .map((data) => JSON.parse(data) as RpcAnswer);
}

/** POSTs of the recorder's that carried a session (everything after `initialize`). */
const upstreamSessionIds = (server: RecordingServer) =>
  new Set(server.requests.map((r) => r.headers['mcp-session-id']).filter((id): id is string => typeof id === 'string'));

describe('the transparent endpoint /mcp/{id} relays a Streamable HTTP upstream message by message', () => {
  let recorder: RecordingServer;
  let ruledRecorder: RecordingServer;
  let chattyUpstream: ForgetfulServer;
  let legacy: RecordingServer;
  let portal: TestPortal;
  let agent: Agent;
  let ruled: Agent;
  const listChanged: string[] = [];

  beforeAll(async () => {
    recorder = await startRecordingMcpServer();
    ruledRecorder = await startRecordingMcpServer();
    chattyUpstream = await startForgetfulMcpServer();
    legacy = await startLegacySseServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          // Tools added at runtime are listed (flagged), not held for an administrator.
          { id: 'recorder', kind: 'mcp', url: recorder.url, tools: { pinning: 'warn' } },
          {
            id: 'ruled',
            kind: 'mcp',
            url: ruledRecorder.url,
            tools: {
              deny: ['wait'],
              rename: { echo: 'say' },
              describe: { say: 'Says it back.' },
              // Alice is in group "eng" only.
              allow_groups: { grow: ['admins'], echo: ['eng'] },
            },
          },
          { id: 'chatty', kind: 'mcp', url: chattyUpstream.url },
          { id: 'legacy', kind: 'mcp', url: legacy.url },
        ],
      },
    });
    agent = await connectAgent(portal.url, ALICE, {
      path: '/mcp/recorder',
      setup: (client) => client.setNotificationHandler(ToolListChangedNotificationSchema, async (n) => void listChanged.push(n.method)),
    });
    ruled = await connectAgent(portal.url, ALICE, { path: '/mcp/ruled' });
  });
  afterAll(async () => {
    await agent?.client.close().catch(() => {});
    await ruled?.client.close().catch(() => {});
    await portal?.close();
    for (const server of [recorder, ruledRecorder, chattyUpstream, legacy]) await server?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${portal.url}${path}`, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(body) });

  test('lists and calls unprefixed tools with an SDK client; the upstream sees a portal-jwt, never the agent token, in a session of its own', async () => {
    expect(agent.client.getServerVersion()?.name).toBe('test-upstream');
    const { tools } = await agent.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'grow', 'wait']));
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'relayed' } }))).toBe('relayed');

    const posts = recorder.requests.filter((r) => r.method === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(3);
    const jwks = createRemoteJWKSet(new URL(`${portal.url}/.well-known/jwks.json`));
    for (const request of recorder.requests) {
      expect(JSON.stringify(request.headers)).not.toContain(agent.accessToken());
      const authorization = request.headers.authorization ?? '';
      expect(authorization).toMatch(/^Bearer /);
      const { payload } = await jwtVerify(authorization.slice('Bearer '.length), jwks, { issuer: portal.url, audience: recorder.url });
      expect(payload).toMatchObject({ sub: 'local:alice', groups: ['eng'], act: { sub: agent.provider.clientInformation()!.client_id } });
    }

    const upstreamSessions = upstreamSessionIds(recorder);
    expect(upstreamSessions.size).toBe(1);
    expect(agent.transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(upstreamSessions.has(agent.transport.sessionId!)).toBe(false);
  });

  test('tool rules: denied and group-restricted tools are unknown and never reach the upstream; renamed and redescribed tools are listed so', async () => {
    const { tools } = await ruled.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('say');
    expect(names).not.toContain('echo');
    expect(names).not.toContain('wait');
    expect(names).not.toContain('grow');
    expect(tools.find((t) => t.name === 'say')?.description).toBe('Says it back.');

    // The new name runs the upstream's own tool.
    const callsBefore = ruledRecorder.requests.filter((r) => r.method === 'POST').length;
    expect(toolText(await ruled.client.callTool({ name: 'say', arguments: { message: 'renamed' } }))).toBe('renamed');
    expect(ruledRecorder.requests.filter((r) => r.method === 'POST').length).toBe(callsBefore + 1);

    for (const [name, args] of [
      ['wait', { label: 'denied-wait' }],
      ['grow', {}],
    ] as const) {
      const before = ruledRecorder.requests.length;
      const call = ruled.client.callTool({ name, arguments: args });
      await expect(call).rejects.toBeInstanceOf(McpError);
      await expect(call).rejects.toMatchObject({ code: -32602, message: expect.stringContaining(`unknown tool "${name}"`) });
      expect(ruledRecorder.requests.length).toBe(before);
    }
    expect(ruledRecorder.waits.started).not.toContain('denied-wait');
    const denials = portal.logs.lines.filter((l) => l.event === 'policy_denied' && l.upstream === 'ruled' && l.rule === 'tools');
    expect(denials.map((l) => l.tool)).toEqual(expect.arrayContaining(['wait', 'grow']));
  });

  test('a batch (2025-03-26) with a denied call is refused whole: an error for each id, nothing sent upstream; an allowed batch is answered as an array', async () => {
    const token = ruled.accessToken();
    const init = await post(
      '/mcp/ruled',
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      },
      { authorization: `Bearer ${token}` },
    );
    expect(init.status).toBe(200);
    const sessionId = init.headers.get('mcp-session-id')!;
    expect(sessionId).toBeTruthy();
    await init.text();
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-03-26' };
    expect((await post('/mcp/ruled', { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);

    const before = ruledRecorder.requests.length;
    const refused = await post(
      '/mcp/ruled',
      [
        { jsonrpc: '2.0', id: 'allowed', method: 'tools/call', params: { name: 'say', arguments: { message: 'not sent' } } },
        { jsonrpc: '2.0', id: 'denied', method: 'tools/call', params: { name: 'wait', arguments: { label: 'batch-wait' } } },
      ],
      headers,
    );
    expect(refused.status).toBe(200);
    expect(refused.headers.get('content-type')).toContain('application/json');
    const answers = (await refused.json()) as RpcAnswer[];
    expect(Array.isArray(answers)).toBe(true);
    expect(answers).toHaveLength(2);
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get('denied')?.error?.code).toBe(-32602);
    expect(byId.get('allowed')?.error).toBeDefined();
    expect(byId.get('allowed')?.result).toBeUndefined();
    expect(ruledRecorder.requests.length).toBe(before);
    expect(ruledRecorder.waits.started).not.toContain('batch-wait');

    const accepted = await post(
      '/mcp/ruled',
      [
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'say', arguments: { message: 'one' } } },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'say', arguments: { message: 'two' } } },
      ],
      headers,
    );
    expect(accepted.status).toBe(200);
    const body = await accepted.text();
    const results = accepted.headers.get('content-type')?.includes('text/event-stream')
      ? sseMessages(body)
      : (JSON.parse(body) as RpcAnswer[]);
    expect(Array.isArray(results)).toBe(true);
    expect(results.map((a) => [a.id, toolText(a.result)]).sort()).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
  });

  test("the GET stream carries the upstream's notifications/tools/list_changed to the agent", async () => {
    // The SDK client opens its GET stream right after initializing; wait until it reached the upstream.
    await until(() => recorder.requests.some((r) => r.method === 'GET'));
    expect(recorder.requests.some((r) => r.method === 'GET')).toBe(true);
    for (let attempt = 0; attempt < 3 && listChanged.length === 0; attempt++) {
      await agent.client.callTool({ name: 'grow', arguments: {} });
      await until(() => listChanged.length > 0, 80);
    }
    expect(listChanged).toContain('notifications/tools/list_changed');
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain('grown-1');
  });

  test('an agent cancelling a call cancels it at the upstream', async () => {
    const controller = new AbortController();
    const call = agent.client.callTool({ name: 'wait', arguments: { label: 'cancel-me' } }, CallToolResultSchema, {
      signal: controller.signal,
    });
    await until(() => recorder.waits.started.includes('cancel-me'));
    expect(recorder.waits.started).toContain('cancel-me');
    controller.abort('changed my mind');
    await expect(call).rejects.toThrow();
    await until(() => recorder.waits.cancelled.includes('cancel-me'));
    expect(recorder.waits.cancelled).toContain('cancel-me');
    // The session still serves calls.
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'after cancel' } }))).toBe('after cancel');
  });

  test('every relayed tool call is audited with the tool, the upstream and the person', async () => {
    await agent.client.callTool({ name: 'echo', arguments: { message: 'audit me' } });
    await until(() => portal.logs.lines.some((l) => l.event === 'mcp_tool_call' && l.tool === 'echo' && l.upstream === 'recorder'));
    const call = portal.logs.lines.find((l) => l.event === 'mcp_tool_call' && l.tool === 'echo' && l.upstream === 'recorder');
    expect(call).toMatchObject({
      event: 'mcp_tool_call',
      outcome: 'success',
      upstream: 'recorder',
      person: 'local:alice',
      method: 'tools/call',
      tool: 'echo',
    });
    // A renamed tool is audited under the upstream's own name.
    expect(portal.logs.lines.some((l) => l.event === 'mcp_tool_call' && l.upstream === 'ruled' && l.tool === 'echo')).toBe(true);
  });

  describe('answer framing', () => {
    let chatty: Agent;
    beforeAll(async () => {
      chatty = await connectAgent(portal.url, ALICE, { path: '/mcp/chatty' });
    });
    afterAll(async () => {
      await chatty?.client.close().catch(() => {});
    });
    const headers = () => ({
      authorization: `Bearer ${chatty.accessToken()}`,
      'mcp-session-id': chatty.transport.sessionId!,
      'mcp-protocol-version': chatty.transport.protocolVersion ?? '2025-11-25',
    });

    test('an upstream SSE answer holding only the answer reaches the agent as one application/json body', async () => {
      const res = await post(
        '/mcp/chatty',
        { jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'echo', arguments: { message: 'framed' } } },
        headers(),
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const answer = (await res.json()) as RpcAnswer;
      expect(answer).toMatchObject({ jsonrpc: '2.0', id: 41 });
      expect(toolText(answer.result)).toBe('framed');
      // The upstream itself answered with a stream (the SDK default): the portal chose JSON.
      expect(chattyUpstream.messages.some((m) => m.id === 41 && m.method === 'tools/call')).toBe(true);
    });

    test('notifications before the answer make it a text/event-stream, in the upstream order', async () => {
      const res = await post(
        '/mcp/chatty',
        { jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'chatty', arguments: {}, _meta: { progressToken: 'p-42' } } },
        headers(),
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const messages = sseMessages(await res.text());
      const logging = messages.findIndex((m) => m.method === 'notifications/message');
      const progress = messages.findIndex((m) => m.method === 'notifications/progress');
      const answer = messages.findIndex((m) => m.id === 42);
      expect(logging).toBeGreaterThanOrEqual(0);
      expect(progress).toBeGreaterThan(logging);
      expect(answer).toBeGreaterThan(progress);
      expect(messages[progress]!.params).toMatchObject({ progressToken: 'p-42', progress: 1 });
      expect(toolText(messages[answer]!.result)).toBe('done talking');
    });

    test('the SDK client gets the progress of a relayed call', async () => {
      const progress: number[] = [];
      const result = await chatty.client.callTool({ name: 'chatty', arguments: {} }, CallToolResultSchema, {
        onprogress: (p) => progress.push(p.progress),
      });
      expect(toolText(result)).toBe('done talking');
      expect(progress).toEqual([1]);
    });
  });

  test('a legacy HTTP+SSE upstream behind /mcp/{id} is served through the SDK fallback', async () => {
    const old = await connectAgent(portal.url, ALICE, { path: '/mcp/legacy' });
    try {
      // The relay's initialize POST went to the legacy endpoint and was refused there.
      expect(legacy.requests.some((r) => r.method === 'POST' && r.path === '/mcp')).toBe(true);
      const { tools } = await old.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'wait']));
      expect(toolText(await old.client.callTool({ name: 'echo', arguments: { message: 'old school' } }))).toBe('old school');
      expect(legacy.requests.some((r) => r.method === 'POST' && r.path === '/messages')).toBe(true);
    } finally {
      await old.client.close().catch(() => {});
    }
  });
});
