import { FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import {
  RecordingStore,
  REDIRECT_URI,
  authorizeCode,
  json,
  registerClient,
  registerRequest,
  startOAuthPortal,
  formPost,
  type OAuthErrorBody,
  type RegisteredClient,
} from '../helpers/oauth-flow.js';
import { ALICE, BOB, type TestPortal } from '../helpers/portal.js';

/**
 * Floods of `/register`, `/token` and `/login` meet the configured per-IP limits: `429` with
 * `Retry-After`, the refused request changes nothing, and other IPs are not affected.
 * (`trust_proxy` lets each test speak from its own `X-Forwarded-For` address.)
 */
describe('rate limits', () => {
  let portal: TestPortal;
  let store: RecordingStore;

  beforeAll(async () => {
    store = new RecordingStore();
    portal = await startOAuthPortal(
      { rate_limits: { register_per_minute: 3, token_per_minute: 3, login_per_minute: 3 }, http: { trust_proxy: true } },
      store,
    );
  });
  afterAll(async () => {
    await portal.close();
    await store.close();
  });

  /** Expects 429 with a whole-seconds `Retry-After` within the limit's window (one minute unless said). */
  function expectLimited(res: Response, windowSeconds = 60): void {
    expect(res.status).toBe(429);
    const retryAfter = res.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(windowSeconds);
  }

  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  test('/register: the fourth registration in a minute is 429 and stores no client; another IP still registers', async () => {
    const metadata = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' };
    for (let i = 0; i < 3; i++) {
      const res = await registerRequest(portal.url, metadata, from('10.0.0.1'));
      expect(res.status).toBe(201);
      await res.text();
    }
    const clients = store.writes('client');
    const limited = await registerRequest(portal.url, metadata, from('10.0.0.1'));
    expectLimited(limited);
    const body = await json<OAuthErrorBody & { client_id?: string }>(limited);
    expect(body.error).toBe('too_many_requests');
    expect(body.client_id).toBeUndefined();
    expect(store.writes('client')).toBe(clients);

    const other = await registerRequest(portal.url, metadata, from('10.0.0.2'));
    expect(other.status).toBe(201);
    await other.text();
  });

  test('/token: the fourth request in a minute is 429 without spending the code; another IP can still use it', async () => {
    const client: RegisteredClient = await registerClient(portal.url);
    const authorized = await authorizeCode(portal.url, client.client_id);
    const fields = { grant_type: 'authorization_code', code: authorized.code, code_verifier: authorized.verifier, redirect_uri: REDIRECT_URI, client_id: client.client_id };
    for (let i = 0; i < 3; i++) {
      const res = await formPost(portal.url, { ...fields, code_verifier: 'x'.repeat(43) }, from('10.0.1.1'));
      expect(res.status).toBe(400);
      expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_grant');
    }
    const limited = await formPost(portal.url, fields, from('10.0.1.1'));
    expectLimited(limited);
    expect((await json<OAuthErrorBody>(limited)).error).toBe('too_many_requests');
    // /revoke and /introspect count against the same limit.
    expectLimited(await formPost(portal.url, { token: 'x', client_id: client.client_id }, from('10.0.1.1'), '/revoke'));

    const other = await formPost(portal.url, fields, from('10.0.1.2'));
    expect(other.status).toBe(200);
    await other.text();
  });

  /** Signs in from `ip` with the form's CSRF pair; resolves the raw response. */
  async function signInFrom(ip: string, person: { username: string; password: string }): Promise<Response> {
    const browser = new FormBrowser(portal.url);
    const fields = hiddenFields(await (await browser.get(`${portal.url}/login`)).text());
    return fetch(`${portal.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
        cookie: [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        ...from(ip),
      },
      body: new URLSearchParams({ ...fields, username: person.username, password: person.password }).toString(),
    });
  }

  const sessionCookies = (res: Response) => res.headers.getSetCookie().filter((cookie) => cookie.startsWith('gatehouse_session='));

  test('/login: the fourth sign-in from one IP in a minute is 429 with no session, even with the right password; another IP signs in', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await signInFrom('10.0.2.1', ALICE);
      expect(res.status).toBe(200);
      await res.text();
    }
    const sessions = store.writes('session');
    const limited = await signInFrom('10.0.2.1', ALICE);
    expectLimited(limited);
    expect(sessionCookies(limited)).toEqual([]);
    expect(store.writes('session')).toBe(sessions);
    await limited.text();

    const other = await signInFrom('10.0.2.2', ALICE);
    expect(other.status).toBe(200);
    expect(sessionCookies(other)).toHaveLength(1);
  });

  test('/login: after three failed sign-ins for one account, it is locked from every IP', async () => {
    for (const ip of ['10.0.3.1', '10.0.3.2', '10.0.3.3']) {
      const res = await signInFrom(ip, { username: BOB.username, password: 'wrong-password' });
      expect(res.status).toBe(401);
      await res.text();
    }
    const limited = await signInFrom('10.0.3.4', BOB);
    // The per-account window is 15 minutes.
    expectLimited(limited, 15 * 60);
    expect(sessionCookies(limited)).toEqual([]);
    await limited.text();
    // Other accounts are not affected.
    const alice = await signInFrom('10.0.3.5', ALICE);
    // Signed in: the page that takes the browser on.
    expect(alice.status).toBe(200);
    await alice.text();
  });
});

describe('rate limits without trust_proxy', () => {
  let portal: TestPortal;

  beforeAll(async () => {
    portal = await startOAuthPortal({ rate_limits: { register_per_minute: 3 } });
  });
  afterAll(() => portal.close());

  test('a spoofed X-Forwarded-For does not escape the limit', async () => {
    const metadata = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' };
    for (let i = 0; i < 3; i++) {
      const res = await registerRequest(portal.url, metadata, { 'x-forwarded-for': `10.9.0.${i}` });
      expect(res.status).toBe(201);
      await res.text();
    }
    const limited = await registerRequest(portal.url, metadata, { 'x-forwarded-for': '10.9.0.99' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await json<OAuthErrorBody>(limited)).error).toBe('too_many_requests');
  });
});
