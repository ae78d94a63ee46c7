import type { Session } from '../../portal/login/sessions.js';
import { createPageCsrf } from '../../portal/web/page-csrf.js';
import { FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import {
  REDIRECT_URI,
  RecordingStore,
  cookieHeader,
  exchangeCode,
  json,
  pendingConsent,
  registerClient,
  startOAuthPortal,
  type OAuthErrorBody,
  type RegisteredClient,
} from '../helpers/oauth-flow.js';
import { ALICE, BOB, TEST_SECRET, type TestPortal } from '../helpers/portal.js';

/** The consent and sign-in forms with bad input: refused (HTML for people, JSON error codes otherwise), nothing issued. */
describe('consent and sign-in reject bad input', () => {
  let portal: TestPortal;
  let store: RecordingStore;

  beforeAll(async () => {
    store = new RecordingStore();
    portal = await startOAuthPortal({}, store);
  });
  afterAll(async () => {
    await portal.close();
    await store.close();
  });

  /** The consent form's CSRF token for `browser`'s session and `requestId`, as the portal would render it. */
  function consentCsrf(browser: FormBrowser, requestId: string): string {
    const session = { id: browser.cookies.get('gatehouse_session')!.split('.')[0]! } as Session;
    return createPageCsrf({ secret: TEST_SECRET, issuer: portal.url }).token(session, `consent:${requestId}`);
  }

  /** Posts a form with `browser`'s cookies, asking for JSON (so the error code is readable). */
  function postAsJson(browser: FormBrowser, path: string, fields: Record<string, string>): Promise<Response> {
    return fetch(`${portal.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', cookie: cookieHeader(browser) },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** A pending consent for a new client (so no earlier consent is remembered), as `person` in `browser`. */
  async function startPending(browser: FormBrowser, person = ALICE, params: Record<string, string> = {}) {
    const owner = await registerClient(portal.url);
    return { client: owner, ...(await pendingConsent(portal.url, owner.client_id, browser, person, params)) };
  }

  /** Allows `pending` in ALICE's `browser` and shows the code works: the request was still pending. */
  async function aliceCompletes(
    browser: FormBrowser,
    pending: { client: RegisteredClient; request: string; csrf: string; verifier: string },
  ): Promise<void> {
    const res = await browser.post(`${portal.url}/consent`, { request: pending.request, csrf: pending.csrf, decision: 'allow' });
    expect(res.status).toBe(303);
    const callback = new URL(res.headers.get('location')!);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    const code = callback.searchParams.get('code')!;
    const tokens = await exchangeCode(portal.url, pending.client, { code, verifier: pending.verifier, redirectUri: REDIRECT_URI });
    expect(tokens.status).toBe(200);
    await tokens.text();
  }

  describe('POST /consent', () => {
    test('without the CSRF token (or with a wrong one) is 403 invalid_csrf, and no code is issued', async () => {
      const alice = new FormBrowser(portal.url);
      const pending = await startPending(alice);
      const codes = store.writes('code');

      const missing = await alice.post(`${portal.url}/consent`, { request: pending.request, decision: 'allow' });
      expect(missing.status).toBe(403);
      expect(missing.headers.get('location')).toBeNull();
      expect(missing.headers.get('content-type')).toMatch(/^text\/html/);
      await missing.text();

      const wrong = await postAsJson(alice, '/consent', { request: pending.request, csrf: 'A'.repeat(43), decision: 'allow' });
      expect(wrong.status).toBe(403);
      expect(wrong.headers.get('location')).toBeNull();
      expect((await json<OAuthErrorBody>(wrong)).error).toBe('invalid_csrf');

      // A deny without CSRF is refused too: a forged deny must not consume the request.
      const forgedDeny = await postAsJson(alice, '/consent', { request: pending.request, decision: 'deny' });
      expect(forgedDeny.status).toBe(403);
      expect((await json<OAuthErrorBody>(forgedDeny)).error).toBe('invalid_csrf');

      expect(store.writes('code')).toBe(codes);
      await aliceCompletes(alice, pending);
    });

    test('without a session is 401, and no code is issued', async () => {
      const alice = new FormBrowser(portal.url);
      const pending = await startPending(alice);
      const codes = store.writes('code');
      const res = await fetch(`${portal.url}/consent`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ request: pending.request, csrf: pending.csrf, decision: 'allow' }).toString(),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('location')).toBeNull();
      expect((await json<OAuthErrorBody>(res)).error).toBe('login_required');
      expect(store.writes('code')).toBe(codes);
      await aliceCompletes(alice, pending);
    });

    test('BOB cannot see or answer ALICE’s pending request; ALICE still can', async () => {
      const alice = new FormBrowser(portal.url);
      const pending = await startPending(alice);
      const bob = new FormBrowser(portal.url);
      await bob.signIn(await bob.get(`${portal.url}/login`), BOB);
      const codes = store.writes('code');

      const page = await bob.get(`${portal.url}/consent?request=${pending.request}`);
      expect(page.status).toBe(403);
      expect(page.headers.get('location')).toBeNull();
      await page.text();

      // With ALICE's form fields (the CSRF token is bound to her session)…
      const stolen = await postAsJson(bob, '/consent', { request: pending.request, csrf: pending.csrf, decision: 'allow' });
      expect(stolen.status).toBe(403);
      expect(stolen.headers.get('location')).toBeNull();
      await stolen.text();

      // …and with a CSRF token that is valid for BOB's own session: the request is bound to ALICE.
      const bobsCsrf = consentCsrf(bob, pending.request);
      for (const decision of ['allow', 'deny']) {
        const res = await postAsJson(bob, '/consent', { request: pending.request, csrf: bobsCsrf, decision });
        expect(res.status).toBe(403);
        expect(res.headers.get('location')).toBeNull();
        expect((await json<OAuthErrorBody>(res)).error).toBe('access_denied');
      }

      expect(store.writes('code')).toBe(codes);
      await aliceCompletes(alice, pending);
    });

    test('deny redirects back with error=access_denied, state and iss, and no code; the request is spent', async () => {
      const alice = new FormBrowser(portal.url);
      const pending = await startPending(alice, ALICE, { state: 'deny-state' });
      const codes = store.writes('code');
      const res = await alice.post(`${portal.url}/consent`, { request: pending.request, csrf: pending.csrf, decision: 'deny' });
      expect(res.status).toBe(303);
      const callback = new URL(res.headers.get('location')!);
      expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
      expect(callback.searchParams.get('error')).toBe('access_denied');
      expect(callback.searchParams.get('state')).toBe('deny-state');
      expect(callback.searchParams.get('iss')).toBe(portal.url);
      expect(callback.searchParams.has('code')).toBe(false);
      expect(store.writes('code')).toBe(codes);

      const again = await postAsJson(alice, '/consent', { request: pending.request, csrf: pending.csrf, decision: 'allow' });
      expect(again.status).toBe(400);
      expect((await json<OAuthErrorBody>(again)).error).toBe('invalid_request');
      expect(store.writes('code')).toBe(codes);
    });

    test('an unknown decision is 400 invalid_request, and the request stays pending', async () => {
      const alice = new FormBrowser(portal.url);
      const pending = await startPending(alice);
      const res = await postAsJson(alice, '/consent', { request: pending.request, csrf: pending.csrf, decision: 'maybe' });
      expect(res.status).toBe(400);
      expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_request');
      await aliceCompletes(alice, pending);
    });

    test('an answer to an unknown request is 400 invalid_request', async () => {
      const alice = new FormBrowser(portal.url);
      await alice.signIn(await alice.get(`${portal.url}/login`), ALICE);
      const csrf = consentCsrf(alice, 'nope');
      const res = await postAsJson(alice, '/consent', { request: 'nope', csrf, decision: 'allow' });
      expect(res.status).toBe(400);
      expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_request');
    });
  });

  describe('POST /login', () => {
    /** A fresh browser on the sign-in page: its CSRF cookie set, its form fields read. */
    async function loginForm(returnTo?: string): Promise<{ browser: FormBrowser; fields: Record<string, string> }> {
      const browser = new FormBrowser(portal.url);
      const page = await browser.get(`${portal.url}/login${returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`}`);
      expect(page.status).toBe(200);
      return { browser, fields: hiddenFields(await page.text()) };
    }

    const sessionCookies = (res: Response) => res.headers.getSetCookie().filter((cookie) => cookie.startsWith('gatehouse_session='));

    test('a wrong password is a 401 page and sets no session cookie', async () => {
      const { browser, fields } = await loginForm();
      const sessions = store.writes('session');
      const res = await browser.post(`${portal.url}/login`, { ...fields, username: ALICE.username, password: 'wrong-password' });
      expect(res.status).toBe(401);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(sessionCookies(res)).toEqual([]);
      expect(await res.text()).toContain('action="/login"');
      expect(browser.cookies.has('gatehouse_session')).toBe(false);
      expect(store.writes('session')).toBe(sessions);
    });

    test('an unknown user, or an empty password, is the same 401', async () => {
      const { browser, fields } = await loginForm();
      for (const [username, password] of [
        ['mallory', 'alice-password'],
        [ALICE.username, ''],
      ]) {
        const res = await browser.post(`${portal.url}/login`, { ...fields, username: username!, password: password! });
        expect(res.status).toBe(401);
        expect(sessionCookies(res)).toEqual([]);
        await res.text();
      }
    });

    test('a missing or wrong CSRF token is 403, even with the right password, and no session', async () => {
      const { browser, fields } = await loginForm();
      const sessions = store.writes('session');
      const missing = await browser.post(`${portal.url}/login`, {
        return_to: fields.return_to!,
        username: ALICE.username,
        password: ALICE.password,
      });
      expect(missing.status).toBe(403);
      expect(sessionCookies(missing)).toEqual([]);
      await missing.text();

      const wrong = await postAsJson(browser, '/login', {
        ...fields,
        csrf: 'A'.repeat(43),
        username: ALICE.username,
        password: ALICE.password,
      });
      expect(wrong.status).toBe(403);
      expect((await json<OAuthErrorBody>(wrong)).error).toBe('invalid_csrf');

      // The form's token without its cookie (a cross-site post of a stolen form) fails too.
      const noCookie = await fetch(`${portal.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ ...fields, username: ALICE.username, password: ALICE.password }).toString(),
      });
      expect(noCookie.status).toBe(403);
      expect((await json<OAuthErrorBody>(noCookie)).error).toBe('invalid_csrf');
      expect(store.writes('session')).toBe(sessions);
    });

    test('a form with too many parameters is 413, and no session', async () => {
      const { browser, fields } = await loginForm();
      const sessions = store.writes('session');
      const padding = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, '1']));
      const res = await postAsJson(browser, '/login', { ...fields, ...padding, username: ALICE.username, password: ALICE.password });
      expect(res.status).toBe(413);
      expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_request');
      expect(sessionCookies(res)).toEqual([]);
      expect(store.writes('session')).toBe(sessions);
    });

    test.each([
      '//evil.example',
      '//evil.example/path',
      'https://evil.example',
      'https://evil.example/consent',
      '/\\evil.example',
      '\\\\evil.example',
      '/\t/evil.example',
      'javascript:alert(1)',
      ' //evil.example',
    ])('return_to %j ends on a portal path', async (returnTo) => {
      // As a query parameter of GET /login, carried through the form…
      const { browser, fields } = await loginForm(returnTo);
      const res = await browser.post(`${portal.url}/login`, { ...fields, username: ALICE.username, password: ALICE.password });
      expect(new URL(await continuesTo(res), portal.url).origin).toBe(portal.url);
      // …posted directly in the form…
      const { browser: direct, fields: directFields } = await loginForm();
      const posted = await direct.post(`${portal.url}/login`, {
        ...directFields,
        return_to: returnTo,
        username: ALICE.username,
        password: ALICE.password,
      });
      expect(new URL(await continuesTo(posted), portal.url).origin).toBe(portal.url);
      // …and for someone already signed in.
      const signedIn = await browser.get(`${portal.url}/login?return_to=${encodeURIComponent(returnTo)}`);
      expect(signedIn.status).toBe(303);
      expect(new URL(signedIn.headers.get('location')!, portal.url).origin).toBe(portal.url);
    });

    test('a same-origin return_to is honoured', async () => {
      const { browser, fields } = await loginForm('/consent?request=abc');
      const res = await browser.post(`${portal.url}/login`, { ...fields, username: ALICE.username, password: ALICE.password });
      expect(await continuesTo(res)).toBe('/consent?request=abc');
    });
  });
});

/**
 * Where a successful sign-in sends the browser: its answer is a page that moves on by itself
 * (a 303 would be blocked by the sign-in page's CSP when the chain ends at another origin).
 */
async function continuesTo(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  const match = /<meta http-equiv="refresh" content="0;url=([^"]*)">/.exec(await res.text());
  expect(match).not.toBeNull();
  return match![1]!.replace(/&amp;/g, '&');
}
