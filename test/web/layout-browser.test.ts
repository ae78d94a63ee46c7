import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { adminDocument } from '../helpers/admin.js';
import { fillSignIn, launchChromium, type TestBrowser } from '../helpers/chromium.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { authorizeUrl, pkce, registerClient } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, type TestPortal } from '../helpers/portal.js';

/**
 * Every page a person meets, in a real browser (Playwright + Debian chromium), shares one frame:
 * the portal's name leading home, and once signed in, who is signed in with a way to sign out.
 * Each page is kept as a screenshot under `test-output/`.
 */
describe('one layout on every page', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;
  let callback: http.Server;
  let callbackUrl: string;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    callback = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Agent got the code</h1>'));
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
    portal = await startTestPortal({
      document: await adminDocument({ upstreams: [{ id: 'tools', kind: 'mcp', url: upstream.url, title: 'Team tools' }] }),
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    await upstream?.close();
    await new Promise<void>((resolve) => callback?.close(() => resolve()));
  });

  /** The header's visible text, and where its name leads. */
  async function header(): Promise<{ text: string; home: string | null }> {
    return {
      // biome-ignore lint/performance/useDomNodeTextContent: the test asserts what a person sees, which innerText is (CSS applied).
      text: (await page.innerText('body > header')).replace(/\s+/g, ' ').trim(),
      home: await page.getAttribute('body > header a.home', 'href'),
    };
  }

  async function expectSignedInFrame(screenshot: string): Promise<void> {
    expect(await header()).toEqual({ text: 'Gatehouse Signed in as Alice Sign out', home: '/' });
    await page.screenshot({ path: `test-output/layout-${screenshot}.png`, fullPage: true });
  }

  test('the sign-in page: the portal name, nobody signed in yet', async () => {
    const client = await registerClient(portal.url, { redirect_uris: [callbackUrl], client_name: 'Layout Agent' });
    await page.goto(authorizeUrl(portal.url, client.client_id, pkce().challenge, { redirect_uri: callbackUrl, state: 's' }).href);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await header()).toEqual({ text: 'Gatehouse', home: '/' });
    await page.screenshot({ path: 'test-output/layout-login.png', fullPage: true });
    await fillSignIn(page, ALICE);
    await page.waitForSelector('form[action="/consent"]');
    expect(await page.textContent('h1')).toBe('Allow Layout Agent to act as you?');
    await expectSignedInFrame('consent');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callbackUrl)), page.click('button[value=allow]')]);
  });

  test('home, connections and administration carry who is signed in', async () => {
    for (const [path, heading, name] of [
      ['/', 'Gatehouse', 'home'],
      ['/connections', 'Your connections', 'connections'],
      ['/admin', 'Gatehouse administration', 'admin'],
    ] as const) {
      await page.goto(`${portal.url}${path}`);
      expect(await page.textContent('main h1')).toBe(heading);
      await expectSignedInFrame(name);
    }
    // The home page lists the upstream and leads to the other pages.
    await page.goto(`${portal.url}/`);
    expect(await page.textContent('main')).toContain('Team tools');
    expect(await page.getAttribute('main a[href="/admin"]', 'href')).toBe('/admin');
  });

  test('an error page says what happened and leads home, with the request id', async () => {
    const res = await page.goto(`${portal.url}/authorize?client_id=no-such-client&response_type=code`);
    expect(res?.status()).toBe(400);
    expect(await header()).toEqual({ text: 'Gatehouse', home: '/' });
    const text = (await page.textContent('main')) ?? '';
    expect(text).toContain("Go to the portal's home");
    expect(text).toMatch(/request [0-9a-f-]{8,}/);
    await page.screenshot({ path: 'test-output/layout-error.png', fullPage: true });
  });

  test('the header’s Sign out ends the session: the next page is the sign-in form', async () => {
    await page.goto(`${portal.url}/connections`);
    await Promise.all([page.waitForURL((url) => url.pathname === '/login'), page.click('body > header button:has-text("Sign out")')]);
    await page.goto(`${portal.url}/connections`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await header()).toEqual({ text: 'Gatehouse', home: '/' });
  });
});
