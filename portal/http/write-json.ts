import type { ServerResponse } from 'node:http';

/**
 * One JSON body, written by `node:http` itself. For the routes that run outside express (the MCP
 * endpoint) and for answers where express's extras (ETag, freshness) would be wasted work.
 * `body` is the JSON text, or a value to serialize.
 */
export function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res
    .writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
    .end(text);
}
