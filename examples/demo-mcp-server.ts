import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Request, Response } from 'express';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { createMcpExpressApp } from '@modelcontextprotocol/express';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import { McpServer, PROTOCOL_VERSION_META_KEY, createMcpHandler, isInitializeRequest } from '@modelcontextprotocol/server';

/** Options of {@link startDemoMcpServer}. */
export interface DemoMcpServerOptions {
  /** Port to listen on; `0` (default) picks a free one. */
  port?: number;
  /** Interface to bind; default `127.0.0.1` (the portal reaches it in-process, nobody else should). */
  host?: string;
}

/** A running demo server. */
export interface DemoMcpServer {
  /** The Streamable HTTP endpoint, ending in `/mcp`. */
  url: string;
  /** Ends every session and stops listening. */
  close(): Promise<void>;
}

/** The demo's lists never change and are the same for everyone: a 2026 client (and Gatehouse) may keep them a minute. */
const LIST_CACHE_HINT = { ttlMs: 60_000, cacheScope: 'public' } as const;
const LIST_CACHE_HINTS = {
  'tools/list': LIST_CACHE_HINT,
  'prompts/list': LIST_CACHE_HINT,
  'resources/list': LIST_CACHE_HINT,
  'resources/templates/list': LIST_CACHE_HINT,
};

/** Header values the demo never shows back, even to the caller who sent them. */
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization', 'gatehouse-assertion']);

/**
 * The demo upstream that `npm start` fronts: a small MCP server over Streamable HTTP that
 * speaks MCP 2026-07-28 (stateless) and the session protocol (POST, GET SSE stream, DELETE), with tools `echo`, `add`, `get_time` and `whoami`,
 * the resource `demo://about` and the prompt `greet`. `whoami` shows who the portal says is
 * calling, by decoding (without verifying: it is a demo) the bearer JWT's claims.
 */
export async function startDemoMcpServer(options: DemoMcpServerOptions = {}): Promise<DemoMcpServer> {
  const host = options.host ?? '127.0.0.1';
  const app = createMcpExpressApp({ host });
  const sessions = new Map<string, NodeStreamableHTTPServerTransport>();

  // MCP 2026-07-28 requests are served statelessly, each by a fresh server; the session protocol as before.
  const modern = createMcpHandler(() => createDemoServer(), { legacy: 'reject' });
  const serveModern = toNodeHandler(modern);

  app.post('/mcp', async (req: Request, res: Response) => {
    if (claimsModernEra(req)) return serveModern(req, res, req.body);
    const existing = sessionOf(req, sessions);
    if (existing) return existing.handleRequest(req, res, req.body);
    if (req.headers['mcp-session-id']) return unknownSession(res);
    if (!isInitializeRequest(req.body)) {
      res.status(400).json(jsonRpcError(-32000, 'Bad Request: initialize first (no Mcp-Session-Id header)'));
      return;
    }
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    // One McpServer per session: an SDK server speaks to exactly one transport.
    await createDemoServer().connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  const sessionRequest = async (req: Request, res: Response): Promise<void> => {
    const transport = sessionOf(req, sessions);
    if (!transport)
      return req.headers['mcp-session-id']
        ? unknownSession(res)
        : void res.status(400).json(jsonRpcError(-32000, 'Bad Request: Mcp-Session-Id header required'));
    await transport.handleRequest(req, res);
  };
  app.get('/mcp', sessionRequest);
  app.delete('/mcp', sessionRequest);

  const server = await listen(app, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${urlHost}:${port}/mcp`,
    async close() {
      await modern.close();
      await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
      sessions.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open GET streams would otherwise hold close() until the client hangs up.
        server.closeAllConnections();
      });
    },
  };
}

/** The demo's tools, resource and prompt on a fresh server (one per session). */
function createDemoServer(): McpServer {
  const server = new McpServer(
    { name: 'gatehouse-demo', version: '0.1.0' },
    { instructions: 'A demo upstream behind Gatehouse. Try the whoami tool.', cacheHints: LIST_CACHE_HINTS },
  );

  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Returns the message it is given.',
      inputSchema: z.object({ message: z.string().describe('Text to send back') }),
      annotations: { readOnlyHint: true },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );

  server.registerTool(
    'add',
    {
      title: 'Add',
      description: 'Adds two numbers.',
      inputSchema: z.object({ a: z.number(), b: z.number() }),
      outputSchema: z.object({ sum: z.number() }),
      annotations: { readOnlyHint: true },
    },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    'get_time',
    {
      title: 'Current time',
      description: 'The server time as ISO 8601 (UTC).',
      annotations: { readOnlyHint: true },
    },
    async () => ({ content: [{ type: 'text', text: new Date().toISOString() }] }),
  );

  server.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description:
        'Who this upstream believes is calling: the claims of the bearer token Gatehouse sent (decoded, not verified) and the other headers.',
      annotations: { readOnlyHint: true },
    },
    async (ctx) => {
      const identity = describeCaller(ctx.http?.req?.headers);
      return { content: [{ type: 'text', text: JSON.stringify(identity, null, 2) }], structuredContent: identity };
    },
  );

  server.registerResource(
    'about',
    'demo://about',
    {
      title: 'About this demo',
      description: 'What the demo upstream is for.',
      mimeType: 'text/markdown',
    },
    async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'text/markdown',
          text: '# Gatehouse demo upstream\n\nA small MCP server that Gatehouse fronts. Its `whoami` tool shows the identity the portal forwards.\n',
        },
      ],
    }),
  );

  server.registerPrompt(
    'greet',
    {
      title: 'Greet',
      description: 'A greeting for someone.',
      argsSchema: z.object({ name: z.string().describe('Who to greet') }),
    },
    ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Write a short, friendly greeting for ${name}.` } }],
    }),
  );

  return server;
}

/** Claims of the bearer JWT (if any) and the request headers, secrets redacted. */
export function describeCaller(requestHeaders: Headers | undefined): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of requestHeaders ?? []) {
    headers[name] = SECRET_HEADERS.has(name.toLowerCase()) ? '[redacted]' : value;
  }
  const authorization = requestHeaders?.get('authorization');
  const token = authorization && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined;
  let claims: Record<string, unknown> | undefined;
  if (token) {
    try {
      const { sub, email, name, groups, act, aud, iss, client_id: clientId, scope } = decodeJwt(token);
      claims = { sub, email, name, groups, act, aud, iss, client_id: clientId, scope };
    } catch {
      claims = undefined;
    }
  }
  return { authenticated: claims !== undefined, claims: claims ?? null, headers };
}

/** A request of MCP 2026-07-28: it names a 2026 version in its header or in its `_meta`. */
function claimsModernEra(req: Request): boolean {
  const header = req.headers['mcp-protocol-version'];
  if (typeof header === 'string' && header >= '2026') return true;
  const meta = (req.body as { params?: { _meta?: Record<string, unknown> } } | undefined)?.params?._meta;
  return typeof meta === 'object' && meta !== null && PROTOCOL_VERSION_META_KEY in meta;
}

function sessionOf(req: Request, sessions: Map<string, NodeStreamableHTTPServerTransport>): NodeStreamableHTTPServerTransport | undefined {
  const id = req.headers['mcp-session-id'];
  return typeof id === 'string' ? sessions.get(id) : undefined;
}

/** MCP 2025-06-18 "Session Management": an unknown session id is 404, so the client starts a new one. */
function unknownSession(res: Response): void {
  res.status(404).json(jsonRpcError(-32001, 'Session not found'));
}

function jsonRpcError(code: number, message: string): Record<string, unknown> {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

function listen(app: ReturnType<typeof createMcpExpressApp>, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}
