import { pino } from 'pino';
import { createMcpUpstream, type McpUpstream, type McpUpstreamOptions } from '../../adapters/mcp-upstream.js';
import { UpstreamError } from '../../adapters/upstream-errors.js';
import {
  closedPort,
  startLegacySseServer,
  startRawServer,
  startRecordingMcpServer,
  type RecordingServer,
} from '../helpers/mcp-test-servers.js';

const logger = pino({ level: 'silent' });
const upstreams: McpUpstream[] = [];
const servers: RecordingServer[] = [];

function upstreamAt(url: string, options: Partial<McpUpstreamOptions> = {}): McpUpstream {
  const upstream = createMcpUpstream({ id: 'app', url, connectTimeoutMs: 5_000, callTimeoutMs: 5_000, ...options }, { logger });
  upstreams.push(upstream);
  return upstream;
}

async function serve(server: Promise<RecordingServer>): Promise<RecordingServer> {
  const started = await server;
  servers.push(started);
  return started;
}

afterAll(async () => {
  await Promise.allSettled(upstreams.map((upstream) => upstream.close()));
  await Promise.allSettled(servers.map((server) => server.close()));
});

describe('headers', () => {
  it('sends exactly the headers the caller hands over on every request upstream', async () => {
    const server = await serve(startRecordingMcpServer());
    const connection = await upstreamAt(server.url).connect({
      ownerKey: 'alice',
      headers: { Authorization: 'Bearer minted-for-alice', 'X-Gatehouse-User': 'alice@example.com' },
    });
    await connection.client.callTool({ name: 'echo', arguments: { message: 'x' } });
    await connection.terminate();
    const methods = server.requests.map((request) => request.method);
    expect(methods).toEqual(expect.arrayContaining(['POST', 'DELETE']));
    for (const request of server.requests) {
      expect(request.headers.authorization).toBe('Bearer minted-for-alice');
      expect(request.headers['x-gatehouse-user']).toBe('alice@example.com');
    }
  });

  it('asks a headers function before every request, so each carries a freshly minted credential', async () => {
    for (const server of [await serve(startRecordingMcpServer()), await serve(startLegacySseServer())]) {
      let minted = 0;
      const connection = await upstreamAt(server.url).connect({
        ownerKey: 'alice',
        headers: () => ({ Authorization: `Bearer minted-${++minted}` }),
      });
      await connection.client.callTool({ name: 'echo', arguments: { message: 'x' } });
      await connection.close();
      const sent = server.requests.map((request) => request.headers.authorization);
      expect(sent.length).toBeGreaterThan(2);
      expect(new Set(sent).size).toBe(sent.length);
      expect(sent.every((value) => /^Bearer minted-\d+$/.test(String(value)))).toBe(true);
    }
  });

  it('keeps the headers of two connections apart', async () => {
    const server = await serve(startRecordingMcpServer());
    const upstream = upstreamAt(server.url);
    const alice = await upstream.connect({ ownerKey: 'alice', headers: { Authorization: 'Bearer a' } });
    const bob = await upstream.connect({ ownerKey: 'bob', headers: { Authorization: 'Bearer b' } });
    await Promise.all([alice.client.listTools(), bob.client.listTools()]);
    const bySession = new Map<string, Set<string>>();
    for (const request of server.requests) {
      const session = String(request.headers['mcp-session-id'] ?? '');
      if (!session) continue;
      bySession.set(session, (bySession.get(session) ?? new Set()).add(String(request.headers.authorization)));
    }
    expect(bySession.get(alice.sessionId!)).toEqual(new Set(['Bearer a']));
    expect(bySession.get(bob.sessionId!)).toEqual(new Set(['Bearer b']));
  });
});

describe('cancellation', () => {
  it("sends notifications/cancelled upstream when the caller's signal aborts", async () => {
    for (const server of [await serve(startRecordingMcpServer()), await serve(startLegacySseServer())]) {
      const connection = await upstreamAt(server.url).connect({ ownerKey: 'alice' });
      const controller = new AbortController();
      const call = connection.client.callTool({ name: 'wait', arguments: { label: 'job-1' } }, { signal: controller.signal });
      await waitFor(() => server.waits.started.includes('job-1'));
      controller.abort('agent cancelled');
      await expect(call).rejects.toMatchObject({ code: 'ERR_UPSTREAM_CANCELLED' });
      await waitFor(() => server.waits.cancelled.includes('job-1'));
      await connection.close();
    }
  });
});

