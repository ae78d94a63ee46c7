import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startHandbookSite, type HandbookSite } from '../../examples/handbook-site.js';
import { upstreamSchema } from '../../portal/config/schema.js';
import { accessTokenFor } from '../helpers/app-token.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { hostRequest } from '../helpers/host-request.js';
import { startHugeHtmlApp, type HugeHtmlApp } from '../helpers/html-app.js';
import { startTestUpstream, type Echo, type TestUpstream } from '../helpers/http-app-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { rawRequest } from '../helpers/raw-http.js';

describe('HTTP apps behind the portal', () => {
  let portal: TestPortal;
  let wiki: TestUpstream;
  let handbook: HandbookSite;
  let huge: HugeHtmlApp;
  let aggregateToken: string;
  let port: number;

  beforeAll(async () => {
    [wiki, handbook, huge] = await Promise.all([startTestUpstream(), startHandbookSite(), startHugeHtmlApp(3 * 1024 * 1024)]);
    const accounts = await testAccounts();
    portal = await startTestPortal({
      // The host-routed app's host names the portal's port.
      document: (url) => ({
        login: { accounts },
        upstreams: [
          { id: 'wiki', kind: 'http', url: wiki.url, markdown: true, call_timeout: '500ms' },
          { id: 'handbook', kind: 'http', url: handbook.url, markdown: true },
          { id: 'huge', kind: 'http', url: huge.url, markdown: true },
          { id: 'secret', kind: 'http', url: wiki.url, access: { groups: ['eng'] }, openapi: '/openapi.json' },
          { id: 'hosted', kind: 'http', url: wiki.url, host: `hosted.localhost:${new URL(url).port}` },
        ],
      }),
    });
    port = Number(new URL(portal.url).port);
    aggregateToken = await accessTokenFor(portal.url, ALICE, `${portal.url}/mcp`);
  });
  afterAll(async () => {
    await portal.close();
    await Promise.all([wiki.close(), handbook.close(), huge.close()]);
  });

  const bearer = (token: string, extra: Record<string, string> = {}) => ({ headers: { authorization: `Bearer ${token}`, ...extra } });

  test('agent path: 401 → RFC 9728 metadata → token for the app → Markdown', async () => {
    const challenge = await fetch(`${portal.url}/apps/handbook/`, { headers: { accept: 'text/markdown' } });
    expect(challenge.status).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge.headers.get('www-authenticate') ?? '')?.[1];
    expect(metadataUrl).toBe(`${portal.url}/.well-known/oauth-protected-resource/apps/handbook`);
    const metadata = (await (await fetch(metadataUrl!)).json()) as { resource: string; authorization_servers: string[] };
    expect(metadata).toMatchObject({ resource: `${portal.url}/apps/handbook`, authorization_servers: [portal.url] });

    const token = await accessTokenFor(metadata.authorization_servers[0]!, ALICE, metadata.resource);
    const res = await fetch(`${portal.url}/apps/handbook/`, bearer(token, { accept: 'text/markdown, text/html;q=0.5' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/markdown; charset=utf-8/);
    expect(res.headers.get('vary')).toMatch(/Accept/);
    expect(Number(res.headers.get('x-markdown-tokens'))).toBeGreaterThan(0);
    const markdown = await res.text();
    expect(markdown).toMatch(/^# Acme Handbook/);
    expect(markdown).toContain(`(${portal.url}/apps/handbook/onboarding)`);
    expect(markdown).not.toMatch(/<nav|<script/);

    // The same token, asking for HTML, gets the page as the app serves it.
    const html = await fetch(`${portal.url}/apps/handbook/`, bearer(token, { accept: 'text/html' }));
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
  });

  test('a token for another app is refused with 401; the aggregate token with the app in its grant is accepted', async () => {
    const handbookToken = await accessTokenFor(portal.url, ALICE, `${portal.url}/apps/handbook`);
    const refused = await fetch(`${portal.url}/apps/wiki/echo`, bearer(handbookToken));
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(refused.headers.get('www-authenticate')).toContain(
      `resource_metadata="${portal.url}/.well-known/oauth-protected-resource/apps/wiki"`,
    );
    expect((await fetch(`${portal.url}/apps/wiki/echo`, bearer(aggregateToken))).status).toBe(200);
  });

  test("header hygiene: the app never sees the agent's token or the portal's cookies, and gets a verifiable assertion", async () => {
    const res = await fetch(
      `${portal.url}/apps/wiki/echo`,
      bearer(aggregateToken, { cookie: 'gatehouse_session=stolen.x; gatehouse_login=nonce; app_pref=1', 'gatehouse-assertion': 'forged' }),
    );
    const echo = (await res.json()) as Echo;
    expect(echo.url).toBe('/echo');
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers.cookie).toBe('app_pref=1');
    expect(echo.headers['gatehouse-assertion']).not.toBe('forged');
    const jwks = createRemoteJWKSet(new URL(`${portal.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(echo.headers['gatehouse-assertion']!, jwks, {
      issuer: portal.url,
      audience: portal.config.upstreams[0]!.url!,
    });
    expect(payload).toMatchObject({ sub: 'local:alice', groups: ['eng'] });
    expect((payload.act as { sub: string }).sub).toBeTruthy();
    expect(echo.headers['x-forwarded-prefix']).toBe('/apps/wiki');
  });

  test('a signed-in browser is the person of its session; its portal cookies stay at the portal', async () => {
    const browser = new FormBrowser(portal.url);
    const first = await browser.get(`${portal.url}/apps/wiki/echo?x=1`);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe(`/login?return_to=${encodeURIComponent('/apps/wiki/echo?x=1')}`);
    const back = await browser.signIn(await browser.get(`${portal.url}${first.headers.get('location')}`), ALICE);
    expect(back.status).toBe(200);
    expect(browser.cookies.has('gatehouse_session') && browser.cookies.has('gatehouse_login')).toBe(true);
    const echo = (await back.json()) as Echo;
    expect(echo.url).toBe('/echo?x=1');
    expect(echo.headers.cookie).toBeUndefined();
    const jwks = createRemoteJWKSet(new URL(`${portal.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(echo.headers['gatehouse-assertion']!, jwks, { issuer: portal.url, audience: wiki.url });
    expect(payload).toMatchObject({ sub: 'local:alice', act: { sub: 'browser' } });
  });

  test('a person the access rules do not admit gets a 403 page', async () => {
    const browser = new FormBrowser(portal.url);
    const login = await browser.get(`${portal.url}/login`);
    await browser.signIn(login, BOB);
    const res = await browser.get(`${portal.url}/apps/secret/page`);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('access denied');
  });

  test('path traversal through the portal is refused and never reaches the app, path- or host-routed', async () => {
    const before = wiki.seen.length;
    const shapes = [
      '/../admin',
      '/%2e%2e/admin',
      '/%252e%252e/admin',
      '/a/..%2f..%2fadmin',
      '/..;/admin',
      '/%2e%2e%3b/admin',
      '/%u002e%u002e/admin',
      '/%c0%ae%c0%ae/admin',
      '/a\\..\\..\\admin',
    ];
    for (const [prefix, host] of [
      ['/apps/wiki', `127.0.0.1:${port}`],
      ['', `hosted.localhost:${port}`],
    ] as const) {
      for (const shape of shapes) {
        const answer = await rawRequest(
          port,
          `GET ${prefix}${shape} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${aggregateToken}\r\nConnection: close\r\n\r\n`,
        );
        expect({ host, shape, status: answer.status }).toEqual({ host, shape, status: 400 });
        expect(answer.text).toContain('"error":"invalid_request"');
      }
    }
    expect(wiki.seen.length).toBe(before);
  });

  test('an upstream that never answers becomes a 504 page', async () => {
    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    const res = await browser.get(`${portal.url}/apps/wiki/hang`);
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const agent = await fetch(`${portal.url}/apps/wiki/hang`, bearer(aggregateToken));
    expect(agent.status).toBe(504);
    expect(((await agent.json()) as { error: string }).error).toBe('gateway_timeout');
  });

  test('a page far over the Markdown bound is served as the HTML it is', async () => {
    const res = await fetch(`${portal.url}/apps/huge/huge`, bearer(aggregateToken, { accept: 'text/markdown' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(3 * 1024 * 1024);
  });

  test('host routing: the whole host belongs to the app, with its own RFC 9728 metadata at the root', async () => {
    const host = `hosted.localhost:${port}`;
    const challenge = await hostRequest(`${portal.url}/echo`, host);
    expect(challenge.status).toBe(401);
    expect(challenge.headers['www-authenticate']).toContain(`resource_metadata="http://${host}/.well-known/oauth-protected-resource"`);
    const metadata = await hostRequest(`${portal.url}/.well-known/oauth-protected-resource`, host);
    expect(JSON.parse(metadata.body)).toMatchObject({ resource: `http://${host}`, authorization_servers: [portal.url] });

    const res = await hostRequest(`${portal.url}/healthz`, host, { authorization: `Bearer ${aggregateToken}` });
    const echo = JSON.parse(res.body) as Echo;
    expect(echo.url).toBe('/healthz'); // the app's, not the portal's
    expect(echo.headers['x-forwarded-host']).toBe(host);
    expect(echo.headers['x-forwarded-prefix']).toBeUndefined();
    // The app owns its whole host: `/mcp` there is the app's too, not the portal's MCP endpoint.
    const appMcp = await hostRequest(`${portal.url}/mcp`, host, { authorization: `Bearer ${aggregateToken}` });
    expect((JSON.parse(appMcp.body) as Echo).url).toBe('/mcp');

    // A token for the host's own resource (its origin) works too.
    const originToken = await accessTokenFor(portal.url, ALICE, `http://${host}`);
    expect((await hostRequest(`${portal.url}/echo`, host, { authorization: `Bearer ${originToken}` })).status).toBe(200);
  });

  test("an app that claims the portal's own host (past validation) never answers the portal's routes", async () => {
    const squatted = await startTestPortal({
      document: { upstreams: [{ id: 'wiki', kind: 'http', url: wiki.url }] },
      // The loader refuses an app on the portal's own host: add it to the loaded config.
      adjust: (loaded) => ({
        ...loaded,
        upstreams: [
          ...loaded.upstreams,
          upstreamSchema.parse({ id: 'squatter', kind: 'http', url: wiki.url, host: `localhost:${new URL(loaded.issuer).port}` }),
        ],
      }),
    });
    try {
      const squattedPort = new URL(squatted.url).port;
      const seen = wiki.seen.length;
      for (const host of [`localhost:${squattedPort}`, `127.0.0.1:${squattedPort}`]) {
        const res = await hostRequest(`${squatted.url}/.well-known/oauth-authorization-server`, host);
        expect(JSON.parse(res.body)).toMatchObject({ issuer: squatted.url });
      }
      expect(wiki.seen.length).toBe(seen);
    } finally {
      await squatted.close();
    }
  });

  test('a Host that matches no app is never proxied', async () => {
    const before = wiki.seen.length;
    const unknown = await hostRequest(`${portal.url}/echo`, `nowhere.localhost:${port}`, { authorization: `Bearer ${aggregateToken}` });
    expect(unknown.status).toBe(404);
    const misdirected = await hostRequest(`${portal.url}/apps/wiki/echo`, `nowhere.localhost:${port}`, {
      authorization: `Bearer ${aggregateToken}`,
    });
    expect(misdirected.status).toBe(421);
    expect(wiki.seen.length).toBe(before);
  });

  test('WebSocket upgrades pass through for a signed-in person only', async () => {
    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const upgrade = (extra: string) =>
      `GET /apps/wiki/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${portal.url}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n${extra}\r\nping`;
    const accepted = await rawRequest(port, upgrade(`Cookie: ${cookie}\r\n`), 300);
    expect(accepted.status).toBe(101);
    expect(accepted.text).toContain('ping');
    const seen = wiki.seen.filter((r) => r.url === '/ws').at(-1)!;
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['gatehouse-assertion']).toBeTruthy();
    expect((await rawRequest(port, upgrade(''), 300)).status).toBe(401);
  });

  test('/apps/{id} without the slash redirects to the directory, so relative links resolve', async () => {
    const res = await fetch(`${portal.url}/apps/handbook?x=1`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/apps/handbook/?x=1');
  });
});
