import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { connectInBrowser, startOAuthUpstream, storedConnections, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { authorizationResponseIssuerProblem } from '../../portal/credentials/authorization-response.js';
import { createUpstreamOAuth } from '../../portal/credentials/upstream-oauth.js';
import { sha256 } from '../../portal/crypto/hash.js';
import { createSealer } from '../../portal/crypto/seal.js';
import { storeKey } from '../../portal/store/store.js';

/**
 * A protected resource whose RFC 9728 metadata names whichever authorization server the test
 * says, and that answers every other request 401 with `resource_metadata` (an upstream that moves
 * to another AS).
 */
async function startMovingResource(issuer: string): Promise<{ url: string; moveTo(issuer: string): void; close(): Promise<void> }> {
  let current = issuer;
  let base = '';
  const server: Server = http.createServer((req, res) => {
    req.resume();
    const metadataUrl = `${base}/.well-known/oauth-protected-resource/mcp`;
    if (req.method === 'GET' && req.url === '/.well-known/oauth-protected-resource/mcp') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ resource: `${base}/mcp`, authorization_servers: [current] }));
      return;
    }
    res
      .writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${metadataUrl}"`, 'content-type': 'application/json' })
      .end('{"error":"invalid_token"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/mcp`,
    moveTo: (next) => void (current = next),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The portal as an OAuth client of upstream authorization servers (MCP 2026-07-28): the `iss` of
 * an authorization response is checked against the issuer recorded when the connect started
 * before the code is redeemed (RFC 9207 §2.4), whether or not the AS advertises it; a mismatch is
 * an error page, the code is never redeemed and no token is stored. Client registrations are
 * kept per issuer and never used with another AS (MCP 2026-07-28 "Authorization Server Binding").
 */
describe('upstream connect: issuer checks and per-issuer registrations', () => {
  let plain: OAuthUpstream;
  let advertising: OAuthUpstream;
  let asA: OAuthUpstream;
  let asB: OAuthUpstream;
  let moving: Awaited<ReturnType<typeof startMovingResource>>;
  let pinned: Awaited<ReturnType<typeof startMovingResource>>;
  let portal: TestPortal;

  beforeAll(async () => {
    plain = await startOAuthUpstream();
    advertising = await startOAuthUpstream({ issParameterSupported: true });
    asA = await startOAuthUpstream();
    asB = await startOAuthUpstream();
    moving = await startMovingResource(asA.issuer);
    pinned = await startMovingResource(asA.issuer);
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        rate_limits: UNLIMITED,
        // The moving and pinned resources name authorization servers on other loopback origins.
        upstream_oauth: { allow_private_addresses: true },
        upstreams: [
          { id: 'notes', kind: 'mcp', url: plain.url, credentials: { type: 'oauth' } },
          { id: 'strict', kind: 'mcp', url: advertising.url, credentials: { type: 'oauth' } },
          { id: 'moving', kind: 'mcp', url: moving.url, credentials: { type: 'oauth' } },
          { id: 'pinned', kind: 'mcp', url: pinned.url, credentials: { type: 'oauth', client_id: 'pinned-client' } },
        ],
      },
    });
  });
  afterAll(async () => {
    await portal?.close();
    await Promise.all([plain, advertising, asA, asB].map((u) => u?.close()));
    await Promise.all([moving, pinned].map((r) => r?.close()));
  });

  /** A signed-in browser with a connect to `upstreamId` started: the AS's redirect back to the portal, not yet followed. */
  async function startedConnect(upstreamId: string, person = BOB): Promise<{ browser: FormBrowser; callback: URL }> {
    const browser = new FormBrowser(portal.url);
    const started = await browser.signIn(await browser.follow(`${portal.url}/connect/${upstreamId}`), person);
    expect(started.status).toBe(303);
    const back = await fetch(started.headers.get('location')!, { redirect: 'manual' });
    return { browser, callback: new URL(back.headers.get('location')!) };
  }

  /** Expects the issuer-mismatch page: 400 HTML, nothing from the response shown, the code not redeemed, nothing stored. */
  async function expectRefused(res: Response, as: OAuthUpstream, codeExchangesBefore: number, personId = 'local:bob'): Promise<string> {
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const page = await res.text();
    expect(page).toContain('does not show that it comes from the authorization server the portal sent you to');
    expect(page).toContain('Nothing was saved');
    expect(as.tokenCalls.authorization_code).toBe(codeExchangesBefore);
    expect(await storedConnections(portal, personId)).toEqual([]);
    expect(portal.logs.lines.some((l) => l.event === 'upstream_connect_failed' && l.errorCode === 'as_issuer_mismatch')).toBe(true);
    return page;
  }

  describe('an AS that does not advertise iss', () => {
    test('a callback with no iss connects (the control case), and one with the exact issuer does too', async () => {
      const { browser, callback } = await startedConnect('notes', ALICE);
      expect(callback.searchParams.has('iss')).toBe(false);
      expect((await browser.follow(callback.href)).status).toBe(200);
      const again = await startedConnect('notes', ALICE);
      again.callback.searchParams.set('iss', plain.issuer);
      const res = await again.browser.follow(again.callback.href);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Connected notes');
      expect(await storedConnections(portal, 'local:alice')).toContain('notes');
    });

    test.each<[string, (issuer: string) => string]>([
      ['another issuer', () => 'https://evil.example/'],
      ['the issuer without its trailing slash', (issuer) => issuer.replace(/\/$/, '')],
      ['the issuer with an upper-case scheme', (issuer) => issuer.replace(/^http:/, 'HTTP:')],
      ['the issuer with a percent-encoded character', (issuer) => issuer.replace('127.0.0.1', '127.0.0.%31')],
      ['the issuer with a path added', (issuer) => `${issuer}tenant`],
      ['an empty value', () => ''],
    ])('a present iss that is %s is refused: the code is not redeemed, nothing is stored', async (_name, iss) => {
      const { browser, callback } = await startedConnect('notes');
      callback.searchParams.set('iss', iss(plain.issuer));
      await expectRefused(await browser.get(callback.href), plain, plain.tokenCalls.authorization_code);
    });

    test('iss given twice (the right one, then another) is refused', async () => {
      const { browser, callback } = await startedConnect('notes');
      callback.searchParams.append('iss', plain.issuer);
      callback.searchParams.append('iss', 'https://evil.example/');
      await expectRefused(await browser.get(callback.href), plain, plain.tokenCalls.authorization_code);
    });

    test('an error response with a mismatching iss is neither acted on nor shown', async () => {
      const { browser, callback } = await startedConnect('notes');
      const back = new URL(callback.href);
      back.searchParams.delete('code');
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'Call +1-555-0100 to unlock your account');
      back.searchParams.set('iss', 'https://evil.example/');
      const page = await expectRefused(await browser.get(back.href), plain, plain.tokenCalls.authorization_code);
      expect(page).not.toContain('declined');
      expect(page).not.toContain('555-0100');
    });

    test("a refused response spends the connect: the same state with the right iss is not accepted after it, and Alice's connection is untouched", async () => {
      const before = await portal.store.get('upstream-token:{local:alice}:notes');
      expect(before).not.toBeNull();
      const { browser, callback } = await startedConnect('notes', ALICE);
      const exchanges = plain.tokenCalls.authorization_code;
      callback.searchParams.set('iss', 'https://evil.example/');
      expect((await browser.get(callback.href)).status).toBe(400);
      callback.searchParams.set('iss', plain.issuer);
      const retry = await browser.get(callback.href);
      expect(retry.status).toBe(400);
      expect(await retry.text()).toContain('expired or was not issued');
      expect(plain.tokenCalls.authorization_code).toBe(exchanges);
      expect(await portal.store.get('upstream-token:{local:alice}:notes')).toBe(before);
    });
  });

  describe('an AS that advertises authorization_response_iss_parameter_supported', () => {
    test('its callbacks carry iss and connect (the control case)', async () => {
      const res = await connectInBrowser(new FormBrowser(portal.url), 'strict', ALICE);
      expect(res.status).toBe(200);
      expect(await storedConnections(portal, 'local:alice')).toContain('strict');
    });

    test('a callback without iss is refused, and nothing is stored', async () => {
      const { browser, callback } = await startedConnect('strict');
      expect(callback.searchParams.get('iss')).toBe(advertising.issuer);
      callback.searchParams.delete('iss');
      await expectRefused(await browser.get(callback.href), advertising, advertising.tokenCalls.authorization_code);
    });

    test('a callback with another iss is refused, and nothing is stored', async () => {
      const { browser, callback } = await startedConnect('strict');
      callback.searchParams.set('iss', plain.issuer);
      await expectRefused(await browser.get(callback.href), advertising, advertising.tokenCalls.authorization_code);
    });
  });

  describe('client registrations belong to one authorization server', () => {
    /** Alice's connect to `upstreamId` up to the portal's redirect to the AS: resolves that URL. */
    async function authorizeUrlFor(browser: FormBrowser, upstreamId: string): Promise<URL> {
      const res = await browser.follow(`${portal.url}/connect/${upstreamId}`);
      expect(res.status).toBe(303);
      return new URL(res.headers.get('location')!);
    }

    test('registered once per AS (saying what kind of client the portal is), re-registered when the upstream moves, reused when it moves back', async () => {
      const browser = new FormBrowser(portal.url);
      await browser.signIn(await browser.follow(`${portal.url}/login`), ALICE);

      const atA = await authorizeUrlFor(browser, 'moving');
      expect(atA.origin).toBe(new URL(asA.issuer).origin);
      expect(asA.registrations).toBe(1);
      const registration = asA.requests.find((r) => r.path === '/register')?.body;
      expect(registration).toMatchObject({ redirect_uris: [`${portal.url}/connect/moving/callback`], application_type: 'native' });
      expect((await connectInBrowser(browser, 'moving')).status).toBe(200);
      expect(asA.tokenCalls.authorization_code).toBe(1);

      const requestsAtA = asA.requests.length;
      moving.moveTo(asB.issuer);
      const atB = await authorizeUrlFor(browser, 'moving');
      expect(atB.origin).toBe(new URL(asB.issuer).origin);
      expect(asB.registrations).toBe(1);
      expect(asA.registrations).toBe(1);
      expect(atB.searchParams.get('client_id')).not.toBe(atA.searchParams.get('client_id'));
      // B knows the client id it is sent (it issued it): the connect completes there.
      expect((await connectInBrowser(browser, 'moving')).status).toBe(200);
      expect(asB.tokenCalls.authorization_code).toBe(1);
      // Nothing of this connect went to A.
      expect(asA.requests.slice(requestsAtA)).toEqual([]);

      moving.moveTo(asA.issuer);
      const backAtA = await authorizeUrlFor(browser, 'moving');
      expect(backAtA.origin).toBe(new URL(asA.issuer).origin);
      expect(backAtA.searchParams.get('client_id')).toBe(atA.searchParams.get('client_id'));
      expect(asA.registrations).toBe(1);
      expect(asB.registrations).toBe(1);
    });

    test("a registration made at one AS is refused for tokens of another: nothing is sent to the other AS's token endpoint", async () => {
      // The portal's own registrations, read as the portal reads them.
      const oauth = createUpstreamOAuth({
        store: portal.store,
        sealer: createSealer(portal.config.secret, 'upstream-clients'),
        portalIssuer: portal.url,
        allowPrivateAddresses: true,
      });
      const upstream = portal.config.upstreams.find((u) => u.id === 'moving')!;
      const registeredAtA = storeKey('upstream-client', sha256(`${asA.issuer}\n${portal.url}/connect/moving/callback`));
      expect(await portal.store.get(registeredAtA)).not.toBeNull();
      const requestsAtB = asB.requests.length;
      await expect(
        oauth.refresh(upstream, { asIssuer: asB.issuer, clientKey: registeredAtA, resource: moving.url }, 'rt-from-somewhere'),
      ).rejects.toMatchObject({ code: 'as_refused', oauthError: 'invalid_client' });
      await expect(
        oauth.revoke(
          upstream,
          { asIssuer: asB.issuer, clientKey: registeredAtA, resource: moving.url },
          'rt-from-somewhere',
          'refresh_token',
        ),
      ).rejects.toMatchObject({ code: 'as_refused' });
      expect(asB.requests.slice(requestsAtB).filter((r) => r.path !== '/.well-known/oauth-authorization-server')).toEqual([]);
    });

    test('a configured client_id is not sent to an AS the upstream moved to: an error page for the operator, nothing sent there', async () => {
      const browser = new FormBrowser(portal.url);
      await browser.signIn(await browser.follow(`${portal.url}/login`), ALICE);
      const first = await authorizeUrlFor(browser, 'pinned');
      expect(first.origin).toBe(new URL(asA.issuer).origin);
      expect(first.searchParams.get('client_id')).toBe('pinned-client');

      pinned.moveTo(asB.issuer);
      const requestsAtB = asB.requests.length;
      const res = await browser.follow(`${portal.url}/connect/pinned`);
      expect(res.status).toBe(502);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('ask an administrator');
      expect(asB.requests.slice(requestsAtB).filter((r) => r.path === '/authorize' || r.path === '/register')).toEqual([]);
      expect(
        portal.logs.lines.some(
          (l) =>
            l.event === 'upstream_connect_failed' &&
            l.errorCode === 'as_unsupported' &&
            String(l.internal).includes('configured client_id'),
        ),
      ).toBe(true);

      pinned.moveTo(asA.issuer);
      expect((await authorizeUrlFor(browser, 'pinned')).searchParams.get('client_id')).toBe('pinned-client');
    });
  });
});

