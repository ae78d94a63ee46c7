import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectNamedAgent } from '../helpers/admin.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { runBrowser } from '../helpers/idp-browser.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { startOidcUpstream, type OidcUpstream } from '../helpers/oidc-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, TEST_SECRET, type TestPortal } from '../helpers/portal.js';
import { testClock } from '../helpers/test-clock.js';
import { createSealer } from '../../portal/crypto/seal.js';
import { storeKey } from '../../portal/store/store.js';

const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

/** The person's accounts on their connections page: id and name, in the order shown. */
function accountsOnPage(page: string): Array<{ id: string; name: string }> {
  return [...page.matchAll(/<tr data-account="([^"]+)">\s*<td><strong class="account-name">([^<]*)<\/strong>/g)].map((m) => ({
    id: m[1]!,
    name: m[2]!,
  }));
}

/** The account selected for an agent (by client id) on the connections page. */
function chosenOnPage(page: string, clientId: string): string | undefined {
  const row = page.split('<tr data-client=').find((part) => part.startsWith(`"${clientId}"`));
  return row && /<option value="([^"]+)" selected>/.exec(row)?.[1];
}

const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)![1]!;

/**
 * One person, two accounts at one `oauth` upstream whose authorization server is `oidc-provider`
 * (alice's work and home accounts there), two agents: each agent reaches the upstream as the
 * account the person chose for it, the first account by default, and disconnecting one account
 * leaves the other.
 */
