import { FormBrowser } from '../helpers/browser-form-client.js';
import { startFakeIdp, type FakeIdp } from '../helpers/fake-oidc-idp.js';
import { runBrowser } from '../helpers/idp-browser.js';
import { closedPort } from '../helpers/mcp-test-servers.js';
import { authorizeUrl, pkce, RecordingStore, registerClient, UNLIMITED } from '../helpers/oauth-flow.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { startTestPortal, type TestPortal } from '../helpers/portal.js';

/** What a refused sign-in must look like: a page for people, no stack trace, no session. */
async function expectRefusedPage(res: Response | { status: number; page: string }, status: number, text: RegExp, browser: FormBrowser) {
  const page = 'page' in res ? res.page : await res.text();
  expect(res.status).toBe(status);
  expect(page).toMatch(/^<!doctype html>/);
  expect(page).toMatch(text);
  expect(page).not.toMatch(/\bat \S+ \(|Error:|node_modules/);
  expect(browser.cookies.has('gatehouse_session')).toBe(false);
}

describe('IdP sign-in: bad input and misbehaving providers', () => {
  let corp: OidcIdp;
  let fake: FakeIdp;
  let portal: TestPortal;
  const store = new RecordingStore();
  const sessionKeys = async () => store.written.filter((k) => k.startsWith('session:'));

  beforeAll(async () => {
    corp = await startOidcIdp({ cookiePrefix: 'corp' });
    fake = await startFakeIdp({ clientId: 'gatehouse', clientSecret: 'fake-secret' });
    const scopes = ['openid', 'email', 'profile', 'groups'];
    portal = await startTestPortal({
      store,
      document: {
        rate_limits: UNLIMITED,
        login: {
          builtin: false,
          idps: [
            { id: 'corp', title: 'Corp SSO', issuer: corp.issuer, client_id: 'gatehouse', client_secret: 'corp-secret', scopes },
            { id: 'fake', title: 'Fake IdP', issuer: fake.issuer, client_id: 'gatehouse', client_secret: 'fake-secret', scopes },
            { id: 'down', title: 'Down IdP', issuer: `http://127.0.0.1:${await closedPort()}`, client_id: 'gatehouse', client_secret: 'x' },
          ],
        },
        upstreams: [{ id: 'corp-only', kind: 'mcp', url: 'http://127.0.0.1:1/mcp', access: { domains: ['corp.example'] } }],
      },
    });
    corp.register([
      {
        client_id: 'gatehouse',
        client_secret: 'corp-secret',
        redirect_uris: [`${portal.url}/login/corp/callback`],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ]);
    corp.people.set('carol', { email: 'carol@corp.example', email_verified: true, name: 'Carol', groups: ['eng'] });
    corp.people.set('mallory', { email: 'mallory@corp.example', email_verified: false, name: 'Mallory', groups: [] });
  });
  afterAll(async () => {
    await portal?.close();
    await store.close();
    await corp?.close();
    await fake?.close();
  });
  beforeEach(() => {
    fake.misbehave = {};
  });

  const origins = () => [portal.url, corp.issuer, fake.issuer];

  test('a forged state, or a callback with no sign-in pending, gets a page and no session', async () => {
    const browser = new FormBrowser(portal.url);
    await expectRefusedPage(
      await browser.get(`${portal.url}/login/corp/callback?code=abc&state=forged-state-value`),
      400,
      /not pending here/,
      browser,
    );
    await expectRefusedPage(await browser.get(`${portal.url}/login/corp/callback?code=abc`), 400, /not pending here/, browser);
    await expectRefusedPage(await browser.get(`${portal.url}/login/corp/callback?error=access_denied`), 400, /not pending here/, browser);
    await expectRefusedPage(
      await browser.get(`${portal.url}/login/nope/callback?code=abc&state=x`),
      404,
      /no such sign-in option/,
      browser,
    );
  });

  test('a replayed callback (state already used) is refused and creates no second session', async () => {
    const first = new FormBrowser(portal.url);
    const outcome = await runBrowser(first, `${portal.url}/login/corp`, origins(), { idpLogin: 'carol' });
    expect(first.cookies.has('gatehouse_session')).toBe(true);
    const callback = outcome.visited.find((u) => u.includes('/login/corp/callback'))!;
    const before = await sessionKeys();

    // The same browser (its binding cookie still set), without its session: the state is spent.
    const replay = new FormBrowser(portal.url);
    replay.cookies.set('gatehouse_idp', first.cookies.get('gatehouse_idp')!);
    await expectRefusedPage(await replay.get(callback), 400, /not pending here/, replay);
    expect(await sessionKeys()).toEqual(before);
  });

  test('a callback finished in another browser than the one that started the sign-in is refused (login CSRF)', async () => {
    const attacker = new FormBrowser(portal.url);
    const start = await attacker.get(`${portal.url}/login/fake`);
    const atIdp = await attacker.get(start.headers.get('location')!);
    const callback = atIdp.headers.get('location')!;
    expect(callback).toContain('/login/fake/callback?code=');

    const victim = new FormBrowser(portal.url);
    await expectRefusedPage(await victim.get(callback), 400, /another browser/, victim);
  });

  test('cancelling at the IdP shows a clear page and signs nobody in', async () => {
    const browser = new FormBrowser(portal.url);
    const outcome = await runBrowser(browser, `${portal.url}/login/corp`, origins(), { idpLogin: 'carol', cancelAtIdp: true });
    await expectRefusedPage(outcome, 403, /Sign-in at Corp SSO was cancelled/, browser);
  });

  test('an IdP that is down gets a clear page, no pending sign-in and no session', async () => {
    const browser = new FormBrowser(portal.url);
    const pendingBefore = store.written.filter((k) => k.startsWith('idp-login:')).length;
    await expectRefusedPage(await browser.get(`${portal.url}/login/down`), 502, /could not reach Down IdP/, browser);
    expect(store.written.filter((k) => k.startsWith('idp-login:')).length).toBe(pendingBefore);
    // The cause reaches the log, for the operator.
    expect(portal.logs.lines.at(-2)).toMatchObject({ errorCode: 'idp_unavailable', msg: expect.stringContaining('ECONNREFUSED') });
  });

  test('an ID token whose nonce is not the one sent (a code injected from another request) is refused', async () => {
    const browser = new FormBrowser(portal.url);
    const start = await browser.get(`${portal.url}/login/corp`);
    const tampered = new URL(start.headers.get('location')!);
    tampered.searchParams.set('nonce', 'nonce-of-another-request');
    const outcome = await runBrowser(browser, tampered.href, origins(), { idpLogin: 'carol' });
    await expectRefusedPage(outcome, 502, /could not be verified/, browser);
    expect(String(portal.logs.lines.filter((l) => l.event === 'login_failed').at(-1)!.msg)).toMatch(/nonce/);
  });

  test.each([
    ['a wrong audience', { aud: 'someone-else' }, /OAUTH_JWT_CLAIM_COMPARISON_FAILED.*"aud"/],
    ['a wrong issuer', { iss: 'https://evil.example' }, /OAUTH_JWT_CLAIM_COMPARISON_FAILED.*"iss"/],
    ['a signature by a key not in the JWKS', { foreignKey: true }, /signature/i],
    ['an expired ID token', { expired: true }, /OAUTH_JWT_TIMESTAMP_CHECK_FAILED/],
    ['a wrong nonce', { nonce: 'not-the-nonce' }, /OAUTH_JWT_CLAIM_COMPARISON_FAILED.*"nonce"/],
  ])('%s is refused (fake IdP with real keys)', async (_name, misbehave, logged) => {
    fake.misbehave = misbehave;
    const browser = new FormBrowser(portal.url);
    const outcome = await runBrowser(browser, `${portal.url}/login/fake`, origins(), { idpLogin: 'frank' });
    await expectRefusedPage(outcome, 502, /The answer from Fake IdP could not be verified/, browser);
    // The log says which check failed (the page does not).
    const failure = portal.logs.lines.filter((l) => l.event === 'login_failed').at(-1)!;
    expect(String(failure.msg)).toMatch(logged);
  });

  test('the same fake IdP, behaving, signs the person in (so each refusal above is the defect alone)', async () => {
    const browser = new FormBrowser(portal.url);
    const outcome = await runBrowser(browser, `${portal.url}/login/fake?return_to=%2Fdone`, origins(), { idpLogin: 'frank' });
    expect(outcome.visited.at(-1)).toBe(`${portal.url}/done`);
    expect(browser.cookies.has('gatehouse_session')).toBe(true);
  });

  test('email_verified: false drops the email, so a domain rule does not admit; consent explains why', async () => {
    const client = await registerClient(portal.url);
    const { challenge } = pkce();
    const browser = new FormBrowser(portal.url);
    const url = authorizeUrl(portal.url, client.client_id, challenge, { resource: `${portal.url}/mcp/corp-only` });
    const outcome = await runBrowser(browser, url.href, origins(), { idpLogin: 'mallory', chooseIdp: 'corp', decision: 'deny' });
    // The consent page offers nothing: only "deny", and the reason.
    const stored = JSON.parse((await portal.store.get('idp-person:{corp:mallory}'))!);
    expect(stored.email).toBeUndefined();
    expect(stored.emailVerified).toBe(false);
    expect(outcome.leftTo?.searchParams.get('error')).toBe('access_denied');

    // Signed in now: the next authorization stops at the consent page.
    const again = {
      page: await (
        await browser.follow(
          authorizeUrl(portal.url, client.client_id, challenge, { resource: `${portal.url}/mcp/corp-only`, state: 's2' }).href,
        )
      ).text(),
    };
    expect(again.page).toContain('There is nothing here you may grant');
    expect(again.page).toContain('you are not in a group or on a list it is open to');
    expect(again.page).not.toContain('value="allow"');

    // Carol, with a verified address in the domain, is offered it.
    const carol = new FormBrowser(portal.url);
    const offered = await runBrowser(
      carol,
      authorizeUrl(portal.url, client.client_id, challenge, { resource: `${portal.url}/mcp/corp-only`, state: 's3' }).href,
      origins(),
      {
        idpLogin: 'carol',
        chooseIdp: 'corp',
        decision: 'allow',
      },
    );
    expect(offered.leftTo?.searchParams.get('code')).toBeTruthy();
  });

  test('with login.builtin false the page has no password form, and POST /login is refused', async () => {
    const browser = new FormBrowser(portal.url);
    const page = await (await browser.get(`${portal.url}/login`)).text();
    expect(page).not.toContain('name="password"');
    expect(page).toContain('Sign in with Corp SSO');
    const res = await browser.post(`${portal.url}/login`, { username: 'alice', password: 'x' });
    expect(res.status).toBe(403);
  });
});
