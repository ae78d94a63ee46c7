import { startTestUpstream, type Echo, type TestUpstream } from '../helpers/http-app-upstream.js';
import { RecordingStore, UNLIMITED } from '../helpers/oauth-flow.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { TwoHostBrowser } from '../helpers/two-host-browser.js';

describe('host-routed apps: the sign-in hand-off is bound to the browser that started it', () => {
  let portal: TestPortal;
  let wiki: TestUpstream;
  let host: string;
  const store = new RecordingStore();

  beforeAll(async () => {
    wiki = await startTestUpstream();
    const accounts = await testAccounts();
    portal = await startTestPortal({
      store,
      document: (url) => ({
        rate_limits: UNLIMITED,
        login: { accounts },
        upstreams: [{ id: 'hosted', kind: 'http', url: wiki.url, host: `hosted.localhost:${new URL(url).port}` }],
      }),
    });
    host = `hosted.localhost:${new URL(portal.url).port}`;
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

  test('a ticket opened in another browser (no hand-off cookie, or its own) is an error page, no session is made, and the ticket is spent', async () => {
    const strangers = [new TwoHostBrowser(portal.url, host), new TwoHostBrowser(portal.url, host)];
    await strangers[1]!.app('/echo'); // starts a hand-off of its own: it holds a hand-off cookie, just not Alice's
    expect(strangers[1]!.appCookies.has('gatehouse_handoff')).toBe(true);
    for (const stranger of strangers) {
      const alice = new TwoHostBrowser(portal.url, host);
      const ticket = await alice.ticketPath('/echo', ALICE);
      const sessionsBefore = store.writes('session');
      const refused = await stranger.app(ticket);
      expect(refused.status).toBe(400);
      expect(refused.headers['content-type']).toMatch(/^text\/html/);
      expect(refused.body).toContain('another browser');
      expect(refused.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringMatching(/^gatehouse_session=/)]));
      expect(store.writes('session')).toBe(sessionsBefore);
      expect((await stranger.app('/echo')).status).toBe(303); // still signed out on the app host

      // A ticket that went to the wrong browser is never good later, not even in the right one.
      expect((await alice.app(ticket)).status).toBe(400);
      expect(alice.appCookies.has('gatehouse_session')).toBe(false);
    }
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
