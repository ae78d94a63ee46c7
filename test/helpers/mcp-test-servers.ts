import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { pino, type Logger } from 'pino';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CreateMessageResultSchema } from '@modelcontextprotocol/sdk/types.js';

/** A test server on 127.0.0.1 with the headers of every request it received. */
export interface RecordingServer {
  url: string;
  requests: { method: string; path: string; headers: IncomingHttpHeaders }[];
  /** Labels of the `wait` calls that started, and of those the client cancelled (`notifications/cancelled` arrived). */
  waits: Waits;
  close(): Promise<void>;
}

interface Waits {
  started: string[];
  cancelled: string[];
}

/**
 * A minimal MCP server on a fresh SDK `McpServer`: tool `echo`, tool `grow` (adds a tool), with `sample` a tool `sample`
 * (asks the client to sample), and tool `wait` that only
 * ends when the client cancels it, noting both in `waits`.
 */
function echoServer(waits: Waits, options: { sample?: boolean } = {}): McpServer {
  const server = new McpServer({ name: 'test-upstream', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text', text: message }],
  }));
  // Adds a tool, so the server announces notifications/tools/list_changed on its GET stream.
  let grown = 0;
  server.registerTool('grow', { inputSchema: {} }, async () => {
    const name = `grown-${++grown}`;
    server.registerTool(name, { inputSchema: {} }, async () => ({ content: [{ type: 'text', text: name }] }));
    return { content: [{ type: 'text', text: name }] };
  });
  // Asks the client to sample (a server→client request in the middle of the call).
  if (options.sample)
    server.registerTool('sample', { inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
      const answer = await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 10 },
        },
        CreateMessageResultSchema,
      );
      return { content: [{ type: 'text', text: `sampled: ${(answer.content as { text?: string }).text ?? ''}` }] };
    });
  server.registerTool(
    'wait',
    { inputSchema: { label: z.string() } },
    ({ label }, extra) =>
      new Promise((resolve) => {
        waits.started.push(label);
        extra.signal.addEventListener('abort', () => {
          waits.cancelled.push(label);
          resolve({ content: [{ type: 'text', text: 'cancelled' }] });
        });
      }),
  );
  return server;
}

/**
 * The route of a stateful Streamable HTTP MCP server (SDK v1): `initialize` opens a session on a
 * fresh server from `newServer`, later requests find theirs in `sessions`, an unknown one is 404.
 */
export function statefulMcpRoute(sessions: Map<string, StreamableHTTPServerTransport>, newServer: () => McpServer): express.RequestHandler {
  return async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id) return void res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, created),
      });
      await newServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  };
}

/** A stateful Streamable HTTP MCP server at `/mcp` that records request headers. */
export async function startRecordingMcpServer(options: { sample?: boolean; eventStreamDelayMs?: number } = {}): Promise<RecordingServer> {
  const app = express();
  const requests: RecordingServer['requests'] = [];
  const waits: Waits = { started: [], cancelled: [] };
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  app.use((req, _res, next) => {
    requests.push({ method: req.method, path: req.path, headers: req.headers });
    // `eventStreamDelayMs`: a session's GET event stream opens that much later (a slow upstream).
    if (req.method === 'GET' && options.eventStreamDelayMs) setTimeout(next, options.eventStreamDelayMs);
    else next();
  });
  app.use(express.json());
  app.all(
    '/mcp',
    statefulMcpRoute(sessions, () => echoServer(waits, options)),
  );
  return listen(app, requests, waits, async () => {
    await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
  });
}

/** A legacy HTTP+SSE MCP server (protocol 2024-11-05): GET `/mcp` opens the stream, POSTs go to `/messages`. */
export async function startLegacySseServer(): Promise<RecordingServer> {
  const app = express();
  const requests: RecordingServer['requests'] = [];
  const transports = new Map<string, SSEServerTransport>();
  const waits: Waits = { started: [], cancelled: [] };
  app.use((req, _res, next) => {
    requests.push({ method: req.method, path: req.path, headers: req.headers });
    next();
  });
  app.get('/mcp', async (_req, res) => {
    const transport = new SSEServerTransport('/messages', res);
    transports.set(transport.sessionId, transport);
    res.on('close', () => transports.delete(transport.sessionId));
    await echoServer(waits).connect(transport);
  });
  app.post('/messages', express.json(), async (req, res) => {
    const transport = transports.get(String(req.query.sessionId));
    if (!transport) return void res.status(404).send('unknown session');
    await transport.handlePostMessage(req, res, req.body);
  });
  return listen(app, requests, waits, async () => {
    await Promise.allSettled([...transports.values()].map((transport) => transport.close()));
  });
}

/** A plain HTTP server answering with `handler` (a hanging or garbage-speaking "upstream"). */
export async function startRawServer(handler: RequestListener): Promise<RecordingServer> {
  const requests: RecordingServer['requests'] = [];
  return listen(
    (req, res) => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
      handler(req, res);
    },
    requests,
    { started: [], cancelled: [] },
    async () => {},
  );
}

function listen(
  handler: RequestListener,
  requests: RecordingServer['requests'],
  waits: Waits,
  beforeClose: () => Promise<void>,
): Promise<RecordingServer> {
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/mcp`,
        requests,
        waits,
        close: async () => {
          await beforeClose();
          server.closeAllConnections();
          await new Promise<void>((done) => server.close(() => done()));
        },
      });
    });
  });
}

/** A pino logger whose JSON lines land in `lines` (parsed), for asserting what was logged. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, destination), lines };
}

/** A free TCP port on 127.0.0.1 with nothing listening on it (closed right after it is found). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
