import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import {
  startForgetfulMcpServer,
  startScriptedMcpServer,
  type ForgetfulServer,
  type ScriptedServer,
} from '../helpers/relay-test-servers.js';
import { MCP_HEADERS, toolText, until } from '../helpers/mcp-wire.js';

/** Past the relay's bound on one upstream JSON body (4 MB). */
const OVER_4_MB = 4 * 1024 * 1024 + 1024;
/**
 * Well past the bound on one SSE event (4 MB): the SSE parser checks its buffer between the chunks
 * it is fed, so an event ending in the chunk that crosses the bound is only caught a chunk later.
 */
const WELL_OVER_4_MB = 5 * 1024 * 1024;

interface RpcAnswer {
  jsonrpc: '2.0';
  id?: string | number | null;
  result?: CallToolResult;
  error?: { code: number; message: string };
}

/** The one JSON-RPC answer of a body sent as JSON or as an SSE stream. */
async function answerOf(res: Response): Promise<RpcAnswer> {
  const body = await res.text();
  if (res.headers.get('content-type')?.includes('text/event-stream')) {
    const data = body
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .filter((d) => d.startsWith('{'));
    return JSON.parse(data.at(-1)!) as RpcAnswer;
  }
  return JSON.parse(body) as RpcAnswer;
}

