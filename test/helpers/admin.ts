import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Agent } from './agent.js';
import { TestOAuthProvider } from './mcp-oauth-client.js';
import { registerClient, tokensFor, UNLIMITED } from './oauth-flow.js';
import { ALICE, testAccounts } from './portal.js';

/** A config document: ALICE (group `eng`) is an admin, BOB is not; no effective rate limits. */
export async function adminDocument(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return { login: { accounts: await testAccounts() }, admins: { groups: ['eng'] }, rate_limits: UNLIMITED, ...extra };
}

/** An access token for the admin API (`{issuer}/admin`, scope `admin`), obtained through the real OAuth flow as `person`. */
export async function adminToken(
  portalUrl: string,
  person: { username: string; password: string } = ALICE,
  issuer = portalUrl,
): Promise<string> {
  const client = await registerClient(portalUrl, { client_name: 'gatehouse CLI' });
  const tokens = await tokensFor(portalUrl, client, { person, params: { resource: `${issuer}/admin`, scope: 'admin' } });
  return tokens.access_token;
}

/** `fetch` of the admin API with a bearer token (or none) and an optional JSON body. */
export function adminFetch(
  portalUrl: string,
  path: string,
  options: { token?: string; method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${portalUrl}/admin/api/v1${path}`, {
    method: options.method ?? 'GET',
    headers: {
      accept: 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
}

/** A TestOAuthProvider that registers under a name of the test's choosing (to test escaping). */
export class NamedOAuthProvider extends TestOAuthProvider {
  constructor(
    portalUrl: string,
    person: { username: string; password: string },
    readonly clientName: string,
  ) {
    super(portalUrl, person);
  }
  override get clientMetadata(): OAuthClientMetadata {
    return { ...super.clientMetadata, client_name: this.clientName };
  }
}

/** Like `connectAgent`, but the agent registers as `clientName`. */
export async function connectNamedAgent(
  portalUrl: string,
  person: { username: string; password: string },
  clientName: string,
  path = '/mcp',
): Promise<Agent> {
  const endpoint = new URL(`${portalUrl}${path}`);
  const provider = new NamedOAuthProvider(portalUrl, person, clientName);
  await new Client({ name: 'agent', version: '1.0.0' })
    .connect(new StreamableHTTPClientTransport(endpoint, { authProvider: provider }))
    .catch(() => {});
  if (!provider.code) throw new Error('the authorization did not produce a code');
  const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider });
  await first.finishAuth(provider.code);
  const client = new Client({ name: 'agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(endpoint, { authProvider: provider });
  await client.connect(transport);
  return { client, transport, provider, accessToken: () => provider.tokens()!.access_token };
}

/**
 * Polls `check` until it returns a value (not `undefined`), at most `tries` times; on failure the
 * error says what `lastSeen` reports (what the check saw last), so a failure in CI can be read.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  tries = 100,
  lastSeen?: () => string | Promise<string>,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`condition not met${lastSeen ? `; last seen: ${await lastSeen()}` : ''}`);
}
