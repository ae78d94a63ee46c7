import { authorizedToken } from '../helpers/agent.js';
import { adminDocument, adminFetch, adminToken } from '../helpers/admin.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { MCP_HEADERS } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, type TestPortal } from '../helpers/portal.js';

/** `depth` nested arrays around `inner`, as JSON text. */
const nested = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
/** `depth` nested objects `{"a":…}` around `inner`, as JSON text. */
const nestedObjects = (depth: number, inner = '1') => `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;

/** Every JSON body parser refuses deeply nested JSON before parsing it: a 400 in the endpoint's own shape, never a 500. */
describe('deeply nested JSON bodies', () => {
  let recorder: RecordingServer;
  let portal: TestPortal;
  let aggregateToken: string;
  let transparentToken: string;
  let admin: string;

  beforeAll(async () => {
    recorder = await startRecordingMcpServer();
    portal = await startTestPortal({ document: await adminDocument({ upstreams: [{ id: 'recorder', kind: 'mcp', url: recorder.url }] }) });
    aggregateToken = await authorizedToken(portal.url, ALICE, '/mcp');
    transparentToken = await authorizedToken(portal.url, ALICE, '/mcp/recorder');
    admin = await adminToken(portal.url);
  });
  afterAll(async () => {
    await portal?.close();
    await recorder?.close();
  });

  const bodies: Array<[string, string]> = [
    ['100 000 nested arrays', nested(100_000)],
    ['100 000 unclosed arrays', '['.repeat(100_000)],
    ['100 000 nested objects', nestedObjects(100_000)],
  ];

  test.each(bodies)('/register: %s is 400 invalid_request, and no client is registered', async (_name, body) => {
    const clientsBefore = await countClients();
    const res = await fetch(`${portal.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect(await countClients()).toBe(clientsBefore);
  });

  test('/register: valid metadata carrying one deeply nested member is refused the same way', async () => {
    const body = `{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none","software_statement_extra":${nested(10_000)}}`;
    const res = await fetch(`${portal.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  test.each([
    ['/mcp', () => aggregateToken, 'recorder__echo'],
    ['/mcp/recorder', () => transparentToken, 'echo'],
  ])('%s: deep JSON is a JSON-RPC Parse error (-32700) and nothing reaches the upstream', async (path, token, tool) => {
    const before = recorder.requests.length;
    for (const body of [
      ...bodies.map(([, text]) => text),
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${tool}","arguments":{"message":${nestedObjects(5_000, '"x"')}}}}`,
    ]) {
      const res = await fetch(`${portal.url}${path}`, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${token()}` },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    }
    expect(recorder.requests.length).toBe(before);
  });

  test('the admin API: deep JSON is 400 invalid_request, and no upstream is created', async () => {
    const body = `{"id":"deep","kind":"mcp","url":"http://127.0.0.1:9/mcp","title":${nested(50_000, '"t"')}}`;
    const res = await fetch(`${portal.url}/admin/api/v1/upstreams`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect((await adminFetch(portal.url, '/upstreams/deep', { token: admin })).status).toBe(404);
  });

  test('JSON nested within the limit (http.json_depth_limit, 64) is served', async () => {
    const res = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${aggregateToken}` },
      body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"experimental":${nestedObjects(50, '{}')}},"clientInfo":{"name":"raw","version":"1"}}}`,
    });
    expect(res.status).toBe(200);
  });

  test('brackets inside strings do not count towards the depth', async () => {
    const res = await fetch(`${portal.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['http://127.0.0.1:9/cb'],
        token_endpoint_auth_method: 'none',
        client_name: `${'[{'.repeat(200)}\\"{`,
      }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ client_name: `${'[{'.repeat(200)}\\"{` });
  });

  test('JSON in another charset than UTF-8 is 415 (RFC 8259 §8.1)', async () => {
    const res = await fetch(`${portal.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-16le' },
      body: Buffer.from(JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'] }), 'utf16le'),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  async function countClients(): Promise<number> {
    const res = await adminFetch(portal.url, '/clients', { token: admin });
    return ((await res.json()) as { clients: unknown[] }).clients.length;
  }
});
