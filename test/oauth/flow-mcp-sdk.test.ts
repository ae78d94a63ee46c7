import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TestOAuthProvider } from '../helpers/mcp-oauth-client.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { testClock } from '../helpers/test-clock.js';

describe('an MCP SDK client that knows only {issuer}/mcp', () => {
  let portal: TestPortal;
  const clock = testClock();
  beforeAll(async () => {
    portal = await startTestPortal({ document: { login: { accounts: await testAccounts() }, tokens: { access_ttl: '1m' } }, clock });
  });
  afterAll(() => portal.close());

  test('discovers, registers, authorizes with PKCE, calls the endpoint, and refreshes silently', async () => {
    const endpoint = new URL(`${portal.url}/mcp`);
    const provider = new TestOAuthProvider(portal.url, ALICE);

    // First contact: 401 → RFC 9728 → RFC 8414 → RFC 7591 → /authorize (the "browser" signs in and consents).
    const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider });
    await expect(new Client({ name: 'agent', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.code).toBeDefined();
    await first.finishAuth(provider.code!);
    expect(provider.savedTokens).toHaveLength(1);
    expect(provider.savedTokens[0]!.refresh_token).toBeDefined();

    const client = new Client({ name: 'agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(endpoint, { authProvider: provider }));
    expect(client.getServerVersion()?.name).toBe('gatehouse');
    await client.listTools();

    // The access token expires; the next request gets 401 and the SDK refreshes without the person.
    clock.advance(61_000);
    await client.listTools();
    expect(provider.savedTokens).toHaveLength(2);
    expect(provider.savedTokens[1]!.refresh_token).not.toBe(provider.savedTokens[0]!.refresh_token);
    await client.close();

    const registered = portal.logs.lines.filter((line) => line.event === 'client_registered');
    expect(registered).toHaveLength(1);
    expect(portal.logs.lines.some((line) => line.event === 'token_refreshed' && line.person === 'local:alice')).toBe(true);
  });
});