describe('legacy HTTP+SSE upstream', () => {
  it('falls back to HTTP+SSE when the Streamable HTTP POST gets a 4xx, with the same headers', async () => {
    const server = await serve(startLegacySseServer());
    const connection = await upstreamAt(server.url).connect({ ownerKey: 'alice', headers: { Authorization: 'Bearer legacy' } });
    expect(connection.transportKind).toBe('sse');
    expect(connection.sessionId).toBeUndefined();
    expect(connection.session).toBeUndefined();
    await expect(connection.client.callTool({ name: 'echo', arguments: { message: 'old school' } })).resolves.toMatchObject({
      content: [{ text: 'old school' }],
    });
    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual(
      expect.arrayContaining(['POST /mcp', 'GET /mcp', 'POST /messages']),
    );
    for (const request of server.requests) expect(request.headers.authorization).toBe('Bearer legacy');
    await connection.close();
  });

  it('does not fall back when told to speak Streamable HTTP only', async () => {
    const server = await serve(startLegacySseServer());
    await expect(upstreamAt(server.url, { httpTransport: 'streamable-http' }).connect({ ownerKey: 'alice' })).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_PROTOCOL',
    });
  });
});

describe('failures', () => {
  it('times out with ERR_UPSTREAM_TIMEOUT when the upstream never answers', async () => {
    const server = await serve(
      startRawServer(() => {
        /* never answers */
      }),
    );
    const failure = upstreamAt(server.url, { connectTimeoutMs: 300 }).connect({ ownerKey: 'alice' });
    await expect(failure).rejects.toBeInstanceOf(UpstreamError);
    await expect(failure).rejects.toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT', upstreamId: 'app', timeoutMs: 300 });
  });

  it('reports ERR_UPSTREAM_UNAVAILABLE when nothing listens on the port', async () => {
    const port = await closedPort();
    await expect(upstreamAt(`http://127.0.0.1:${port}/mcp`).connect({ ownerKey: 'alice' })).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_UNAVAILABLE',
    });
  });

  it('reports ERR_UPSTREAM_PROTOCOL when the upstream answers garbage', async () => {
    const server = await serve(
      startRawServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>welcome to the wiki</html>');
      }),
    );
    const failure = upstreamAt(server.url).connect({ ownerKey: 'alice' });
    await expect(failure).rejects.toMatchObject({ code: 'ERR_UPSTREAM_PROTOCOL' });
    // The upstream's body is for the log, never for the agent.
    await expect(failure).rejects.toMatchObject({ message: expect.not.stringContaining('wiki') });
  });

  it('reports ERR_UPSTREAM_PROTOCOL when the upstream answers invalid JSON-RPC', async () => {
    const server = await serve(
      startRawServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
      }),
    );
    await expect(upstreamAt(server.url).connect({ ownerKey: 'alice' })).rejects.toMatchObject({ code: 'ERR_UPSTREAM_PROTOCOL' });
  });

  it('reports ERR_UPSTREAM_PROTOCOL when neither transport is spoken (404 everywhere)', async () => {
    const server = await serve(
      startRawServer((_req, res) => {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }),
    );
    await expect(upstreamAt(server.url).connect({ ownerKey: 'alice' })).rejects.toMatchObject({ code: 'ERR_UPSTREAM_PROTOCOL' });
    // The server/discover probe, initialize (Streamable HTTP), then the legacy SSE stream.
    expect(server.requests.map((request) => request.method)).toEqual(['POST', 'POST', 'GET']);
  });

  it('reports ERR_UPSTREAM_UNAUTHORIZED on 401 without trying the legacy transport', async () => {
    const server = await serve(
      startRawServer((_req, res) => {
        res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      }),
    );
    await expect(upstreamAt(server.url).connect({ ownerKey: 'alice' })).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_UNAUTHORIZED',
      status: 401,
    });
    expect(server.requests.map((request) => request.method)).toEqual(['POST']);
  });

  it('reports ERR_UPSTREAM_UNAVAILABLE on a 5xx', async () => {
    const server = await serve(
      startRawServer((_req, res) => {
        res.writeHead(503).end('maintenance');
      }),
    );
    await expect(upstreamAt(server.url).connect({ ownerKey: 'alice' })).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
