import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MCP_HEADERS } from '../helpers/mcp-wire.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { accessTokenFor } from '../helpers/app-token.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/** A span as OTLP/HTTP JSON carries it (ids in hex). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

/** An OTLP/HTTP traces receiver on loopback: what a collector would get. */
async function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; services: string[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const services: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type']?.startsWith('application/json')) {
        const message = JSON.parse(body) as {
          resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        };
        for (const resourceSpans of message.resourceSpans) {
          services.push(...resourceSpans.resource.attributes.filter((a) => a.key === 'service.name').map((a) => a.value.stringValue!));
          for (const scope of resourceSpans.scopeSpans) spans.push(...scope.spans);
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    services,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const AGENT_SPAN = '00f067aa0ba902b7';
const traceparent = `00-${TRACE_ID}-${AGENT_SPAN}-01`;
const call = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: { message: 'traced' } } });
const attribute = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value;

describe('OpenTelemetry tracing, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let upstream: RecordingServer;
  let portal: TestPortal;

  beforeAll(async () => {
    collector = await startCollector();
    upstream = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'rec', kind: 'mcp', url: upstream.url }] },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'gatehouse-test' },
    });
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
    await collector?.close();
  });

  /** A 2025-11-25 session on `path`, then one traced tool call; returns the call's answer. */
  async function tracedCall(path: string, tool: string): Promise<string> {
    const token = await accessTokenFor(portal.url, ALICE, `${portal.url}${path}`);
    const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
    const opened = await fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'traced', version: '1' } },
      }),
    });
    await opened.text();
    const session = { 'mcp-session-id': opened.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    const res = await fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: { ...headers, ...session, traceparent },
      body: JSON.stringify(call(tool)),
    });
    return res.text();
  }

  test("a call's steps are spans of the agent's trace, and the upstream continues it from the portal's upstream-call span", async () => {
    expect(await tracedCall('/mcp/rec', 'echo')).toContain('traced');
    expect(await tracedCall('/mcp', 'rec__echo')).toContain('traced');
    await portal.close();

    const inTrace = collector.spans.filter((s) => s.traceId === TRACE_ID);
    const server = inTrace.filter((s) => s.kind === 2);
    expect(server.map((s) => s.name).sort()).toEqual(['POST /mcp', 'POST /mcp/:id']);
    // The portal's server spans continue the agent's span; its steps are their children.
    for (const span of server) expect(span.parentSpanId).toBe(AGENT_SPAN);
    for (const span of server) expect(attribute(span, 'enduser.id')?.stringValue).toBe('local:alice');
    const names = inTrace.map((s) => s.name);
    for (const step of ['bearer check', 'credential', 'upstream call', 'tool policy']) expect(names).toContain(step);
    const upstreamCalls = inTrace.filter((s) => s.name === 'upstream call');
    expect(upstreamCalls).toHaveLength(2);
    for (const span of upstreamCalls) expect(attribute(span, 'gatehouse.upstream')?.stringValue).toBe('rec');

    // What the upstream received: the same trace, its parent the portal's upstream-call span.
    const received = upstream.requests
      .map((r) => r.headers.traceparent)
      .filter((t): t is string => typeof t === 'string' && t.includes(TRACE_ID));
    expect(received.length).toBeGreaterThanOrEqual(2);
    const parents = received.map((t) => t.split('-')[2]);
    for (const span of upstreamCalls) expect(parents).toContain(span.spanId);
    expect(parents).not.toContain(AGENT_SPAN);
    expect(collector.services).toContain('gatehouse-test');
    // No span is named by a raw path or carries a query string or a token.
    expect(JSON.stringify(collector.spans)).not.toMatch(/Bearer|eyJ/);
  });
});
