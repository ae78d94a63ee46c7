import { FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import {
  RecordingStore,
  REDIRECT_URI,
  authorizeCode,
  basicAuth,
  clientAuth,
  json,
  tokensFor,
  registerClient,
  registerRequest,
  startOAuthPortal,
  formPost,
  type OAuthErrorBody,
  type RegisteredClient,
  type TokenBody,
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
    const fields = {
      grant_type: 'authorization_code',
      code: authorized.code,
      code_verifier: authorized.verifier,
      redirect_uri: REDIRECT_URI,
      client_id: client.client_id,
    };
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

/**
 * `/token` is limited per authenticated client (`token_per_client_per_minute`), and per IP only
 * for failed requests (`token_per_minute`): a team of agents behind one address is not throttled
 * by each other, a client over its own budget is, and guessing from one address still is.
 */
describe('token endpoint limits: per client, and per IP for failures', () => {
  let portal: TestPortal;

  beforeAll(async () => {
    portal = await startOAuthPortal({ rate_limits: { token_per_minute: 3, token_per_client_per_minute: 3 }, http: { trust_proxy: true } });
  });
  afterAll(() => portal.close());

  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  /** Refreshes from `ip` with the client's registered authentication; resolves the raw response. */
  function refreshFrom(ip: string, client: RegisteredClient, refreshToken: string): Promise<Response> {
    const auth = clientAuth(client);
    return formPost(
      portal.url,
      { grant_type: 'refresh_token', refresh_token: refreshToken, ...auth.fields },
      { ...auth.headers, ...from(ip) },
    );
  }

  /** Refreshes `times` times from `ip`, each with the token the last one rotated to; resolves the last tokens. */
  async function refreshChain(ip: string, client: RegisteredClient, tokens: TokenBody, times: number): Promise<TokenBody> {
    let current = tokens;
    for (let i = 0; i < times; i++) {
      const res = await refreshFrom(ip, client, current.refresh_token!);
      expect(res.status).toBe(200);
      current = await json<TokenBody>(res);
    }
    return current;
  }

  test('five agents behind one IP each refresh within their own budget: none is throttled by the others', async () => {
    const agents = await Promise.all(Array.from({ length: 5 }, () => registerClient(portal.url)));
    // The code exchange is the first request of each client's budget of 3, so two refreshes each:
    // ten successful requests from one IP whose budget is 3.
    for (const agent of agents) await refreshChain('10.1.0.1', agent, await tokensFor(portal.url, agent), 2);
    // Successes used none of the IP's budget for failures: a failure there is still its own error.
    const failed = await refreshFrom('10.1.0.1', await registerClient(portal.url), 'unknown.token');
    expect(failed.status).toBe(400);
    expect((await json<OAuthErrorBody>(failed)).error).toBe('invalid_grant');
  });

  test('a client over its budget gets 429 with Retry-After and an OAuth error body; its refresh token is not spent; another client at the same IP is served', async () => {
    const agent = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
    const last = await refreshChain('10.1.1.1', agent, await tokensFor(portal.url, agent), 2);
    const limited = await refreshFrom('10.1.1.1', agent, last.refresh_token!);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const body = await json<OAuthErrorBody & { access_token?: string }>(limited);
    expect(body.error).toBe('too_many_requests');
    expect(body.access_token).toBeUndefined();
    // From another IP too: the budget is the client's.
    expect((await refreshFrom('10.1.1.2', agent, last.refresh_token!)).status).toBe(429);
    // Nothing was issued or spent: the token is still active (introspection counts per IP, so from a third).
    const introspected = await formPost(
      portal.url,
      { token: last.refresh_token! },
      { ...clientAuth(agent).headers, ...from('10.1.1.3') },
      '/introspect',
    );
    expect((await json<{ active: boolean }>(introspected)).active).toBe(true);

    const other = await registerClient(portal.url);
    await refreshChain('10.1.1.1', other, await tokensFor(portal.url, other), 1);
  });

  test('failed client authentication from one IP is throttled per IP: then even the right secret gets 429 there, and works from another IP', async () => {
    const confidential = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
    const tokens = await tokensFor(portal.url, confidential);
    const attempt = (ip: string, secret: string) =>
      formPost(
        portal.url,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
        { authorization: basicAuth(confidential.client_id, secret), ...from(ip) },
      );
    for (let i = 0; i < 2; i++) {
      const wrong = await attempt('10.1.2.1', `wrong-secret-${i}`);
      expect(wrong.status).toBe(401);
      expect((await json<OAuthErrorBody>(wrong)).error).toBe('invalid_client');
    }
    // No client authentication at all fails, and counts, the same way.
    const anonymous = await formPost(portal.url, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, from('10.1.2.1'));
    expect(anonymous.status).toBe(401);
    expect((await json<OAuthErrorBody>(anonymous)).error).toBe('invalid_client');

    const limited = await attempt('10.1.2.1', confidential.client_secret!);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await json<OAuthErrorBody>(limited)).error).toBe('too_many_requests');

    const elsewhere = await attempt('10.1.2.2', confidential.client_secret!);
    expect(elsewhere.status).toBe(200);
    expect((await json<TokenBody>(elsewhere)).refresh_token).toBeDefined();
  });
});
