import { LoggingMessageNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { startRawServer, startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

interface JsonRpcError {
  jsonrpc: string;
  error: { code: number; message: string };
  id: null;
}

describe('MCP endpoint bad input', () => {
  let healthy: RecordingServer;
  let doomed: RecordingServer;
  let garbage: RecordingServer;
  let hanging: RecordingServer;
  let portal: TestPortal;
  let alice: Agent;
  const warnings: string[] = [];

  beforeAll(async () => {
    healthy = await startRecordingMcpServer();
    doomed = await startRecordingMcpServer();
    garbage = await startRawServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not MCP</html>'));
    hanging = await startRawServer(() => {});
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        http: { body_limit: '10kb' },
        upstreams: [
          // Calls to tools it never listed go upstream (not held for an administrator): the header encoding is under test.
          { id: 'healthy', kind: 'mcp', url: healthy.url, tools: { pinning: 'off' } },
          { id: 'doomed', kind: 'mcp', url: doomed.url },
          { id: 'garbage', kind: 'mcp', url: garbage.url },
          { id: 'hanging', kind: 'mcp', url: hanging.url, connect_timeout: '300ms', call_timeout: '300ms' },
        ],
      },
    });
    alice = await connectAgent(portal.url, ALICE, {
      setup: (client) =>
        client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void warnings.push(String(n.params.data))),
    });
  });
  afterAll(async () => {
    await alice?.client.close();
    await portal?.close();
    for (const server of [healthy, doomed, garbage, hanging]) await server?.close();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body,
    });
  const authorized = () => ({
    authorization: `Bearer ${alice.accessToken()}`,
    'mcp-session-id': alice.transport.sessionId!,
    'mcp-protocol-version': '2025-06-18',
  });
  const listTools = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' });

  test('no token: 401 pointing at the resource metadata', async () => {
    const res = await post('/mcp', listTools);
    expect(res.status).toBe(401);
    // RFC 9449 §7.2: both schemes offered, no error without a token.
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${portal.url}/.well-known/oauth-protected-resource/mcp", scope="mcp", DPoP algs="ES256 ES384 ES512 EdDSA Ed25519 PS256 PS384 PS512 RS256 RS384 RS512"`,
    );
  });

  test('a token for the aggregate is refused at /mcp/{id} (wrong audience)', async () => {
    const res = await post('/mcp/healthy', listTools, { authorization: `Bearer ${alice.accessToken()}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(
      `resource_metadata="${portal.url}/.well-known/oauth-protected-resource/mcp/healthy"`,
    );
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  test('a browser Origin that is not the portal, loopback or configured is 403 (DNS rebinding)', async () => {
    const evil = await post('/mcp', listTools, { ...authorized(), origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(((await evil.json()) as JsonRpcError).error.code).toBe(-32000);
    expect((await post('/mcp', listTools, { ...authorized(), origin: 'null' })).status).toBe(403);
    for (const origin of [portal.url, 'http://localhost:6274']) {
      const res = await post('/mcp', listTools, { ...authorized(), origin });
      expect(res.status).toBe(200);
      await res.text();
    }
  });

  test('an unknown upstream endpoint is 404', async () => {
    expect((await post('/mcp/nope', listTools, { authorization: `Bearer ${alice.accessToken()}` })).status).toBe(404);
  });

  test("another person's session id is 404, never its data", async () => {
    const bob = await connectAgent(portal.url, BOB);
    try {
      const res = await post('/mcp', listTools, { ...authorized(), authorization: `Bearer ${bob.accessToken()}` });
      expect(res.status).toBe(404);
      expect((await res.json()) as JsonRpcError).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 }, id: null });
    } finally {
      await bob.client.close();
    }
  });

  test('a request without a session id is 400, an unknown one 404', async () => {
    const { 'mcp-session-id': _, ...noSession } = authorized();
    expect((await post('/mcp', listTools, noSession)).status).toBe(400);
    expect((await post('/mcp', listTools, { ...authorized(), 'mcp-session-id': '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
  });

  test('malformed JSON is a JSON-RPC parse error; a non-JSON-RPC body an invalid request', async () => {
    const parse = await post('/mcp', '{"jsonrpc": "2.0", "id": 1, "method": ', authorized());
    expect(parse.status).toBe(400);
    expect(((await parse.json()) as JsonRpcError).error.code).toBe(-32700);
    const invalid = await post('/mcp', JSON.stringify({ hello: 'world' }), authorized());
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as JsonRpcError).error.code).toBe(-32600);
  });

  test('a batch that uses one request id twice is Invalid Request (-32600), relayed or not, and nothing is sent upstream', async () => {
    const relayed = await connectAgent(portal.url, ALICE, { path: '/mcp/healthy' });
    const call = (id: number | string, message: string, name: string) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: { message } },
    });
    const cases: Array<[string, Record<string, string>, string]> = [
      [
        '/mcp/healthy',
        {
          authorization: `Bearer ${relayed.accessToken()}`,
          'mcp-session-id': relayed.transport.sessionId!,
          'mcp-protocol-version': '2025-06-18',
        },
        'echo',
      ],
      ['/mcp', authorized(), 'healthy__echo'],
    ];
    // The agent's own GET stream may reach the upstream meanwhile: only POSTs carry messages.
    const posts = () => healthy.requests.filter((r) => r.method === 'POST').length;
    try {
      for (const [path, headers, name] of cases) {
        const before = posts();
        const res = await post(path, JSON.stringify([call(1, 'first', name), call(1, 'second', name)]), headers);
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32600, message: expect.stringContaining('request id twice') },
        });
        expect(posts()).toBe(before);
        // The same batch with distinct ids is served; a number and a string that read alike are distinct ids.
        const served = await post(path, JSON.stringify([call(1, 'first', name), call('1', 'second', name)]), headers);
        expect(served.status).toBe(200);
      }
    } finally {
      await relayed.client.close();
    }
  });

  test('a message that is not JSON-RPC 2.0 as MCP uses it is Invalid Request (-32600), relayed or not, and nothing is sent upstream', async () => {
    const relayed = await connectAgent(portal.url, ALICE, { path: '/mcp/healthy' });
    const posts = () => healthy.requests.filter((r) => r.method === 'POST').length;
    const invalid = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: 'echo' },
      { jsonrpc: '2.0', id: null, method: 'tools/list' },
      { jsonrpc: '2.0', id: { nested: 1 }, method: 'tools/list' },
      { jsonrpc: '2.0', id: 1, method: 7 },
      { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'both' } },
      { jsonrpc: '2.0', id: 1, error: 'not an object' },
      [],
    ];
    const cases: Array<[string, Record<string, string>]> = [
      [
        '/mcp/healthy',
        {
          authorization: `Bearer ${relayed.accessToken()}`,
          'mcp-session-id': relayed.transport.sessionId!,
          'mcp-protocol-version': '2025-06-18',
        },
      ],
      ['/mcp', authorized()],
    ];
    try {
      for (const [path, headers] of cases) {
        for (const body of invalid) {
          const before = posts();
          const res = await post(path, JSON.stringify(body), headers);
          expect(res.status).toBe(400);
          expect(((await res.json()) as JsonRpcError).error.code).toBe(-32600);
          expect(posts()).toBe(before);
        }
      }
    } finally {
      await relayed.client.close();
    }
  });

  test('a relayed message whose method or tool name cannot be a header value goes upstream in the MCP Base64 header encoding, never a 500', async () => {
    const relayed = await connectAgent(portal.url, ALICE, { path: '/mcp/healthy' });
    const headers = {
      authorization: `Bearer ${relayed.accessToken()}`,
      'mcp-session-id': relayed.transport.sessionId!,
      'mcp-protocol-version': '2025-06-18',
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    };
    try {
      for (const [method, name] of [
        ['tools/call', 'ech\no'],
        ['tools/call', 'écho'],
        ['\u0000', 'echo'],
      ]) {
        const res = await post(
          '/mcp/healthy',
          JSON.stringify({ jsonrpc: '2.0', id: 5, method, params: { name, arguments: { message: 'x' } } }),
          headers,
        );
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: 5 });
        const sent = healthy.requests.filter((r) => r.method === 'POST').at(-1)!.headers;
        const encoded = (value: string) => `=?base64?${Buffer.from(value).toString('base64')}?=`;
        expect(sent['mcp-method']).toBe(method === 'tools/call' ? method : encoded(method!));
        expect(sent['mcp-name']).toBe(name === 'echo' ? name : encoded(name!));
      }
    } finally {
      await relayed.client.close();
    }
  });

  test('an oversized message is 413', async () => {
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'healthy__echo', arguments: { message: 'x'.repeat(20_000) } },
    });
    const res = await post('/mcp', big, authorized());
    expect(res.status).toBe(413);
    expect(((await res.json()) as JsonRpcError).jsonrpc).toBe('2.0');
  });

  test('upstreams that speak garbage or hang are left out of lists with a warning; calls get a tool error; the portal stays healthy', async () => {
    const { tools } = await alice.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('healthy__echo');
    expect(names.some((n) => n.startsWith('garbage__') || n.startsWith('hanging__'))).toBe(false);
    expect(warnings.some((w) => w.includes('"garbage"'))).toBe(true);
    expect(warnings.some((w) => w.includes('"hanging"'))).toBe(true);
    for (const name of ['garbage__anything', 'hanging__anything']) {
      const result = (await alice.client.callTool({ name, arguments: {} })) as CallToolResult;
      expect(result.isError).toBe(true);
    }
    expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
  });

  test('an upstream killed mid-session: the others still answer, calls to it get a tool error', async () => {
    expect(
      ((await alice.client.callTool({ name: 'doomed__echo', arguments: { message: 'alive' } })) as CallToolResult).content[0],
    ).toMatchObject({ text: 'alive' });
    await doomed.close();
    const result = (await alice.client.callTool({ name: 'doomed__echo', arguments: { message: 'still?' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(
      ((await alice.client.callTool({ name: 'healthy__echo', arguments: { message: 'fine' } })) as CallToolResult).content[0],
    ).toMatchObject({ text: 'fine' });
    const { tools } = await alice.client.listTools();
    expect(tools.map((t) => t.name)).toContain('healthy__echo');
  });
});
