import { accessTokenFor } from '../helpers/app-token.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { startTestUpstream, type TestUpstream } from '../helpers/http-app-upstream.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { rawRequest, type RawAnswer } from '../helpers/raw-http.js';
import { TwoHostBrowser } from '../helpers/two-host-browser.js';

/**
 * Cross-site WebSocket hijacking: a page on any site may open a WebSocket to the portal, and the
 * browser attaches the person's cookies. Only `Origin` tells the portal whose page asks.
 */
describe('WebSocket upgrades to apps check Origin', () => {
  let portal: TestPortal;
  let wiki: TestUpstream;
  let port: number;
  let appHost: string;
  let portalCookie: string;
  let appHostCookie: string;
  let token: string;

  beforeAll(async () => {
    wiki = await startTestUpstream();
    const accounts = await testAccounts();
    portal = await startTestPortal({
      document: (url) => ({
        rate_limits: UNLIMITED,
        login: { accounts },
        upstreams: [
          { id: 'wiki', kind: 'http', url: wiki.url },
          { id: 'hosted', kind: 'http', url: wiki.url, host: `hosted.localhost:${new URL(url).port}` },
        ],
      }),
    });
    port = Number(new URL(portal.url).port);
    appHost = `hosted.localhost:${port}`;

    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    portalCookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const onApp = new TwoHostBrowser(portal.url, appHost);
    await onApp.signInOnApp('/', ALICE);
    appHostCookie = onApp.appCookieHeader();
    token = await accessTokenFor(portal.url, ALICE, `${portal.url}/mcp`);
  });
  afterAll(async () => {
    await portal.close();
    await wiki.close();
  });

  /** A WebSocket-style handshake to `/ws` on `host` (under `/apps/wiki` on the portal's host), with `ping` after it. */
  async function handshake(host: string, headers: Record<string, string>): Promise<{ answer: RawAnswer; reached: boolean }> {
    const path = host === appHost ? '/ws' : '/apps/wiki/ws';
    const before = wiki.seen.length;
    const lines = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    const answer = await rawRequest(
      port,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n${lines}\r\nping`,
      300,
    );
    return { answer, reached: wiki.seen.length > before };
  }
  const portalHost = () => `127.0.0.1:${port}`;

  test("a browser session: the portal's origin (or a loopback alias of it) for a path-routed app, the app's own for a host-routed one", async () => {
    for (const origin of [portal.url, `http://localhost:${port}`]) {
      const { answer } = await handshake(portalHost(), { Cookie: portalCookie, Origin: origin });
      expect({ origin, status: answer.status }).toEqual({ origin, status: 101 });
      expect(answer.text).toContain('ping');
    }
    const { answer } = await handshake(appHost, { Cookie: appHostCookie, Origin: `http://${appHost}` });
    expect(answer.status).toBe(101);
  });

  test('a browser session from any other origin, or with none, is refused with 403 and never reaches the app', async () => {
    const cases: Array<[string, string, string | undefined]> = [
      [portalHost(), portalCookie, 'https://evil.example'],
      [portalHost(), portalCookie, 'null'],
      [portalHost(), portalCookie, `https://127.0.0.1:${port}`], // another scheme is another origin
      [portalHost(), portalCookie, `http://${appHost}`], // a host-routed app's pages may not reach the portal's apps
      [portalHost(), portalCookie, undefined],
      [appHost, appHostCookie, 'https://evil.example'],
      [appHost, appHostCookie, portal.url], // pages of path-routed apps live on the portal's origin
      [appHost, appHostCookie, undefined],
    ];
    for (const [host, cookie, origin] of cases) {
      const { answer, reached } = await handshake(host, { Cookie: cookie, ...(origin === undefined ? {} : { Origin: origin }) });
      expect({ host, origin, status: answer.status, reached }).toEqual({ host, origin, status: 403, reached: false });
      expect(answer.text).toContain('"error":"invalid_origin"');
    }
  });

  test('an agent with a bearer token needs no Origin (no browser can attach one); a foreign Origin is still refused', async () => {
    for (const host of [portalHost(), appHost]) {
      const { answer } = await handshake(host, { Authorization: `Bearer ${token}` });
      expect({ host, status: answer.status }).toEqual({ host, status: 101 });
      const seen = wiki.seen.at(-1)!;
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['gatehouse-assertion']).toBeTruthy();
      const foreign = await handshake(host, { Authorization: `Bearer ${token}`, Origin: 'https://evil.example' });
      expect({ host, status: foreign.answer.status, reached: foreign.reached }).toEqual({ host, status: 403, reached: false });
    }
  });

  test('a bad bearer token gets the 401 challenge, and no cookie or token is no entry', async () => {
    const bad = await handshake(portalHost(), { Authorization: 'Bearer not-a-token' });
    expect(bad.answer.status).toBe(401);
    expect(bad.answer.text).toMatch(/WWW-Authenticate: Bearer resource_metadata="[^"]+\/apps\/wiki"/i);
    expect(bad.reached).toBe(false);
    const none = await handshake(portalHost(), { Origin: portal.url });
    expect(none.answer.status).toBe(401);
    expect(none.reached).toBe(false);
  });
});
