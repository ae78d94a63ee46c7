import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { TestOAuthProvider } from './mcp-oauth-client.js';

export interface Agent {
  client: Client;
  transport: StreamableHTTPClientTransport;
  provider: TestOAuthProvider;
  /** The agent's current access token (for checks that it never reaches an upstream). */
  accessToken(): string;
}

/**
 * An MCP SDK client authorized as `person` (discovery, registration, PKCE, sign-in, consent)
 * and connected to `path` on the portal. `fetch` may rewrite where requests go (several portal processes).
 */
export async function connectAgent(
  portalUrl: string,
  person: { username: string; password: string },
  options: { path?: string; capabilities?: ClientCapabilities; fetch?: typeof fetch; setup?: (client: Client) => void } = {},
): Promise<Agent> {
  const endpoint = new URL(`${portalUrl}${options.path ?? '/mcp'}`);
  const provider = new TestOAuthProvider(portalUrl, person);
  const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider });
  await new Client({ name: 'agent', version: '1.0.0' }).connect(first).catch(() => {});
  if (!provider.code) throw new Error('the authorization did not produce a code');
  await first.finishAuth(provider.code);
  const client = new Client({ name: 'agent', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  options.setup?.(client);
  const transport = new StreamableHTTPClientTransport(endpoint, { authProvider: provider, fetch: options.fetch });
  await client.connect(transport);
  return { client, transport, provider, accessToken: () => provider.tokens()!.access_token };
}
