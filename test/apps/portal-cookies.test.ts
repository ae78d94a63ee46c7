import { PORTAL_COOKIE_NAMES } from '../../portal/http/portal-cookies.js';
import { accessTokenFor } from '../helpers/app-token.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { startFakeIdp, type FakeIdp } from '../helpers/fake-oidc-idp.js';
import { hostRequest } from '../helpers/host-request.js';
import { startTestUpstream, type Echo, type TestUpstream } from '../helpers/http-app-upstream.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { rawRequest } from '../helpers/raw-http.js';

/** `Set-Cookie` values an app tries: every portal cookie, a nameless one that a browser would send as `gatehouse_session=…`, and its own. */
const APP_SET_COOKIES = [
  ...PORTAL_COOKIE_NAMES.map((name) => `${name}=evil; Path=/`),
  '=gatehouse_session=tossed; Path=/',
  'app_pref=1; Path=/',
];
const setCookieQuery = APP_SET_COOKIES.map((cookie) => `c=${encodeURIComponent(cookie)}`).join('&');

/** The `Set-Cookie` lines of a raw HTTP answer's head. */
function rawSetCookies(text: string): string[] {
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  return head.split('\r\n').flatMap((line) => (/^set-cookie:/i.test(line) ? [line.slice(line.indexOf(':') + 1).trim()] : []));
}

describe("the portal's cookies never reach an app, and no app may set one", () => {
  let portal: TestPortal;
  let wiki: TestUpstream;
  let idp: FakeIdp;
  let port: number;
  let host: string;
  let token: string;
  /** Names of the cookies the portal set in the flows below (sign-in form, session, IdP sign-in, app-host hand-off). */
  const portalSet = new Set<string>();
  let browser: FormBrowser;

  beforeAll(async () => {
    [wiki, idp] = await Promise.all([startTestUpstream(), startFakeIdp({ clientId: 'gatehouse', clientSecret: 'fake-secret' })]);
    const accounts = await testAccounts();
    portal = await startTestPortal({
      document: (url) => ({
        rate_limits: UNLIMITED,
        login: { accounts, idps: [{ id: 'fake', issuer: idp.issuer, client_id: 'gatehouse', client_secret: 'fake-secret' }] },
        upstreams: [
          { id: 'wiki', kind: 'http', url: wiki.url },
          { id: 'hosted', kind: 'http', url: wiki.url, host: `hosted.localhost:${new URL(url).port}` },
        ],
      }),
    });
    port = Number(new URL(portal.url).port);
    host = `hosted.localhost:${port}`;
    token = await accessTokenFor(portal.url, ALICE, `${portal.url}/mcp`);

    browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    const idpStart = await browser.get(`${portal.url}/login/fake`);
    expect(idpStart.status).toBe(303);
    for (const name of browser.cookies.keys()) portalSet.add(name);
    const handOff = await hostRequest(`${portal.url}/echo`, host, { accept: 'text/html' });
    expect(handOff.status).toBe(303);
    for (const cookie of handOff.headers['set-cookie'] ?? []) portalSet.add(cookie.slice(0, cookie.indexOf('=')));
  });
  afterAll(async () => {
    await portal.close();
    await Promise.all([wiki.close(), idp.close()]);
  });

  test('every cookie the portal sets is on its one list', () => {
    expect([...portalSet].sort()).toEqual(['gatehouse_handoff', 'gatehouse_idp', 'gatehouse_login', 'gatehouse_session']);
    for (const name of portalSet) expect(PORTAL_COOKIE_NAMES).toContain(name);
  });

  test('HTTP: none of them is forwarded to a path-routed or a host-routed app; the app keeps its own', async () => {
    const cookie = [...[...portalSet, ...PORTAL_COOKIE_NAMES].map((name) => `${name}=x`), 'app_pref=1'].join('; ');
    const viaPath = await fetch(`${portal.url}/apps/wiki/echo`, { headers: { authorization: `Bearer ${token}`, cookie } });
    expect(((await viaPath.json()) as Echo).headers.cookie).toBe('app_pref=1');
    const viaHost = await hostRequest(`${portal.url}/echo`, host, { authorization: `Bearer ${token}`, cookie });
    expect((JSON.parse(viaHost.body) as Echo).headers.cookie).toBe('app_pref=1');
  });

  test("HTTP: an app's Set-Cookie for a portal cookie is dropped; its own cookies pass", async () => {
    const viaPath = await fetch(`${portal.url}/apps/wiki/set-cookie?${setCookieQuery}`, { headers: { authorization: `Bearer ${token}` } });
    expect(viaPath.status).toBe(200);
    expect(viaPath.headers.getSetCookie()).toEqual(['app_pref=1; Path=/apps/wiki']);
    const viaHost = await hostRequest(`${portal.url}/set-cookie?${setCookieQuery}`, host, { authorization: `Bearer ${token}` });
    expect(viaHost.status).toBe(200);
    expect(viaHost.headers['set-cookie']).toEqual(['app_pref=1; Path=/']);
  });

  test('WebSocket: none of them is forwarded, and neither the 101 nor a refusal may set one', async () => {
    const cookie = [
      ...[...browser.cookies].map(([name, value]) => `${name}=${value}`),
      ...PORTAL_COOKIE_NAMES.map((name) => `${name}=x`),
      'app_pref=1',
    ].join('; ');
    const upgrade = (path: string) =>
      `GET /apps/wiki/${path}?${setCookieQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${portal.url}\r\nConnection: Upgrade\r\nUpgrade: echo\r\nCookie: ${cookie}\r\n\r\n`;
    const accepted = await rawRequest(port, upgrade('ws'), 300);
    expect(accepted.status).toBe(101);
    expect(rawSetCookies(accepted.text)).toEqual(['app_pref=1; Path=/apps/wiki']);
    expect(wiki.seen.filter((r) => r.url.startsWith('/ws?')).at(-1)!.headers.cookie).toBe('app_pref=1');

    const refused = await rawRequest(port, upgrade('ws-refused'), 300);
    expect(refused.status).toBe(401);
    expect(rawSetCookies(refused.text)).toEqual(['app_pref=1; Path=/apps/wiki']);
  });
});