describe('several accounts of one person at an oauth upstream', () => {
  let upstream: OidcUpstream;
  let portal: TestPortal;
  let workAgent: Agent;
  let homeAgent: Agent;
  let browser: FormBrowser;
  let origins: string[];
  const ids: { work?: string; home?: string } = {};
  const clock = testClock();

  const whoami = async (agent: Agent) => text((await agent.client.callTool({ name: 'notes__whoami', arguments: {} })) as CallToolResult);
  const connectionsPage = async () => (await browser.get(`${portal.url}/connections`)).text();
  const clientId = (agent: Agent) => agent.provider.clientInformation()!.client_id;
  const audited = (event: string) => portal.logs.lines.filter((l) => l.event === event);

  beforeAll(async () => {
    upstream = await startOidcUpstream();
    upstream.people.set('alice-work', { email: 'alice@work.example' });
    upstream.people.set('alice-home', { email: 'alice@home.example' });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth', scopes: ['notes', 'email'] } }],
      },
      clock,
    });
    workAgent = await connectNamedAgent(portal.url, ALICE, 'Work agent');
    homeAgent = await connectNamedAgent(portal.url, ALICE, 'Home agent');
    // Alice's browser: signed in to the portal when she authorized the work agent.
    browser = workAgent.provider.browser;
    origins = [portal.url, upstream.issuer];
  });
  afterAll(async () => {
    await workAgent?.client.close();
    await homeAgent?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test('the first connect signs in at the upstream; the account is named by the email its ID token reported', async () => {
    const outcome = await runBrowser(browser, `${portal.url}/connect/notes`, origins, { idpLogin: 'alice-work' });
    expect(outcome.status).toBe(200);
    expect(outcome.page).toContain('Connected notes');
    expect(outcome.page).toContain('alice@work.example');
    // The portal asked for an ID token, and did not ask the upstream to let her switch accounts: there is no other yet.
    const authorize = new URL(outcome.visited.find((u) => u.startsWith(`${upstream.issuer}/auth?`))!);
    expect(authorize.searchParams.get('scope')!.split(' ')).toEqual(expect.arrayContaining(['notes', 'email', 'openid', 'offline_access']));
    expect(authorize.searchParams.get('prompt')).toBeNull();
    const accounts = accountsOnPage(await connectionsPage());
    expect(accounts).toEqual([{ id: '1', name: 'alice@work.example' }]);
    ids.work = accounts[0]!.id;
  });

  test('connecting again adds a second account: the upstream is asked to let her sign in as someone else', async () => {
    const outcome = await runBrowser(browser, `${portal.url}/connect/notes`, origins, { idpLogin: 'alice-home' });
    expect(outcome.status).toBe(200);
    expect(outcome.page).toContain('alice@home.example');
    expect(outcome.page).toContain('keep using your first account');
    // OpenID Connect Core §3.1.2.1 `prompt`, with `consent` so that `offline_access` (and a refresh token) stays (§11).
    const authorize = new URL(outcome.visited.find((u) => u.startsWith(`${upstream.issuer}/auth?`))!);
    expect(authorize.searchParams.get('prompt')).toBe('login consent');
    const accounts = accountsOnPage(await connectionsPage());
    expect(accounts.map((a) => a.name)).toEqual(['alice@work.example', 'alice@home.example']);
    ids.home = accounts[1]!.id;
    expect(ids.home).not.toBe(ids.work);
    const connected = audited('upstream_connected').at(-1);
    expect(connected).toMatchObject({
      person: 'local:alice',
      upstream: 'notes',
      account: ids.home,
      account_name: 'alice@home.example',
      added: true,
    });
  });

  test('every agent uses the first account until the person chooses', async () => {
    expect(await whoami(workAgent)).toBe('sub alice-work');
    expect(await whoami(homeAgent)).toBe('sub alice-work');
    const page = await connectionsPage();
    expect(chosenOnPage(page, clientId(homeAgent))).toBe(ids.work);
    expect(chosenOnPage(page, clientId(workAgent))).toBe(ids.work);
  });

  test('the person binds the home agent to the second account: each agent reaches the upstream as its own account', async () => {
    const page = await connectionsPage();
    const res = await browser.post(`${portal.url}/connections/account`, {
      csrf: csrfOf(page),
      upstream: 'notes',
      client: clientId(homeAgent),
      account: ids.home!,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/connections?done=chosen');

    expect(await whoami(homeAgent)).toBe('sub alice-home');
    expect(await whoami(workAgent)).toBe('sub alice-work');
    expect(upstream.callers.slice(-2)).toEqual(['alice-home', 'alice-work']);
    expect(chosenOnPage(await connectionsPage(), clientId(homeAgent))).toBe(ids.home);
    expect(audited('upstream_account_selected').at(-1)).toMatchObject({
      person: 'local:alice',
      clientId: clientId(homeAgent),
      upstream: 'notes',
      account: ids.home,
      account_name: 'alice@home.example',
    });
  });

  test('re-connecting an account by its link keeps it (same identity, same id, same choice); each account refreshes its own tokens', async () => {
    // Tokens of the re-connects live 2 s: the next use after 1 s refreshes them.
    upstream.controls.accessTtlSeconds = 2;
    for (const [login, id] of [
      ['alice-work', ids.work],
      ['alice-home', ids.home],
    ] as const) {
      const outcome = await runBrowser(browser, `${portal.url}/connect/notes?account=${id}`, origins, { idpLogin: login });
      expect(outcome.page).toContain('connected again');
    }
    upstream.controls.accessTtlSeconds = 3600;
    expect(accountsOnPage(await connectionsPage()).map((a) => a.id)).toEqual([ids.work, ids.home]);
    clock.advance(1_100);
    const before = upstream.grants.refresh_token;
    const answers = await Promise.all([whoami(workAgent), whoami(homeAgent), whoami(workAgent), whoami(homeAgent)]);
    expect(answers).toEqual(['sub alice-work', 'sub alice-home', 'sub alice-work', 'sub alice-home']);
    // One refresh per account, however many calls raced for it.
    expect(upstream.grants.refresh_token - before).toBe(2);
    expect(await whoami(homeAgent)).toBe('sub alice-home');
  });

  test('re-connecting an account but signing in as someone else adds that account: the agents bound to the first do not change identity', async () => {
    upstream.people.set('alice-old', { email: 'alice@old.example' });
    const outcome = await runBrowser(browser, `${portal.url}/connect/notes?account=${ids.work}`, origins, { idpLogin: 'alice-old' });
    expect(outcome.page).toContain('alice@old.example');
    const accounts = accountsOnPage(await connectionsPage());
    expect(accounts.map((a) => a.name)).toEqual(['alice@work.example', 'alice@home.example', 'alice@old.example']);
    expect(accounts[0]!.id).toBe(ids.work);
    expect(await whoami(workAgent)).toBe('sub alice-work');
    expect(audited('upstream_connected').at(-1)).toMatchObject({ account: accounts[2]!.id, added: true });
    const page = await connectionsPage();
    expect(
      (await browser.post(`${portal.url}/connections/disconnect`, { csrf: csrfOf(page), upstream: 'notes', account: accounts[2]!.id }))
        .status,
    ).toBe(303);
  });

  test('a label the person gives replaces the reported identity as the name; the identity stays in view', async () => {
    const page = await connectionsPage();
    const res = await browser.post(`${portal.url}/connections/rename`, {
      csrf: csrfOf(page),
      upstream: 'notes',
      account: ids.home!,
      label: 'Personal <notes>',
    });
    expect(res.status).toBe(303);
    const after = await connectionsPage();
    expect(accountsOnPage(after).map((a) => a.name)).toEqual(['alice@work.example', 'Personal &lt;notes&gt;']);
    expect(after).toContain('signed in as <span class="account-reported">alice@home.example</span>');
  });

  test('disconnecting the second account leaves the first; the agent bound to it falls back to the first', async () => {
    const page = await connectionsPage();
    const res = await browser.post(`${portal.url}/connections/disconnect`, { csrf: csrfOf(page), upstream: 'notes', account: ids.home! });
    expect(res.status).toBe(303);
    expect(accountsOnPage(await connectionsPage()).map((a) => a.id)).toEqual([ids.work]);
    expect(await whoami(workAgent)).toBe('sub alice-work');
    expect(await whoami(homeAgent)).toBe('sub alice-work');
    expect(audited('upstream_disconnected').at(-1)).toMatchObject({
      person: 'local:alice',
      upstream: 'notes',
      account: ids.home,
      account_name: 'Personal <notes>',
      via: 'connections',
    });
  });

  test('an account added after one was removed gets a new id: the old choice does not follow it', async () => {
    const outcome = await runBrowser(browser, `${portal.url}/connect/notes`, origins, { idpLogin: 'alice-home' });
    expect(outcome.status).toBe(200);
    const accounts = accountsOnPage(await connectionsPage());
    expect(accounts.map((a) => a.name)).toEqual(['alice@work.example', 'alice@home.example']);
    expect(accounts[1]!.id).not.toBe(ids.home);
    expect(await whoami(homeAgent)).toBe('sub alice-work');
  });

  test('disconnecting the first account: the agents use the one left; disconnecting that one, they are asked to connect', async () => {
    let page = await connectionsPage();
    expect(
      (await browser.post(`${portal.url}/connections/disconnect`, { csrf: csrfOf(page), upstream: 'notes', account: ids.work! })).status,
    ).toBe(303);
    expect(await whoami(workAgent)).toBe('sub alice-home');
    expect(await whoami(homeAgent)).toBe('sub alice-home');
    page = await connectionsPage();
    const [last] = accountsOnPage(page);
    expect(
      (await browser.post(`${portal.url}/connections/disconnect`, { csrf: csrfOf(page), upstream: 'notes', account: last!.id })).status,
    ).toBe(303);
    expect(await whoami(workAgent)).toContain(`needs your own account there: connect it at ${portal.url}/connect/notes`);
  });
});

/**
 * A connection stored when a person could connect one account per upstream: the same key, the
 * same sealing, none of the account fields. It is the person's first account as it is: listed,
 * used by every agent, refreshed, and a second account is added beside it.
 */
describe('a connection stored before several accounts per upstream existed', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;
  let agent: Agent;
  const key = 'upstream-token:{local:alice}:notes';
  const aad = 'upstream-token\nlocal:alice\nnotes';
  const sealer = createSealer(TEST_SECRET, 'upstream-tokens');

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth' } }],
      },
    });
    agent = await connectAgent(portal.url, ALICE);
    expect((await connectInBrowser(agent.provider.browser, 'notes')).status).toBe(200);
    // Rewrite what the connect stored in the shape of before: no ordinal, identity or label.
    const {
      ordinal: _ordinal,
      identity: _identity,
      label: _label,
      ...old
    } = JSON.parse(sealer.open((await portal.store.get(key))!, aad)) as Record<string, unknown>;
    await portal.store.set(key, sealer.seal(JSON.stringify(old), aad));
    expect(Object.keys(old)).not.toContain('ordinal');
  });
  afterAll(async () => {
    await agent?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test('it is the first account: listed as "Account 1", used by the agent, and refreshed in place', async () => {
    expect(accountsOnPage(await (await agent.provider.browser.get(`${portal.url}/connections`)).text())).toEqual([
      { id: '1', name: 'Account 1' },
    ]);
    expect(text((await agent.client.callTool({ name: 'notes__echo', arguments: { message: 'old' } })) as CallToolResult)).toBe('old');
    upstream.expireAccessTokens();
    expect(text((await agent.client.callTool({ name: 'notes__echo', arguments: { message: 'refreshed' } })) as CallToolResult)).toBe(
      'refreshed',
    );
    expect(await portal.store.setMembers(storeKey('upstream-token-index', 'local:alice'))).toEqual(['notes']);
  });

  test('a second account is added beside it; the agent keeps the first', async () => {
    const first = upstream.issued.accessTokens.at(-1)!;
    expect((await connectInBrowser(agent.provider.browser, 'notes')).status).toBe(200);
    const accounts = accountsOnPage(await (await agent.provider.browser.get(`${portal.url}/connections`)).text());
    expect(accounts.map((a) => a.name)).toEqual(['Account 1', 'Account 2']);
    expect(accounts[0]!.id).toBe('1');
    await agent.client.callTool({ name: 'notes__echo', arguments: { message: 'still first' } });
    expect(upstream.requests.filter((r) => r.path === '/mcp').at(-1)!.headers.authorization).toBe(`Bearer ${first}`);
  });
});

