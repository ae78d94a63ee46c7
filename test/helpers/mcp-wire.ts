import { setTimeout as sleep } from 'node:timers/promises';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Headers of a raw Streamable HTTP POST (MCP clients must accept both answer framings). */
export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** The text of a tool result's first content item. */
export function toolText(result: unknown): string {
  return ((result as CallToolResult).content[0] as { text: string }).text;
}

/** Polls `check` until it holds (no timing is asserted, only that it eventually holds). */
export async function until(check: () => boolean, tries = 200): Promise<void> {
  for (let i = 0; i < tries && !check(); i++) await sleep(25);
}
