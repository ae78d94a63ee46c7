import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  type CallToolResult,
  type ElicitRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { pendingConsent, registerClient } from '../helpers/oauth-flow.js';

const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;
/** The query of the connect URL a tool error ends with (what the person follows). */
const connectQuery = (result: CallToolResult) => new URL(/ at (\S+)$/.exec(text(result))![1]!).search;

describe('oauth upstream: each person connects their own account', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;
  let alice: Agent;

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth', scopes: ['notes'] } }],
      },
    });
    alice = await connectAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await alice?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test('before connecting, a call is a tool error that carries the connect URL', async () => {
    const result = (await alice.client.callTool({ name: 'notes__whoami', arguments: {} })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain(`${portal.url}/connect/notes`);
    // Nothing reached the MCP endpoint with a credential.
    expect(upstream.requests.filter((r) => r.path === '/mcp' && r.headers.authorization)).toHaveLength(0);
  });

  test('the person connects (discovery, registration, PKCE, resource) and the agent then uses the upstream as them', async () => {
    const page = await connectInBrowser(alice.provider.browser, 'notes');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Connected notes');
    expect(upstream.registrations).toBe(1);
    // RFC 8707: the code was redeemed for the upstream's own resource URL.
    expect(upstream.resources).toEqual([upstream.url]);
    const authorize = upstream.requests.find((r) => r.path === '/authorize');
    expect(authorize).toBeDefined();

    const result = (await alice.client.callTool({ name: 'notes__whoami', arguments: {} })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(text(result)).toContain('scopes notes');
    const bearer = upstream.requests.filter((r) => r.path === '/mcp').map((r) => r.headers.authorization);
    expect(bearer).toContain(`Bearer ${upstream.issued.accessTokens.at(-1)}`);
  });

  test("the agent's own token never reaches the upstream or its authorization server", async () => {
    const agentToken = alice.accessToken();
    for (const request of upstream.requests) {
      expect(JSON.stringify(request.headers)).not.toContain(agentToken);
      expect(JSON.stringify(request.body ?? {})).not.toContain(agentToken);
    }
  });

  test('/connect signs the person in first, then sends them to the upstream with PKCE S256, resource and scope', async () => {
    const bob = new FormBrowser(portal.url);
    const login = await bob.follow(`${portal.url}/connect/notes`);
    expect(await login.clone().text()).toContain('action="/login"');
    const started = await bob.signIn(login, BOB);
    expect(started.status).toBe(303);
    const authorizeUrl = new URL(started.headers.get('location')!);
    expect(authorizeUrl.href.startsWith(`${upstream.issuer}authorize?`)).toBe(true);
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizeUrl.searchParams.get('resource')).toBe(upstream.url);
    expect(authorizeUrl.searchParams.get('scope')).toContain('notes');
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(`${portal.url}/connect/notes/callback`);
  });

  test('the consent page links to connecting an oauth upstream the person has not connected', async () => {
    const { client_id } = await registerClient(portal.url);
    const browser = new FormBrowser(portal.url);
    const { verifier: _verifier, ...fields } = await pendingConsent(portal.url, client_id, browser, BOB);
    expect(fields.request).toBeTruthy();
    const page = await (await browser.get(`${portal.url}/consent?request=${fields.request}`)).text();
    expect(page).toContain('href="/connect/notes"');
  });

  test('an upstream that revokes the grant: one refresh attempt, then the person is asked to connect again', async () => {
    upstream.revokeEverything();
    const refreshesBefore = upstream.tokenCalls.refresh_token;
    const result = (await alice.client.callTool({ name: 'notes__whoami', arguments: {} })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('connect it again');
    expect(text(result)).toContain(`${portal.url}/connect/notes`);
    expect(upstream.tokenCalls.refresh_token).toBe(refreshesBefore + 1);
    expect(portal.logs.lines.some((l) => l.event === 'upstream_token_refresh_failed' && l.reason === 'invalid_grant')).toBe(true);

    // The next call does not even try: the connection is marked as needing a re-connect.
    const callsBefore = upstream.requests.length;
    const again = (await alice.client.callTool({ name: 'notes__whoami', arguments: {} })) as CallToolResult;
    expect(text(again)).toContain('connect it again');
    expect(upstream.requests.filter((r) => r.path === '/mcp').length).toBe(
      upstream.requests.slice(0, callsBefore).filter((r) => r.path === '/mcp').length,
    );

    // Re-connecting that account (the link names it: a bare /connect/notes would add another) fixes it.
    expect(connectQuery(again)).toBe('?account=1');
    expect((await connectInBrowser(alice.provider.browser, 'notes', undefined, connectQuery(again))).status).toBe(200);
    expect((await alice.client.callTool({ name: 'notes__echo', arguments: { message: 'back' } })) as CallToolResult).toMatchObject({
      content: [{ text: 'back' }],
    });
  });

  test('an access token the upstream stops accepting is refreshed once and the call retried', async () => {
    upstream.expireAccessTokens();
    const refreshesBefore = upstream.tokenCalls.refresh_token;
    const result = (await alice.client.callTool({ name: 'notes__echo', arguments: { message: 'after refresh' } })) as CallToolResult;
    expect(result).toMatchObject({ content: [{ text: 'after refresh' }] });
    expect(upstream.tokenCalls.refresh_token).toBe(refreshesBefore + 1);
  });

  test('403 insufficient_scope is a step-up naming the scope, with a connect URL asking for it', async () => {
    upstream.controls.requiredScopes = ['admin'];
    try {
      const result = (await alice.client.callTool({ name: 'notes__echo', arguments: { message: 'x' } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('scope admin');
      expect(text(result)).toContain(`${portal.url}/connect/notes?scope=admin`);
      // Connecting with the step-up scope keeps the scopes held before and adds the new one.
      const page = await connectInBrowser(alice.provider.browser, 'notes', undefined, connectQuery(result));
      expect(page.status).toBe(200);
      const ok = (await alice.client.callTool({ name: 'notes__whoami', arguments: {} })) as CallToolResult;
      expect(text(ok)).toMatch(/scopes .*notes/);
      expect(text(ok)).toMatch(/scopes .*admin/);
    } finally {
      upstream.controls.requiredScopes = [];
    }
  });

  test('an agent that declared URL elicitation is asked to send the person to connect, and its call then succeeds', async () => {
    const elicitations: ElicitRequest['params'][] = [];
    const completed: string[] = [];
    let bobAgent: Agent | undefined;
    bobAgent = await connectAgent(portal.url, BOB, {
      capabilities: { elicitation: { url: {} } },
      setup: (client) => {
        client.setRequestHandler(ElicitRequestSchema, async (request) => {
          elicitations.push(request.params);
          // The person opens the URL in their browser (already signed in to the portal) and connects.
          const page = await connectInBrowser(bobAgent!.provider.browser, 'notes');
          expect(page.status).toBe(200);
          return { action: 'accept' };
        });
        client.setNotificationHandler(ElicitationCompleteNotificationSchema, async (n) => void completed.push(n.params.elicitationId));
      },
    });
    try {
      const result = (await bobAgent.client.callTool({ name: 'notes__echo', arguments: { message: 'hello bob' } })) as CallToolResult;
      expect(result).toMatchObject({ content: [{ text: 'hello bob' }] });
      expect(elicitations).toHaveLength(1);
      expect(elicitations[0]).toMatchObject({ mode: 'url', url: `${portal.url}/connect/notes` });
      expect(completed).toEqual([(elicitations[0] as { elicitationId: string }).elicitationId]);
    } finally {
      await bobAgent.client.close();
    }
  });

  test('disconnecting revokes at the upstream (RFC 7009) and the next call needs a connect again', async () => {
    const browser = alice.provider.browser;
    const { csrf } = hiddenFields(await (await browser.get(`${portal.url}/connections`)).text());
    const forged = await browser.post(`${portal.url}/connect/notes/disconnect`, { csrf: 'nope' });
    expect(forged.status).toBe(403);
    const revokedBefore = upstream.revoked.length;
    const res = await browser.post(`${portal.url}/connect/notes/disconnect`, { csrf: csrf! });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('revoked');
    expect(upstream.revoked.length).toBeGreaterThan(revokedBefore);
    // Audited like a disconnect on /connections, naming the account.
    expect(portal.logs.lines.filter((l) => l.event === 'upstream_disconnected').at(-1)).toMatchObject({
      outcome: 'success',
      person: 'local:alice',
      upstream: 'notes',
      account: '1',
      revoked: true,
      via: 'connect',
    });
    const result = (await alice.client.callTool({ name: 'notes__whoami', arguments: {} })) as CallToolResult;
    expect(text(result)).toContain('needs your own account');
  });
});
