import { createStreamableHttpUpstream } from './mcp-streamable-http.js';
import { createStdioUpstream } from './mcp-stdio.js';
import type { McpUpstream, McpUpstreamDeps, McpUpstreamOptions } from './mcp-upstream-types.js';

export type * from './mcp-upstream-types.js';

/** Picks the implementation: `url` → Streamable HTTP (with SSE fallback), `command` → stdio. */
export function createMcpUpstream(options: McpUpstreamOptions, deps: McpUpstreamDeps): McpUpstream {
  if (options.url && options.command) throw new TypeError(`upstream "${options.id}": set either url or command, not both`);
  if (options.url) return createStreamableHttpUpstream(options, deps);
  if (options.command?.length) return createStdioUpstream(options, deps);
  throw new TypeError(`upstream "${options.id}": an MCP upstream needs a url or a command`);
}
