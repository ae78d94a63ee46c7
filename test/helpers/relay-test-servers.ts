import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** A JSON-RPC message as a test upstream receives it. */
export interface ReceivedMessage {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
}

/** A Streamable HTTP MCP server on 127.0.0.1 that can forget its sessions, as an upstream that restarted would. */
export interface ForgetfulServer {
  url: string;
  /** Headers of every request received. */
  requests: { method: string; headers: IncomingHttpHeaders }[];
  /** Every JSON-RPC message POSTed to it. */
  messages: ReceivedMessage[];
  /** Drops every session: a request naming one gets 404 (MCP "Session Management"). */
  forget(): void;
  close(): Promise<void>;
}

/**
 * An SDK `McpServer` per session with tool `echo`, and tool `chatty` that sends a logging
 * message (and progress, when the call asked for it) on the call's stream before it answers.
 */
function chattyServer(): McpServer {
  const server = new McpServer({ name: 'forgetful-upstream', version: '1.0.0' }, { capabilities: { logging: {} } });
  server.registerTool('echo', { inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text', text: message }],
  }));
  server.registerTool('chatty', { inputSchema: {} }, async (_args, extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'working on it' } });
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined)
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 1, total: 2 } });
    return { content: [{ type: 'text', text: 'done talking' }] };
  });
  return server;
}

/** A stateful Streamable HTTP MCP server at `/mcp` whose sessions {@link ForgetfulServer.forget} drops. */
export async function startForgetfulMcpServer(): Promise<ForgetfulServer> {
  const app = express();
  const requests: ForgetfulServer['requests'] = [];
  const messages: ReceivedMessage[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const everyTransport: StreamableHTTPServerTransport[] = [];
  app.use((req, _res, next) => {
    requests.push({ method: req.method, headers: req.headers });
    next();
  });
  app.use(express.json({ limit: '10mb' }));
  app.all('/mcp', async (req, res) => {
    if (req.method === 'POST') messages.push(...([] as ReceivedMessage[]).concat(req.body as ReceivedMessage));
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id) return void res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, created),
      });
      everyTransport.push(created);
      await chattyServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const server = http.createServer(app);
  const url = await listenLoopback(server);
  return {
    url,
    requests,
    messages,
    forget: () => sessions.clear(),
    close: async () => {
      await Promise.allSettled(everyTransport.map((transport) => transport.close()));
      await closeServer(server);
    },
  };
}

/** How a scripted upstream answers one `tools/call`: status, content type and body, written as they are. */
export interface ScriptedAnswer {
  status?: number;
  contentType: string;
  body: string;
}

/** A raw HTTP "MCP server" that speaks just enough Streamable HTTP to be initialized, then answers calls as scripted. */
export interface ScriptedServer {
  url: string;
  /** Every JSON-RPC message POSTed to it. */
  messages: ReceivedMessage[];
  close(): Promise<void>;
}

/**
 * Answers `initialize` (JSON with an `mcp-session-id`), notifications (202), GET (405: no
 * server-to-client stream), DELETE (200) and `tools/list` correctly; a `tools/call` of a tool
 * named in `tools` gets that tool's scripted answer, built from the call's id.
 */
export async function startScriptedMcpServer(tools: Record<string, (id: string | number) => ScriptedAnswer>): Promise<ScriptedServer> {
  const messages: ReceivedMessage[] = [];
  const sessionId = randomUUID();
  const json = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) =>
    void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    // Writing a big answer to a reader that gave up must not take this process down.
    res.on('error', () => {});
    req.socket.on('error', () => {});
    if (req.method === 'GET')
      return json(
        res,
        405,
        { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed' } },
        { allow: 'POST, DELETE' },
      );
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedMessage;
      messages.push(message);
      if (message.id === undefined) return void res.writeHead(202).end();
      if (message.method === 'initialize') {
        const result = {
          protocolVersion: message.params?.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: 'scripted-upstream', version: '1.0.0' },
        };
        return json(res, 200, { jsonrpc: '2.0', id: message.id, result }, { 'mcp-session-id': sessionId });
      }
      if (message.method === 'tools/list') {
        const listed = Object.keys(tools).map((name) => ({ name, inputSchema: { type: 'object' } }));
        return json(res, 200, { jsonrpc: '2.0', id: message.id, result: { tools: listed } });
      }
      const script = message.method === 'tools/call' ? tools[message.params?.name as string] : undefined;
      if (!script) return json(res, 200, { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } });
      const answer = script(message.id);
      res.writeHead(answer.status ?? 200, { 'content-type': answer.contentType });
      res.end(answer.body);
    });
  });
  const url = await listenLoopback(server);
  return { url, messages, close: () => closeServer(server) };
}

function listenLoopback(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`));
  });
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((done) => server.close(() => done()));
}
