import type { BrowserContext } from 'playwright-core';
import { startHandbookSite, type HandbookSite } from '../../examples/handbook-site.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { launchChromium, type TestBrowser } from '../helpers/chromium.js';

describe('a person in a real browser (Playwright + Debian chromium)', () => {
  let portal: TestPortal;
  let handbook: HandbookSite;
  let browser: TestBrowser;
  let context: BrowserContext;
  let port: number;

  beforeAll(async () => {
    handbook = await startHandbookSite();
    const accounts = await testAccounts();
    portal = await startTestPortal({
      document: (url) => ({
        login: { accounts },
        upstreams: [
          { id: 'handbook', kind: 'http', url: handbook.url, markdown: true },
          { id: 'hosted', kind: 'http', url: handbook.url, host: `handbook.localhost:${new URL(url).port}` },
        ],
      }),
    });
    port = Number(new URL(portal.url).port);
    browser = await launchChromium();
    context = browser.context;
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    await handbook?.close();
  });

  async function signIn(page: Awaited<ReturnType<BrowserContext['newPage']>>): Promise<void> {
    await page.fill('input[name=username]', ALICE.username);
    await page.fill('input[name=password]', ALICE.password);
    await Promise.all([
      page.waitForURL((url) => !url.pathname.startsWith('/login')),
      page.click('button[type=submit], input[type=submit]'),
    ]);
  }

  test("visit an app page → sign-in page → back on the page, with the app's content", async () => {
    const page = await context.newPage();
    await page.goto(`${portal.url}/apps/handbook/policies/expenses`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(new URL(page.url()).searchParams.get('return_to')).toBe('/apps/handbook/policies/expenses');
    await signIn(page);
    expect(page.url()).toBe(`${portal.url}/apps/handbook/policies/expenses`);
    expect(await page.textContent('h1')).toContain('Expenses');
    // A relative link in the app stays under the mount.
    await Promise.all([page.waitForURL(/\/apps\/handbook\/policies\/time-off$/), page.click('main a[href="time-off"]')]);
    expect(await page.textContent('h1')).toContain('Time off');
    await page.screenshot({ path: 'test-output/apps-browser-handbook.png', fullPage: true });
    await page.close();
  });

  test('a host-routed app: the portal hands the signed-in browser a session on the app host', async () => {
    const page = await context.newPage();
    await page.goto(`http://handbook.localhost:${port}/onboarding`);
    // The app host has no session: the portal signs the person in (unless already), then hands off.
    if (new URL(page.url()).pathname === '/login') await signIn(page);
    await page.waitForURL(`http://handbook.localhost:${port}/onboarding`);
    expect(await page.textContent('h1')).toContain('first week');
    const cookies = await context.cookies(`http://handbook.localhost:${port}`);
    expect(cookies.map((c) => c.name)).toContain('gatehouse_session');
    await page.screenshot({ path: 'test-output/apps-browser-hosted.png' });
    await page.close();
  });
});
