import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernTransport,
  type ClientCapabilities as ModernClientCapabilities,
} from '@modelcontextprotocol/client';
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
  const provider = await authorize(portalUrl, person, endpoint);
  const client = new Client({ name: 'agent', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  options.setup?.(client);
  const transport = new StreamableHTTPClientTransport(endpoint, { authProvider: provider, fetch: options.fetch });
  await client.connect(transport);
  return { client, transport, provider, accessToken: () => provider.tokens()!.access_token };
}

/**
 * A v2 SDK client that speaks MCP 2026-07-28 (stateless) to `path` on the portal, with a token
 * from the same OAuth flow as {@link connectAgent}. `mode: 'auto'` probes with `server/discover`.
 */
export async function connectModernAgent(
  portalUrl: string,
  person: { username: string; password: string },
  options: {
    path?: string;
    fetch?: typeof fetch;
    token?: string;
    capabilities?: ModernClientCapabilities;
    setup?: (client: ModernClient) => void;
  } = {},
): Promise<ModernAgent> {
  const token = options.token ?? (await authorizedToken(portalUrl, person, options.path));
  const client = new ModernClient(
    { name: 'modern-agent', version: '2.0.0' },
    { versionNegotiation: { mode: 'auto' }, capabilities: options.capabilities ?? {} },
  );
  options.setup?.(client);
  const transport = new ModernTransport(new URL(`${portalUrl}${options.path ?? '/mcp'}`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: options.fetch,
  });
  await client.connect(transport);
  return { client, token };
}

export interface ModernAgent {
  client: ModernClient;
  token: string;
}

/** An access token for `path` (audience `{portal}{path}`), through discovery, registration, PKCE, sign-in and consent. */
export async function authorizedToken(portalUrl: string, person: { username: string; password: string }, path = '/mcp'): Promise<string> {
  return (await authorize(portalUrl, person, new URL(`${portalUrl}${path}`))).tokens()!.access_token;
}

/** Runs the OAuth flow for `endpoint` as `person`; the provider then holds the tokens. */
async function authorize(portalUrl: string, person: { username: string; password: string }, endpoint: URL): Promise<TestOAuthProvider> {
  const provider = new TestOAuthProvider(portalUrl, person);
  const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider });
  await new Client({ name: 'agent', version: '1.0.0' }).connect(first).catch(() => {});
  if (!provider.code) throw new Error('the authorization did not produce a code');
  await first.finishAuth(provider.code);
  return provider;
}