/** An HTTP app with `oauth` credentials: the person's own browser is one more "agent" whose account they choose. */
describe('several accounts at an oauth HTTP app, used from the browser', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;
  let browser: FormBrowser;

  /** The bearer token the app got for the browser's last request through the portal. */
  async function bearerOfAppRequest(): Promise<string | undefined> {
    const res = await browser.get(`${portal.url}/apps/wiki/`);
    await res.body?.cancel();
    return upstream.requests.filter((r) => r.headers.authorization).at(-1)?.headers.authorization;
  }

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'wiki', kind: 'http', url: upstream.url, credentials: { type: 'oauth' } }],
      },
    });
    browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.follow(`${portal.url}/login`), ALICE);
    for (let i = 0; i < 2; i++) expect((await connectInBrowser(browser, 'wiki')).status).toBe(200);
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  test('a browser whose person has not connected the app is sent to connect it, and back to the page afterwards', async () => {
    const bob = new FormBrowser(portal.url);
    await bob.signIn(await bob.follow(`${portal.url}/login`), BOB);
    const res = await bob.get(`${portal.url}/apps/wiki/page?x=1`);
    expect(res.status).toBe(303);
    const connect = new URL(res.headers.get('location')!, portal.url);
    expect(connect.pathname).toBe('/connect/wiki');
    expect(connect.searchParams.get('return_to')).toBe('/apps/wiki/page?x=1');
  });

  test('the browser uses the first account, then the one the person chose for "Your web browser"', async () => {
    const [first, second] = upstream.issued.accessTokens;
    expect(await bearerOfAppRequest()).toBe(`Bearer ${first}`);
    const page = await (await browser.get(`${portal.url}/connections`)).text();
    expect(page).toContain('<tr data-client="browser"><td class="client-name">Your web browser</td>');
    const [, other] = accountsOnPage(page);
    const res = await browser.post(`${portal.url}/connections/account`, {
      csrf: csrfOf(page),
      upstream: 'wiki',
      client: 'browser',
      account: other!.id,
    });
    expect(res.status).toBe(303);
    expect(await bearerOfAppRequest()).toBe(`Bearer ${second}`);
  });
});