describe('authorizationResponseIssuerProblem (RFC 9207 §2.4)', () => {
  const issuer = 'https://as.example/tenant';
  const params = (query: string) => new URLSearchParams(query);

  test('the four rows of the MCP table', () => {
    expect(authorizationResponseIssuerProblem(params(`code=c&iss=${encodeURIComponent(issuer)}`), issuer, true)).toBeUndefined();
    expect(authorizationResponseIssuerProblem(params('code=c'), issuer, true)).toContain('no "iss"');
    expect(authorizationResponseIssuerProblem(params(`code=c&iss=${encodeURIComponent(issuer)}`), issuer, false)).toBeUndefined();
    expect(authorizationResponseIssuerProblem(params('code=c&iss=https%3A%2F%2Fother.example'), issuer, false)).toContain('other.example');
    expect(authorizationResponseIssuerProblem(params('code=c'), issuer, false)).toBeUndefined();
  });

  test('no normalisation before comparing', () => {
    for (const variant of [
      'https://as.example/tenant/',
      'HTTPS://as.example/tenant',
      'https://AS.example/tenant',
      'https://as.example:443/tenant',
      'https://as.example/%74enant',
    ]) {
      expect(authorizationResponseIssuerProblem(params(`iss=${encodeURIComponent(variant)}`), issuer, false)).toBeDefined();
    }
  });
});
