import { connectAgent, type Agent } from '../helpers/agent.js';
import type { FormBrowser } from '../helpers/browser-form-client.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)![1]!;

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

/**
 * The forms that pick and name a person's accounts at an `oauth` upstream, given what they should
 * not take: another person's account or agent, an account that does not exist, names that are
 * empty, too long or not text, a form without its CSRF token. Each gets its status and its
 * `error` code, and nothing changes.
 */
describe('accounts at an oauth upstream: bad input', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;
  let alice: Agent;
  let bob: Agent;
  const mine: string[] = [];
  const bobs: string[] = [];

  const page = async (agent: Agent) => (await agent.provider.browser.get(`${portal.url}/connections`)).text();
  const clientId = (agent: Agent) => agent.provider.clientInformation()!.client_id;
  const selected = () => portal.logs.lines.filter((l) => l.event === 'upstream_account_selected').length;

  /** Posts a connections form from Alice's browser with her page's CSRF token (unless `csrf` is given). */
  async function post(path: string, fields: Record<string, string>, browser: FormBrowser = alice.provider.browser): Promise<Response> {
    return browser.post(`${portal.url}${path}`, { csrf: csrfOf(await page(alice)), ...fields });
  }

  /** An error page with the status, the stable code as its heading, and what the person should know. */
  async function expectError(res: Response, status: number, code: string, says: string): Promise<void> {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const body = await res.text();
    expect(body).toContain(`<h1>${code.replace(/_/g, ' ')}</h1>`);
    expect(body).toContain(says);
  }

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth' } }],
      },
    });
    alice = await connectAgent(portal.url, ALICE);
    bob = await connectAgent(portal.url, BOB);
    for (const [agent, ids] of [
      [alice, mine],
      [bob, bobs],
    ] as const) {
      for (let i = 0; i < 2; i++) expect((await connectInBrowser(agent.provider.browser, 'notes')).status).toBe(200);
      ids.push(...accountsOnPage(await page(agent)).map((a) => a.id));
    }
    expect(mine).toHaveLength(2);
    expect(bobs).toHaveLength(2);
  });
  afterAll(async () => {
    await alice?.client.close();
    await bob?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test("choosing another person's account, or one that does not exist, is 404 and changes nothing", async () => {
    const before = selected();
    for (const account of [bobs[1]!, 'AAAAAAAAAAAA', '../index', 'x'.repeat(500)]) {
      await expectError(
        await post('/connections/account', { upstream: 'notes', client: clientId(alice), account }),
        404,
        'not_found',
        'not among yours',
      );
    }
    expect(chosenOnPage(await page(alice), clientId(alice))).toBe(mine[0]);
    expect(selected()).toBe(before);
  });

  test("choosing for another person's agent, an unknown agent, or an unknown app is 404 and changes nothing", async () => {
    const before = selected();
    await expectError(
      await post('/connections/account', { upstream: 'notes', client: clientId(bob), account: mine[1]! }),
      404,
      'not_found',
      'not among yours',
    );
    await expectError(
      await post('/connections/account', { upstream: 'notes', client: 'no-such-client', account: mine[1]! }),
      404,
      'not_found',
      'not among yours',
    );
    await expectError(
      await post('/connections/account', { upstream: 'nope', client: clientId(alice), account: mine[1]! }),
      404,
      'not_found',
      'No such app',
    );
    expect(chosenOnPage(await page(bob), clientId(bob))).toBe(bobs[0]);
    expect(chosenOnPage(await page(alice), clientId(alice))).toBe(mine[0]);
    expect(selected()).toBe(before);
  });

  test('a choice without its app, agent or account is 400', async () => {
    await expectError(
      await post('/connections/account', { client: clientId(alice), account: mine[1]! }),
      400,
      'invalid_request',
      'Say which app',
    );
    await expectError(
      await post('/connections/account', { upstream: 'notes', account: mine[1]! }),
      400,
      'invalid_request',
      'Say which agent',
    );
    await expectError(
      await post('/connections/account', { upstream: 'notes', client: clientId(alice) }),
      400,
      'invalid_request',
      'Say which account',
    );
    expect(chosenOnPage(await page(alice), clientId(alice))).toBe(mine[0]);
  });

  test('a name that is empty, blank, too long or not text is 400 and the account keeps its name', async () => {
    for (const label of ['', '   ', 'x'.repeat(65), 'work\u202Eliam', 'line\nbreak']) {
      await expectError(
        await post('/connections/rename', { upstream: 'notes', account: mine[0]!, label }),
        400,
        'invalid_request',
        '1 to 64 characters',
      );
    }
    expect(accountsOnPage(await page(alice)).map((a) => a.name)).toEqual(['Account 1', 'Account 2']);
    // 64 characters is a name.
    expect((await post('/connections/rename', { upstream: 'notes', account: mine[0]!, label: 'w'.repeat(64) })).status).toBe(303);
    expect(accountsOnPage(await page(alice))[0]!.name).toBe('w'.repeat(64));
  });

  test("renaming another person's account is 404 and their account keeps its name", async () => {
    await expectError(
      await post('/connections/rename', { upstream: 'notes', account: bobs[1]!, label: 'mine now' }),
      404,
      'not_found',
      'not among yours',
    );
    expect(accountsOnPage(await page(bob)).map((a) => a.name)).toEqual(['Account 1', 'Account 2']);
  });

  test('the new forms without the CSRF token are 403 and change nothing', async () => {
    const browser = alice.provider.browser;
    const before = selected();
    await expectError(
      await browser.post(`${portal.url}/connections/account`, { upstream: 'notes', client: clientId(alice), account: mine[1]! }),
      403,
      'invalid_csrf',
      'not issued to you',
    );
    await expectError(
      await browser.post(`${portal.url}/connections/rename`, { upstream: 'notes', account: mine[1]!, label: 'forged' }),
      403,
      'invalid_csrf',
      'not issued to you',
    );
    // Bob's page's token is his session's: it does not work in Alice's.
    const bobsToken = csrfOf(await page(bob));
    await expectError(
      await browser.post(`${portal.url}/connections/account`, {
        csrf: bobsToken,
        upstream: 'notes',
        client: clientId(alice),
        account: mine[1]!,
      }),
      403,
      'invalid_csrf',
      'not issued to you',
    );
    const after = await page(alice);
    expect(chosenOnPage(after, clientId(alice))).toBe(mine[0]);
    expect(accountsOnPage(after)[1]!.name).toBe('Account 2');
    expect(selected()).toBe(before);
  });

  test("re-connecting another person's account is 404 before anything goes to the upstream", async () => {
    const requests = upstream.requests.length;
    const res = await alice.provider.browser.get(`${portal.url}/connect/notes?account=${bobs[1]}`);
    await expectError(res, 404, 'not_found', 'not among yours');
    expect(upstream.requests.length).toBe(requests);
  });

  test('disconnecting without saying which of several accounts is 400 and both stay', async () => {
    await expectError(await post('/connections/disconnect', { upstream: 'notes' }), 400, 'invalid_request', 'say which one');
    await expectError(await post('/connect/notes/disconnect', {}), 400, 'invalid_request', 'say which one');
    await expectError(await post('/connections/disconnect', { upstream: 'notes', account: bobs[1]! }), 404, 'not_found', 'not among yours');
    expect(accountsOnPage(await page(alice)).map((a) => a.id)).toEqual(mine);
    expect(accountsOnPage(await page(bob)).map((a) => a.id)).toEqual(bobs);
  });
});
