import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** Calls `tool` on an MCP endpoint with a bearer token, through the MCP SDK client (v1), and disconnects. */
export async function callTool(url: string, token: string, tool: string, args: Record<string, unknown>): Promise<unknown> {
  const client = new Client({ name: 'token-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try {
    return await client.callTool({ name: tool, arguments: args });
  } finally {
    await client.close();
  }
}
