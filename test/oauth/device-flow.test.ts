import * as oauth from 'oauth4webapi';
import { decodeJwt } from 'jose';
import { FormBrowser, formFields } from '../helpers/browser-form-client.js';
import { answerDeviceCode, enterUserCode, postUserCodeAsJson } from '../helpers/device-flow.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { cookieHeader, formPost, json, mcpInitialize, startOAuthPortal, type OAuthErrorBody } from '../helpers/oauth-flow.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, testKeyPrefix } from '../helpers/redis.js';
import { insecure } from '../helpers/strict-client.js';
import { testClock } from '../helpers/test-clock.js';

const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const none = oauth.None();

/** The `error` of an OAuth error response as oauth4webapi reports it (RFC 6749 §5.2). */
async function oauthError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof oauth.ResponseBodyError)) throw new Error(`expected an OAuth error response, got ${String(error)}`);
  return error.error;
}

/**
 * The device authorization grant (RFC 8628) with oauth4webapi as the device: two portal processes
 * on one Redis (the device code is requested at one and polled at the other), the person's
 * approval through the real pages. A long polling interval makes every second poll of a code
 * `slow_down`, whatever the machine's speed.
 */
describe('device authorization grant across two portal processes', () => {
  let upstream: RecordingServer;
  let first: TestPortal;
  let second: TestPortal;
  let asAtFirst: oauth.AuthorizationServer;
  let asAtSecond: oauth.AuthorizationServer;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    const keyPrefix = testKeyPrefix();
    const stores = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(...stores.map((s) => s.cleanup));
    const document = {
      login: { accounts: await testAccounts() },
      tokens: { device_poll_interval: '60s' },
      rate_limits: {
        register_per_minute: 1_000_000,
        token_per_minute: 1_000_000,
        login_per_minute: 1_000_000,
        user_code_per_minute: 1_000_000,
      },
      upstreams: [{ id: 'echoes', kind: 'mcp', url: upstream.url, access: { groups: ['eng'] } }],
    };
    first = await startTestPortal({ document, store: stores[0]!.store });
    second = await startTestPortal({ document, store: stores[1]!.store, env: { PUBLIC_URL: first.url } });
    const issuer = new URL(first.url);
    asAtFirst = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    // The same issuer, served by the other process: its endpoints rewritten to reach that one.
    asAtSecond = {
      ...asAtFirst,
      token_endpoint: `${second.url}/token`,
      device_authorization_endpoint: `${second.url}/device_authorization`,
    };
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await upstream?.close();
  });

  async function registerDevice(grantTypes = [DEVICE_CODE, 'refresh_token']): Promise<oauth.Client> {
    const res = await oauth.dynamicClientRegistrationRequest(
      asAtFirst,
      { token_endpoint_auth_method: 'none', grant_types: grantTypes, client_name: 'Device Test' },
      insecure,
    );
    return (await oauth.processDynamicClientRegistrationResponse(res)) as oauth.Client;
  }

  async function startDevice(client: oauth.Client, parameters: Record<string, string> = { scope: 'mcp' }) {
    const res = await oauth.deviceAuthorizationRequest(asAtFirst, client, none, parameters, insecure);
    return oauth.processDeviceAuthorizationResponse(asAtFirst, client, res);
  }

  const poll = async (client: oauth.Client, deviceCode: string) =>
    oauth.processDeviceCodeResponse(asAtSecond, client, await oauth.deviceCodeGrantRequest(asAtSecond, client, none, deviceCode, insecure));

  const grantsOf = (client: oauth.Client) => first.grants.listByClient(client.client_id);

  test('metadata names the device authorization endpoint and the grant type', () => {
    expect(asAtFirst.device_authorization_endpoint).toBe(`${first.url}/device_authorization`);
    expect(asAtFirst.grant_types_supported).toContain(DEVICE_CODE);
  });

  test('requested at one process, approved through the pages, polled at the other: pending, tokens acting for the person, once', async () => {
    const client = await registerDevice();
    const device = await startDevice(client, { scope: 'mcp', resource: `${first.url}/mcp/echoes` });
    expect(device).toMatchObject({ verification_uri: `${first.url}/device`, interval: 60 });
    expect(device.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(device.verification_uri_complete).toBe(`${first.url}/device?user_code=${device.user_code}`);
    expect(await oauthError(poll(client, device.device_code))).toBe('authorization_pending');

    // The person types the code (lower case, no dash: it is normalized) at the other process's pages.
    const browser = new FormBrowser(second.url);
    const consent = await enterUserCode(browser, `${second.url}/device`, device.user_code.toLowerCase().replace('-', ''), ALICE);
    expect(consent.page).toContain('action="/consent"');
    expect(consent.page).toContain(`${first.url}/mcp/echoes`);
    expect(consent.page).toContain('<code>mcp</code>');
    expect(consent.page).toContain('showed you the code');

    // Polled again within the interval: slow_down (RFC 8628 §3.5), even with the answer about to come.
    expect(await oauthError(poll(client, device.device_code))).toBe('slow_down');
    const done = await browser.follow(`${second.url}/consent`, {
      method: 'POST',
      fields: { ...formFields(consent.page), decision: 'allow' },
    });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Device connected');
    expect(await grantsOf(client)).toHaveLength(0);
  });

  test('an approved code yields tokens at its first poll, for the person and the resource; a reuse is invalid_grant', async () => {
    const client = await registerDevice();
    const device = await startDevice(client, { scope: 'mcp', resource: `${first.url}/mcp/echoes` });
    const answered = await answerDeviceCode(new FormBrowser(first.url), device.verification_uri_complete!, device.user_code, ALICE);
    expect(answered.page).toContain('Device connected');

    const tokens = await poll(client, device.device_code);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ sub: 'local:alice', aud: `${first.url}/mcp/echoes`, client_id: client.client_id, scope: 'mcp' });
    expect((await mcpInitialize(`${second.url}/mcp/echoes`, tokens.access_token)).status).toBe(200);
    expect(await grantsOf(client)).toHaveLength(1);

    expect(await oauthError(poll(client, device.device_code))).toBe('invalid_grant');
    expect(await grantsOf(client)).toHaveLength(1);
    const audit = [...first.logs.lines, ...second.logs.lines];
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'device_authorization_started' }),
        expect.objectContaining({ event: 'device_code_entered' }),
        expect.objectContaining({ event: 'token_issued', grant: 'device_code' }),
        expect.objectContaining({ event: 'device_code_misused' }),
      ]),
    );

    // The refresh token keeps the resource.
    const refreshed = await oauth.processRefreshTokenResponse(
      asAtSecond,
      client,
      await oauth.refreshTokenGrantRequest(asAtSecond, client, none, tokens.refresh_token!, insecure),
    );
    expect(decodeJwt(refreshed.access_token).aud).toBe(`${first.url}/mcp/echoes`);
  });

  test('denied by the person: access_denied, nothing issued', async () => {
    const client = await registerDevice();
    const device = await startDevice(client);
    const answered = await answerDeviceCode(new FormBrowser(second.url), `${second.url}/device`, device.user_code, ALICE, 'deny');
    expect(answered.page).toContain('Device refused');
    expect(await oauthError(poll(client, device.device_code))).toBe('access_denied');
    expect(await grantsOf(client)).toHaveLength(0);
  });

  test("a code entered by one person cannot be taken over by another; the tokens are the first person's", async () => {
    const client = await registerDevice();
    const device = await startDevice(client);
    const alice = new FormBrowser(first.url);
    const consent = await enterUserCode(alice, `${first.url}/device`, device.user_code, ALICE);
    expect(consent.page).toContain('action="/consent"');

    const bob = new FormBrowser(second.url);
    await enterUserCode(bob, `${second.url}/device`, 'BCDF-GHJK', BOB); // signs Bob in
    const refused = await postUserCodeAsJson(bob, device.user_code);
    expect(refused.status).toBe(403);
    expect((await json<OAuthErrorBody>(refused)).error).toBe('access_denied');

    const done = await alice.follow(`${first.url}/consent`, { method: 'POST', fields: { ...formFields(consent.page), decision: 'allow' } });
    expect(await done.text()).toContain('Device connected');
    const tokens = await poll(client, device.device_code);
    expect(decodeJwt(tokens.access_token).sub).toBe('local:alice');
    expect([...first.logs.lines, ...second.logs.lines]).toEqual(
      expect.arrayContaining([expect.objectContaining({ event: 'device_code_refused', outcome: 'denied' })]),
    );
  });

  test('user codes: wrong, reused after the answer: invalid_grant, nothing bound', async () => {
    const client = await registerDevice();
    const device = await startDevice(client);
    const browser = new FormBrowser(first.url);
    await answerDeviceCode(browser, `${first.url}/device`, device.user_code, ALICE);
    for (const typed of [device.user_code, 'BCDF-GHJK', 'not a code']) {
      const res = await postUserCodeAsJson(browser, typed);
      expect(res.status).toBe(400);
      expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_grant');
    }
  });

  test("device codes: wrong, another client's: invalid_grant and nothing changes", async () => {
    const client = await registerDevice();
    const other = await registerDevice();
    const device = await startDevice(client);
    expect(await oauthError(poll(client, 'x'.repeat(43)))).toBe('invalid_grant');
    expect(await oauthError(poll(other, device.device_code))).toBe('invalid_grant');
    // The other client's attempt was not a poll of this code: its first poll is pending, not slow_down.
    expect(await oauthError(poll(client, device.device_code))).toBe('authorization_pending');
    expect(await grantsOf(other)).toHaveLength(0);
  });

  test('a client not registered for the grant: unauthorized_client at both endpoints; an unknown resource: invalid_target', async () => {
    const codeOnly = (await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        asAtFirst,
        { redirect_uris: ['http://127.0.0.1:9999/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] },
        insecure,
      ),
    )) as oauth.Client;
    expect(await oauthError(startDevice(codeOnly))).toBe('unauthorized_client');
    const res = await formPost(first.url, { grant_type: DEVICE_CODE, device_code: 'x'.repeat(43), client_id: codeOnly.client_id });
    expect((await json<OAuthErrorBody>(res)).error).toBe('unauthorized_client');

    const client = await registerDevice();
    expect(await oauthError(startDevice(client, { scope: 'mcp', resource: 'https://elsewhere.example/mcp' }))).toBe('invalid_target');
    expect(await oauthError(startDevice(client, { scope: 'admin' }))).toBe('invalid_scope');
  });

  test('registration: the device grant needs no redirect URI, the code grant still does', async () => {
    const res = await formPostJson(`${first.url}/register`, {
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', DEVICE_CODE],
    });
    expect(res.status).toBe(400);
    expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_redirect_uri');
  });
});

function formPostJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Expiry and the per-person limit on typed codes, on a portal whose codes live ten seconds. */
describe('device authorization grant: expiry and rate limits', () => {
  let portal: TestPortal;
  let as: oauth.AuthorizationServer;
  const clock = testClock();

  beforeAll(async () => {
    portal = await startOAuthPortal(
      { tokens: { device_code_ttl: '10s', device_poll_interval: '1s' }, rate_limits: { user_code_per_minute: 3 } },
      undefined,
      clock,
    );
    const issuer = new URL(portal.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  });
  afterAll(() => portal.close());

  test('an expired device code answers expired_token, and its user code is refused', async () => {
    const client = (await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, { token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE] }, insecure),
    )) as oauth.Client;
    const device = await oauth.processDeviceAuthorizationResponse(
      as,
      client,
      await oauth.deviceAuthorizationRequest(as, client, none, { scope: 'mcp' }, insecure),
    );
    const browser = new FormBrowser(portal.url);
    await enterUserCode(browser, `${portal.url}/device`, 'BCDF-GHJK', ALICE);
    clock.advance(11_000);
    const refused = await postUserCodeAsJson(browser, device.user_code);
    expect((await json<OAuthErrorBody>(refused)).error).toBe('invalid_grant');
    const res = await oauth.deviceCodeGrantRequest(as, client, none, device.device_code, insecure);
    expect(await oauthError(oauth.processDeviceCodeResponse(as, client, res))).toBe('expired_token');
    expect(await portal.grants.listByClient(client.client_id)).toHaveLength(0);
  });

  test('allowed on the consent page after the code expired: expired_token, nothing issued', async () => {
    const client = (await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, { token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE] }, insecure),
    )) as oauth.Client;
    const device = await oauth.processDeviceAuthorizationResponse(
      as,
      client,
      await oauth.deviceAuthorizationRequest(as, client, none, { scope: 'mcp' }, insecure),
    );
    const browser = new FormBrowser(portal.url);
    const consent = await enterUserCode(browser, `${portal.url}/device`, device.user_code, ALICE);
    expect(consent.page).toContain('action="/consent"');
    clock.advance(11_000);
    const res = await fetch(`${portal.url}/consent`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', cookie: cookieHeader(browser) },
      body: new URLSearchParams({ ...formFields(consent.page), decision: 'allow' }).toString(),
    });
    expect(res.status).toBe(400);
    expect((await json<OAuthErrorBody>(res)).error).toBe('expired_token');
    const polled = await oauth.deviceCodeGrantRequest(as, client, none, device.device_code, insecure);
    expect(await oauthError(oauth.processDeviceCodeResponse(as, client, polled))).toBe('expired_token');
    expect(await portal.grants.listByClient(client.client_id)).toHaveLength(0);
  });

  test('typing codes is limited per person: too_many_requests', async () => {
    const browser = new FormBrowser(portal.url);
    await enterUserCode(browser, `${portal.url}/device`, 'BCDF-GHJK', BOB);
    // Three a minute: the one typed above and two more are answered; the next is refused unread.
    for (let i = 0; i < 2; i++) expect((await postUserCodeAsJson(browser, 'BCDF-GHJK')).status).toBe(400);
    const limited = await postUserCodeAsJson(browser, 'BCDF-GHJK');
    expect(limited.status).toBe(429);
    expect((await json<OAuthErrorBody>(limited)).error).toBe('too_many_requests');
  });
});
