import { upstreamSchema } from '../../portal/config/schema.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { hostRequest, type HostAnswer } from '../helpers/host-request.js';
import { startTestUpstream, type Echo, type TestUpstream } from '../helpers/http-app-upstream.js';
import { RecordingStore, UNLIMITED } from '../helpers/oauth-flow.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * One browser: its portal cookies (a FormBrowser on the portal's origin) and its cookies on the
 * host-routed app's host, kept apart as a browser keeps them per host.
 */
class TwoHostBrowser {
  readonly portal: FormBrowser;
  readonly appCookies = new Map<string, string>();
  constructor(
    portalUrl: string,
    readonly appHost: string,
  ) {
    this.portal = new FormBrowser(portalUrl);
  }

  /** A page on the app's host, as a browser asks for one (HTML, its app-host cookies). */
  async app(path: string): Promise<HostAnswer> {
    const cookie = [...this.appCookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const answer = await hostRequest(`${this.portal.origin}${path}`, this.appHost, { accept: 'text/html', ...(cookie ? { cookie } : {}) });
    for (const setCookie of answer.headers['set-cookie'] ?? []) {
      const [pair = ''] = setCookie.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(setCookie)) this.appCookies.delete(name);
      else this.appCookies.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    return answer;
  }

  /**
   * The hand-off up to the ticket: the app host sends the browser to the portal, the person signs
   * in there, and the portal answers the page that moves on to the app host. Returns that URL's path.
   */
  async ticketPath(page: string, person: { username: string; password: string }): Promise<string> {
    const start = await this.app(page);
    expect(start.status).toBe(303);
    const toPortal = start.headers.location!;
    let res = await this.portal.follow(toPortal);
    if (new URL(res.url).pathname === '/login') res = await this.portal.signIn(res, person);
    const html = await res.text();
    expect(res.status).toBe(200);
    const url = new URL(/content="0;url=([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&'));
    expect(url.host).toBe(this.appHost);
    return `${url.pathname}${url.search}`;
  }
}

describe('host-routed apps: the sign-in hand-off is bound to the browser that started it', () => {
  let portal: TestPortal;
  let wiki: TestUpstream;
  let host: string;
  const store = new RecordingStore();

  beforeAll(async () => {
    wiki = await startTestUpstream();
    portal = await startTestPortal({ store, document: { rate_limits: UNLIMITED, login: { accounts: await testAccounts() } } });
    host = `hosted.localhost:${new URL(portal.url).port}`;
    portal.config.upstreams = [upstreamSchema.parse({ id: 'hosted', kind: 'http', url: wiki.url, host })];
  });
  afterAll(async () => {
    await portal.close();
    await store.close();
    await wiki.close();
  });

  test('the browser that asked gets a session on the app host; the ticket works once', async () => {
    const alice = new TwoHostBrowser(portal.url, host);
    const ticket = await alice.ticketPath('/echo?x=1', ALICE);
    const redeemed = await alice.app(ticket);
    expect(redeemed.status).toBe(303);
    expect(redeemed.headers.location).toBe('/echo?x=1');
    expect(alice.appCookies.has('gatehouse_session')).toBe(true);
    expect(alice.appCookies.has('gatehouse_handoff')).toBe(false); // spent with the ticket
    const page = await alice.app('/echo?x=1');
    expect(page.status).toBe(200);
    expect((JSON.parse(page.body) as Echo).headers['gatehouse-assertion']).toBeTruthy();
    expect((await alice.app(ticket)).status).toBe(400);
  });

  test('a ticket opened in another browser (no hand-off cookie, or its own) is an error page, and no session is made', async () => {
    const alice = new TwoHostBrowser(portal.url, host);
    const ticket = await alice.ticketPath('/echo', ALICE);

    const strangers = [new TwoHostBrowser(portal.url, host), new TwoHostBrowser(portal.url, host)];
    await strangers[1]!.app('/echo'); // starts a hand-off of its own: it holds a hand-off cookie, just not Alice's
    expect(strangers[1]!.appCookies.has('gatehouse_handoff')).toBe(true);
    for (const stranger of strangers) {
      const sessionsBefore = store.writes('session');
      const refused = await stranger.app(ticket);
      expect(refused.status).toBe(400);
      expect(refused.headers['content-type']).toMatch(/^text\/html/);
      expect(refused.body).toContain('another browser');
      expect(refused.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringMatching(/^gatehouse_session=/)]));
      expect(store.writes('session')).toBe(sessionsBefore);
      expect((await stranger.app('/echo')).status).toBe(303); // still signed out on the app host
    }

    // The ticket was not spent by the attempts: the browser it belongs to still signs in with it.
    expect((await alice.app(ticket)).status).toBe(303);
    expect((await alice.app('/echo')).status).toBe(200);
  });

  test("Bob's ticket, planted in Alice's browser, does not sign her in as Bob", async () => {
    const alice = new TwoHostBrowser(portal.url, host);
    await alice.app('/echo');
    const bob = new TwoHostBrowser(portal.url, host);
    const bobsTicket = await bob.ticketPath('/echo', BOB);
    expect((await alice.app(bobsTicket)).status).toBe(400);
    expect(alice.appCookies.has('gatehouse_session')).toBe(false);
  });

  test('a hand-off link without its browser binding mints no ticket: the browser goes back to the app to start over', async () => {
    const alice = new TwoHostBrowser(portal.url, host);
    await alice.portal.signIn(await alice.portal.get(`${portal.url}/login`), ALICE);
    const ticketsBefore = store.writes('app-ticket');
    for (const query of ['return_to=%2Fecho', 'return_to=%2Fecho&binding=short']) {
      const res = await alice.portal.get(`${portal.url}/app-login/hosted?${query}`);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`http://${host}/echo`);
    }
    expect(store.writes('app-ticket')).toBe(ticketsBefore);
  });
});
