import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A hand-written MCP server on 127.0.0.1, and what it was sent. */
export interface JsonRpcServer {
  url: string;
  received: { method: string; params: Record<string, unknown>; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** What `answer` returns to make the server answer with a JSON-RPC error instead of a result. */
export class JsonRpcErrorAnswer {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

/**
 * Answers each POSTed JSON-RPC request (as one JSON body) with the result `answer` gives for its
 * method (an error for a {@link JsonRpcErrorAnswer}), or "method not found" when it gives none: for upstreams that misbehave, or that speak
 * what the SDKs do not (yet).
 */
export async function startJsonRpcServer(answer: (method: string, params: Record<string, unknown>) => unknown): Promise<JsonRpcServer> {
  const received: JsonRpcServer['received'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const {
        id,
        method,
        params = {},
      } = JSON.parse(Buffer.concat(chunks).toString()) as { id: number | string; method: string; params?: Record<string, unknown> };
      received.push({ method, params, headers: req.headers });
      const result = answer(method, params);
      res.writeHead(200, { 'content-type': 'application/json' });
      const error =
        result === undefined
          ? new JsonRpcErrorAnswer(-32601, 'Method not found')
          : result instanceof JsonRpcErrorAnswer
            ? result
            : undefined;
      res.end(
        JSON.stringify(
          error ? { jsonrpc: '2.0', id, error: { code: error.code, message: error.message } } : { jsonrpc: '2.0', id, result },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