describe('the transparent relay when the upstream fails', () => {
  let slow: RecordingServer;
  let doomed: RecordingServer;
  let lossy: ForgetfulServer;
  let garbage: ScriptedServer;
  let portal: TestPortal;
  const agents: Agent[] = [];

  beforeAll(async () => {
    slow = await startRecordingMcpServer();
    doomed = await startRecordingMcpServer();
    lossy = await startForgetfulMcpServer();
    const bigText = 'x'.repeat(OVER_4_MB);
    const biggerText = 'x'.repeat(WELL_OVER_4_MB);
    // Well within 4 MB, nested far past what any answer needs (and past what JSON.stringify can recurse through).
    const deepJson = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    garbage = await startScriptedMcpServer({
      'sse-not-json': () => ({ contentType: 'text/event-stream', body: 'event: message\ndata: this is not json {\n\n' }),
      'sse-not-rpc': (id) => ({
        contentType: 'text/event-stream',
        body: `event: message\ndata: ${JSON.stringify({ id, hello: 'world' })}\n\n`,
      }),
      'json-not-rpc': () => ({ contentType: 'application/json', body: JSON.stringify({ hello: 'world' }) }),
      'json-huge': (id) => ({
        contentType: 'application/json',
        body: JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: bigText }] } }),
      }),
      'sse-huge': (id) => ({
        contentType: 'text/event-stream',
        body: `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: biggerText }] } })}\n\n`,
      }),
      'html-page': () => ({ contentType: 'text/html', body: '<html>not MCP</html>' }),
      'json-deep': (id) => ({
        contentType: 'application/json',
        body: `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[],"structuredContent":${deepJson}}}`,
      }),
      'json-deep-other-id': () => ({
        contentType: 'application/json',
        body: `{"jsonrpc":"2.0","id":"not-asked","result":{"content":[],"structuredContent":${deepJson}}}`,
      }),
      'sse-deep': (id) => ({
        contentType: 'text/event-stream',
        body: `event: message\ndata: {"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[],"structuredContent":${deepJson}}}\n\n`,
      }),
      fine: (id) => ({
        contentType: 'application/json',
        body: JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'fine' }] } }),
      }),
    });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'slow', kind: 'mcp', url: slow.url, call_timeout: '1s' },
          { id: 'doomed', kind: 'mcp', url: doomed.url },
          { id: 'lossy', kind: 'mcp', url: lossy.url },
          { id: 'garbage', kind: 'mcp', url: garbage.url },
        ],
      },
    });
  });
  afterAll(async () => {
    for (const agent of agents) await agent.client.close().catch(() => {});
    await portal?.close();
    for (const server of [slow, doomed, lossy, garbage]) await server?.close();
  });

  async function agentFor(id: string): Promise<Agent> {
    const agent = await connectAgent(portal.url, ALICE, { path: `/mcp/${id}` });
    agents.push(agent);
    return agent;
  }

  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${portal.url}${path}`, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(body) });
  const sessionHeaders = (agent: Agent) => ({
    authorization: `Bearer ${agent.accessToken()}`,
    'mcp-session-id': agent.transport.sessionId!,
    'mcp-protocol-version': agent.transport.protocolVersion ?? '2025-11-25',
  });

  test("past the upstream's call_timeout the agent gets a tool error, the upstream is told to cancel, the portal stays healthy", async () => {
    const agent = await agentFor('slow');
    const result = (await agent.client.callTool({ name: 'wait', arguments: { label: 'too-slow' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(toolText(result)).toContain('"slow"');
    expect(toolText(result)).toMatch(/did not answer within/);
    expect(slow.waits.started).toContain('too-slow');
    await until(() => slow.waits.cancelled.includes('too-slow'));
    expect(slow.waits.cancelled).toContain('too-slow');
    expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
    // The session goes on.
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'still here' } }))).toBe('still here');
    expect(
      portal.logs.lines.some(
        (l) =>
          l.event === 'mcp_tool_call' &&
          l.upstream === 'slow' &&
          l.tool === 'wait' &&
          l.outcome === 'error' &&
          l.errorCode === 'ERR_UPSTREAM_TIMEOUT',
      ),
    ).toBe(true);
  });

  test('an upstream gone mid-session: the next call gets a tool error, and the portal stays up', async () => {
    const agent = await agentFor('doomed');
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'alive' } }))).toBe('alive');
    await doomed.close();
    const result = (await agent.client.callTool({ name: 'echo', arguments: { message: 'still?' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(toolText(result)).toContain('upstream "doomed" is unavailable');
    // Another request that is no tool call gets a JSON-RPC error instead.
    await expect(agent.client.listTools()).rejects.toMatchObject({ code: -32603 });
    expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
  });

  test('an upstream that lost the session: the portal forgets its own too and answers 404 (-32001), so the agent initializes again', async () => {
    const agent = await agentFor('lossy');
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'before' } }))).toBe('before');
    const upstreamSession = lossy.requests.map((r) => r.headers['mcp-session-id']).find((id) => typeof id === 'string');
    expect(upstreamSession).toBeDefined();
    expect(upstreamSession).not.toBe(agent.transport.sessionId);
    lossy.forget();

    const list = { jsonrpc: '2.0', id: 5, method: 'tools/list' };
    const posts = () => lossy.requests.filter((r) => r.method === 'POST' && r.headers['mcp-session-id'] === upstreamSession).length;
    const postsBefore = posts();
    const gone = await post('/mcp/lossy', list, sessionHeaders(agent));
    expect(gone.status).toBe(404);
    expect((await gone.json()) as RpcAnswer).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
    // The relay did ask the upstream in that session, and got its 404.
    expect(posts()).toBe(postsBefore + 1);

    const again = await post('/mcp/lossy', list, sessionHeaders(agent));
    expect(again.status).toBe(404);
    expect((await again.json()) as RpcAnswer).toMatchObject({ error: { code: -32001 } });
    // The portal session is gone: the second request never reached the upstream.
    expect(posts()).toBe(postsBefore + 1);

    // A new session works.
    const fresh = await agentFor('lossy');
    expect(toolText(await fresh.client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('after');
  });

  describe('an upstream that speaks garbage', () => {
    let agent: Agent;
    beforeAll(async () => {
      agent = await agentFor('garbage');
    });

    test('the scripted upstream itself is reachable through the relay', async () => {
      expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain('fine');
      expect(toolText(await agent.client.callTool({ name: 'fine', arguments: {} }))).toBe('fine');
    });

    test.each(['sse-not-json', 'sse-not-rpc', 'json-not-rpc', 'html-page'])(
      '%s: the agent gets a protocol-error tool result that does not echo the upstream',
      async (tool) => {
        const result = (await agent.client.callTool({ name: tool, arguments: {} })) as CallToolResult;
        expect(result.isError).toBe(true);
        expect(toolText(result)).toContain('upstream "garbage" did not answer as an MCP server');
        expect(JSON.stringify(result)).not.toMatch(/not json|hello|not MCP/);
        expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
      },
    );

    test.each(['json-huge', 'sse-huge'])(
      '%s (an upstream message over 4 MB): the agent gets a protocol error tool result, not the body',
      async (tool) => {
        const res = await post(
          '/mcp/garbage',
          { jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: tool, arguments: {} } },
          sessionHeaders(agent),
        );
        expect(res.status).toBe(200);
        const answer = await answerOf(res);
        expect(answer.id).toBe(77);
        expect(answer.result?.isError).toBe(true);
        expect(toolText(answer.result)).toContain('did not answer as an MCP server');
        expect(JSON.stringify(answer).length).toBeLessThan(10_000);
      },
    );

    test.each(['json-deep', 'json-deep-other-id', 'sse-deep'])(
      '%s (an upstream message nested 100 000 levels deep): a protocol-error tool result, never a 500',
      async (tool) => {
        const res = await post(
          '/mcp/garbage',
          { jsonrpc: '2.0', id: 78, method: 'tools/call', params: { name: tool, arguments: {} } },
          sessionHeaders(agent),
        );
        expect(res.status).toBe(200);
        const answer = await answerOf(res);
        expect(answer.id).toBe(78);
        expect(answer.result?.isError).toBe(true);
        expect(toolText(answer.result)).toContain('did not answer as an MCP server');
      },
    );

    test('after the garbage the session still serves calls', async () => {
      expect(toolText(await agent.client.callTool({ name: 'fine', arguments: {} }))).toBe('fine');
      expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
    });
  });
});
