import { authorizedToken } from '../helpers/agent.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { MCP_HEADERS, modernHeaders } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** Bad 2026-07-28 requests: each gets its specified JSON-RPC error, and nothing reaches the upstream. */
describe('MCP 2026-07-28 bad input', () => {
  let recorder: RecordingServer;
  let portal: TestPortal;
  let aggregateToken: string;
  let transparentToken: string;

  beforeAll(async () => {
    recorder = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'recorder', kind: 'mcp', url: recorder.url }] },
    });
    aggregateToken = await authorizedToken(portal.url, ALICE, '/mcp');
    transparentToken = await authorizedToken(portal.url, ALICE, '/mcp/recorder');
  });
  afterAll(async () => {
    await portal?.close();
    await recorder?.close();
  });

  async function post(path: string, token: string, headers: Record<string, string>, body: unknown) {
    const upstreamBefore = recorder.requests.length;
    const response = await fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as { error?: { code: number; data?: Record<string, unknown> } }) : undefined,
      reachedUpstream: recorder.requests.length > upstreamBefore,
    };
  }

  const call = (name: string, meta: Record<string, unknown> = ENVELOPE) => ({
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name, arguments: { message: 'x' }, _meta: meta },
  });

  test.each([
    ['/mcp', 'recorder__echo'],
    ['/mcp/recorder', 'echo'],
  ])('%s: an Mcp-Method header that disagrees with the body is HeaderMismatch (-32020)', async (path, name) => {
    const token = path === '/mcp' ? aggregateToken : transparentToken;
    const answer = await post(path, token, modernHeaders('tools/list', name), call(name));
    expect(answer).toMatchObject({ status: 400, body: { error: { code: -32020 } }, reachedUpstream: false });
  });

  test.each([
    ['/mcp', 'recorder__echo', 'recorder__grow'],
    ['/mcp/recorder', 'echo', 'grow'],
  ])('%s: an Mcp-Name header naming another tool than the body is HeaderMismatch (-32020)', async (path, name, other) => {
    const token = path === '/mcp' ? aggregateToken : transparentToken;
    const answer = await post(path, token, modernHeaders('tools/call', other), call(name));
    expect(answer).toMatchObject({ status: 400, body: { error: { code: -32020 } }, reachedUpstream: false });
  });

  test('an unknown protocol version is UnsupportedProtocolVersion (-32022) naming the stateless versions, as server/discover does', async () => {
    const meta = { ...ENVELOPE, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' };
    const answer = await post(
      '/mcp',
      aggregateToken,
      { ...modernHeaders('tools/call', 'recorder__echo'), 'mcp-protocol-version': '2099-01-01' },
      call('recorder__echo', meta),
    );
    expect(answer).toMatchObject({ status: 400, body: { error: { code: -32022 } }, reachedUpstream: false });
    expect(answer.body!.error!.data!.supported).toEqual(['2026-07-28']);
  });

  test('server/discover without the _meta protocol version is UnsupportedProtocolVersion (-32022)', async () => {
    const answer = await post('/mcp', aggregateToken, {}, { jsonrpc: '2.0', id: 1, method: 'server/discover', params: {} });
    expect(answer).toMatchObject({ status: 400, body: { error: { code: -32022 } }, reachedUpstream: false });
  });

  test('subscriptions/listen without the _meta protocol version is refused the same way', async () => {
    const answer = await post(
      '/mcp',
      aggregateToken,
      {},
      { jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { filter: {} } },
    );
    expect(answer).toMatchObject({ status: 400, body: { error: { code: -32022 } }, reachedUpstream: false });
  });

  test('a subscriptions/listen with a malformed filter is InvalidParams (-32602), and no upstream is asked', async () => {
    const listen = {
      jsonrpc: '2.0',
      id: 3,
      method: 'subscriptions/listen',
      params: { notifications: { toolsListChanged: 'yes', resourceSubscriptions: 'not-a-list' }, _meta: ENVELOPE },
    };
    const answer = await post('/mcp', aggregateToken, modernHeaders('subscriptions/listen'), listen);
    expect(answer.body?.error?.code).toBe(-32602);
    expect(answer.reachedUpstream).toBe(false);
  });

  test('a 2026 request without MCP-Protocol-Version is refused before any upstream hears of it', async () => {
    const answer = await post('/mcp', aggregateToken, { 'mcp-method': 'tools/call', 'mcp-name': 'recorder__echo' }, call('recorder__echo'));
    expect(answer.status).toBe(400);
    expect(answer.reachedUpstream).toBe(false);
  });

  test.each(['/mcp', '/mcp/recorder'])(
    '%s: a 2026 request not sent as JSON is 415 (never a 500), and no upstream hears of it',
    async (path) => {
      const token = path === '/mcp' ? aggregateToken : transparentToken;
      // Earlier tests' upstream sessions (era probes, listen streams) may still be settling.
      for (let seen = -1; seen !== recorder.requests.length; ) {
        seen = recorder.requests.length;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      const upstreamBefore = recorder.requests.length;
      for (const contentType of [undefined, 'text/plain']) {
        const response = await fetch(`${portal.url}${path}`, {
          method: 'POST',
          headers: {
            accept: MCP_HEADERS.accept,
            authorization: `Bearer ${token}`,
            ...modernHeaders('tools/call', 'echo'),
            ...(contentType ? { 'content-type': contentType } : {}),
          },
          body: JSON.stringify(call('echo')),
        });
        expect(response.status).toBe(415);
        expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number) } });
      }
      expect(recorder.requests.length).toBe(upstreamBefore);
    },
  );

  test('a 2026 request with a token for another resource gets 401 and a resource_metadata challenge', async () => {
    const response = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...modernHeaders('tools/call', 'recorder__echo'), authorization: `Bearer ${transparentToken}` },
      body: JSON.stringify(call('recorder__echo')),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('resource_metadata=');
  });

  test('a well-formed 2026 call after all that reaches the upstream once', async () => {
    const answer = await post('/mcp', aggregateToken, modernHeaders('tools/call', 'recorder__echo'), call('recorder__echo'));
    expect(answer.status).toBe(200);
    expect(answer.reachedUpstream).toBe(true);
  });
});
