import { setTimeout as sleep } from 'node:timers/promises';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Headers of a raw Streamable HTTP POST (MCP clients must accept both answer framings). */
export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** The headers of a raw MCP 2026-07-28 request for `method` (and `name`, the tool's or prompt's, where it has one). */
export function modernHeaders(method: string, name?: string): Record<string, string> {
  return { 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) };
}

/** The answer to a raw POST: its single JSON body, or the last message of its SSE stream. */
export async function lastMessage<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!response.headers.get('content-type')?.includes('text/event-stream')) return JSON.parse(text) as T;
  const data = text.split('\n').filter((line) => line.startsWith('data: '));
  return JSON.parse(data.at(-1)!.slice('data: '.length)) as T;
}

/** The text of a tool result's first content item. */
export function toolText(result: unknown): string {
  return ((result as CallToolResult).content[0] as { text: string }).text;
}

/** Polls `check` until it holds (no timing is asserted, only that it eventually holds). */
export async function until(check: () => boolean, tries = 200): Promise<void> {
  for (let i = 0; i < tries && !check(); i++) await sleep(25);
}
