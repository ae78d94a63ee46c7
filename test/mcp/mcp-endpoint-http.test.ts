import { setTimeout as sleep } from 'node:timers/promises';
import { AUDIT_STREAM } from '../../portal/audit/sinks.js';
import type { AuditEvent } from '../../portal/audit/event.js';
import { accessTokenFor } from '../helpers/app-token.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { MCP_HEADERS } from '../helpers/mcp-wire.js';

/**
 * The MCP endpoints run on node:http outside express: what every portal request gets (request
 * id, security headers, request log, metrics, the audit's source address under `trust_proxy`)
 * and the error mapping must be theirs too.
 */
const initialize = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const callEcho = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello' } } };

/** A session at `endpoint`, then one echo call; `headers` go on both requests. */
async function callThrough(endpoint: string, token: string, headers: Record<string, string> = {}): Promise<Response> {
  const opened = await fetch(endpoint, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers, authorization: `Bearer ${token}` },
    body: JSON.stringify(initialize),
  });
  expect(opened.status).toBe(200);
  await opened.text();
  const session = opened.headers.get('mcp-session-id')!;
  return fetch(endpoint, {
    method: 'POST',
    headers: {
      ...MCP_HEADERS,
      ...headers,
      authorization: `Bearer ${token}`,
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify(callEcho),
  });
}

/** The portal's audited tool calls so far (the Store's stream is written asynchronously: polled). */
async function toolCalls(portal: TestPortal, count: number): Promise<AuditEvent[]> {
  let calls: AuditEvent[] = [];
  for (let i = 0; i < 200 && calls.length < count; i++) {
    calls = (await portal.store.readStream(AUDIT_STREAM))
      .map((e) => JSON.parse(e.entry) as AuditEvent)
      .filter((e) => e.event === 'mcp_tool_call');
    if (calls.length < count) await sleep(25);
  }
  return calls;
}

describe('the MCP endpoints on node:http', () => {
  let upstream: RecordingServer;
  let behindProxy: TestPortal;
  let direct: TestPortal;
  let proxiedToken: string;
  let directToken: string;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    const document = async (http: Record<string, unknown>) => ({
      login: { accounts: await testAccounts() },
      upstreams: [{ id: 'rec', kind: 'mcp', url: upstream.url }],
      http,
    });
    // Behind a proxy on loopback, which says who the client is; the other portal trusts no proxy.
    behindProxy = await startTestPortal({ document: await document({ trust_proxy: 'loopback' }) });
    direct = await startTestPortal({ document: await document({}) });
    [proxiedToken, directToken] = await Promise.all([
      accessTokenFor(behindProxy.url, ALICE, `${behindProxy.url}/mcp/rec`),
      accessTokenFor(direct.url, ALICE, `${direct.url}/mcp/rec`),
    ]);
  });
  afterAll(async () => {
    await Promise.all([behindProxy?.close(), direct?.close()]);
    await upstream?.close();
  });

  test("the audit names the client a trusted proxy forwarded for, and only a trusted proxy's word counts", async () => {
    const forwarded = { 'x-forwarded-for': '203.0.113.7' };
    expect((await callThrough(`${behindProxy.url}/mcp/rec`, proxiedToken, forwarded)).status).toBe(200);
    expect((await callThrough(`${direct.url}/mcp/rec`, directToken, forwarded)).status).toBe(200);
    const [trusted] = await toolCalls(behindProxy, 1);
    const [untrusted] = await toolCalls(direct, 1);
    expect(trusted).toMatchObject({ person: 'local:alice', upstream: 'rec', source_ip: '203.0.113.7' });
    expect(untrusted).toMatchObject({ person: 'local:alice', upstream: 'rec', source_ip: expect.stringMatching(/127\.0\.0\.1$/) });
  });

  test('answers and refusals carry the request id and the security headers; each request is logged with its path', async () => {
    const answered = await callThrough(`${direct.url}/mcp/rec`, directToken, { 'x-request-id': 'trace-mcp-1' });
    const refused = await fetch(`${direct.url}/mcp/rec`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'x-request-id': 'trace-mcp-2' },
      body: JSON.stringify(callEcho),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain(
      `resource_metadata="${direct.url}/.well-known/oauth-protected-resource/mcp/rec"`,
    );
    for (const [res, id] of [
      [answered, 'trace-mcp-1'],
      [refused, 'trace-mcp-2'],
    ] as const) {
      expect(res.headers.get('x-request-id')).toBe(id);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(direct.logs.lines.some((line) => line.reqId === id && line.path === '/mcp/rec' && line.status === res.status)).toBe(true);
    }
  });

  test('metrics label MCP requests by endpoint pattern, never by the upstream id in the path', async () => {
    await callThrough(`${direct.url}/mcp/rec`, directToken);
    await fetch(`${direct.url}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: '{}' });
    const text = await (await fetch(`${direct.url}/metrics`)).text();
    expect(text).toMatch(/gatehouse_http_requests_total\{method="POST",route="\/mcp\/:id",status="200"\} \d+/);
    expect(text).toMatch(/gatehouse_http_requests_total\{method="POST",route="\/mcp",status="401"\} \d+/);
    expect(text).not.toContain('route="/mcp/rec"');
  });

  test('metrics count and time upstream calls per upstream and tool, on /mcp/{id} and the aggregate alike', async () => {
    const counted = async () => {
      const text = await (await fetch(`${direct.url}/metrics`)).text();
      const count = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
      return {
        calls: count(/^gatehouse_upstream_calls_total\{upstream="rec",method="tools\/call",name="echo",outcome="success"\} (\d+)$/m),
        timed: count(/^gatehouse_upstream_call_duration_seconds_count\{upstream="rec",method="tools\/call",name="echo"\} (\d+)$/m),
      };
    };
    const before = await counted();
    expect((await callThrough(`${direct.url}/mcp/rec`, directToken)).status).toBe(200);
    const aggregateToken = await accessTokenFor(direct.url, ALICE, `${direct.url}/mcp`);
    const res = await fetch(`${direct.url}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${aggregateToken}`, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify(initialize),
    });
    const session = res.headers.get('mcp-session-id')!;
    await res.text();
    const call = { ...callEcho, params: { ...callEcho.params, name: 'rec__echo' } };
    const called = await fetch(`${direct.url}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${aggregateToken}`,
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify(call),
    });
    expect(await called.text()).toContain('hello');
    expect(await counted()).toEqual({ calls: before.calls + 2, timed: before.timed + 2 });
  });

  test('paths: a trailing slash names the same endpoint; anything deeper, undecodable or the aggregate by name is a JSON-RPC 404, never a 500', async () => {
    const slash = await fetch(`${direct.url}/mcp/rec/`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${directToken}` },
      body: JSON.stringify(initialize),
    });
    expect(slash.status).toBe(200);
    await slash.text();
    for (const path of ['/mcp/rec/deeper', '/mcp/%E0%A4%A', '/mcp/unknown', '/mcp/aggregate']) {
      const res = await fetch(`${direct.url}${path}`, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${directToken}` },
        body: JSON.stringify(initialize),
      });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number) }, id: null });
    }
  });
});
