import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { MCP_HEADERS } from '../helpers/mcp-wire.js';

function initialize(protocolVersion: string) {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
}

/** The JSON-RPC message in an answer that may come as JSON or as one SSE event. */
async function message(res: Response): Promise<{ result?: Record<string, unknown>; error?: unknown }> {
  const text = await res.text();
  const data = text.startsWith('{') ? text : /^data: (.*)$/m.exec(text)?.[1];
  return JSON.parse(data ?? 'null');
}

describe('MCP session lifecycle', () => {
  let recorder: RecordingServer;
  let portal: TestPortal;
  let agent: Agent;

  beforeAll(async () => {
    recorder = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'recorder', kind: 'mcp', url: recorder.url }] },
    });
    agent = await connectAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await agent?.client.close();
    await portal?.close();
    await recorder?.close();
  });

  test.each([
    ['2025-11-25', '2025-11-25'],
    ['2025-06-18', '2025-06-18'],
    ['2025-03-26', '2025-03-26'],
    ['1999-01-01', '2025-11-25'],
  ])('initialize asking for %s negotiates %s and returns a session id', async (asked, negotiated) => {
    const res = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${agent.accessToken()}` },
      body: initialize(asked),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await message(res)).result).toMatchObject({ protocolVersion: negotiated, serverInfo: { name: 'gatehouse' } });
  });

  test('GET opens the server-to-client event stream (never 404)', async () => {
    const controller = new AbortController();
    const res = await fetch(`${portal.url}/mcp`, {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${agent.accessToken()}`,
        'mcp-session-id': agent.transport.sessionId!,
      },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    controller.abort();
  });

  test('the transparent endpoint shows one upstream, unprefixed, with its own identity', async () => {
    const direct = await connectAgent(portal.url, ALICE, { path: '/mcp/recorder' });
    try {
      expect(direct.client.getServerVersion()?.name).toBe('test-upstream');
      const { tools } = await direct.client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'wait']));
      const result = (await direct.client.callTool({ name: 'echo', arguments: { message: 'transparent' } })) as CallToolResult;
      expect(result.content[0]).toMatchObject({ text: 'transparent' });
    } finally {
      await direct.client.close();
    }
  });

  test('DELETE ends the session here and at the upstream', async () => {
    const session = await connectAgent(portal.url, ALICE);
    await session.client.callTool({ name: 'recorder__echo', arguments: { message: 'hi' } });
    const upstreamSession = recorder.requests.filter((r) => r.method === 'POST').at(-1)!.headers['mcp-session-id'];
    const sessionId = session.transport.sessionId!;
    await session.transport.terminateSession();
    expect(recorder.requests.some((r) => r.method === 'DELETE' && r.headers['mcp-session-id'] === upstreamSession)).toBe(true);
    const after = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${session.accessToken()}`, 'mcp-session-id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(after.status).toBe(404);
  });
});
