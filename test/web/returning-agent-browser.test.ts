import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { fillSignIn, launchChromium, type TestBrowser } from '../helpers/chromium.js';
import { authorizeUrl, pkce, registerClient, type RegisteredClient } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * A returning agent in a real browser (Playwright + Debian chromium): the person's consent is
 * remembered but their portal session is gone (a new browser). Signing in must take the browser
 * on to the agent's redirect URI, which the sign-in page's CSP `form-action 'self'` blocks when
 * the form's answer is a redirect chain ending there. `prompt=consent` and `prompt=login` are honoured.
 */
describe('a returning agent whose person signs in again', () => {
  let portal: TestPortal;
  let callback: http.Server;
  let callbackUrl: string;
  let client: RegisteredClient;
  const browsers: TestBrowser[] = [];

  beforeAll(async () => {
    callback = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Agent got the code</h1>'));
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
    portal = await startTestPortal({ document: { login: { accounts: await testAccounts() } } });
    client = await registerClient(portal.url, { redirect_uris: [callbackUrl], client_name: 'Returning Agent' });
  });
  afterAll(async () => {
    for (const browser of browsers) await browser.close();
    await portal?.close();
    await new Promise<void>((resolve) => callback?.close(() => resolve()));
  });

  /** A fresh browser: no portal session. */
  async function newBrowser(): Promise<Page> {
    const browser = await launchChromium();
    browsers.push(browser);
    return browser.context.newPage();
  }

  const authorize = (params: Record<string, string> = {}) =>
    authorizeUrl(portal.url, client.client_id, pkce().challenge, { redirect_uri: callbackUrl, state: 'st', ...params }).href;
  const atAgent = (page: Page) => page.waitForURL((url) => url.href.startsWith(callbackUrl), { timeout: 10_000 });

  const signIn = (page: Page) => fillSignIn(page, ALICE);

  test('first time: sign in, consent, back at the agent with a code', async () => {
    const page = await newBrowser();
    await page.goto(authorize());
    await signIn(page);
    await page.waitForSelector('form[action="/consent"]');
    await page.click('button[value=allow]');
    await atAgent(page);
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();
    // The portal's home, in the same browser: the person's way to connect an agent.
    await page.goto(`${portal.url}/`);
    expect(await page.textContent('h2#agent')).toBe('Connect an agent');
    expect(await page.textContent('body')).toContain(`claude mcp add --transport http gatehouse ${portal.url}/mcp`);
    await page.screenshot({ path: 'test-output/home.png', fullPage: true });
  });

  test('in a new browser, signing in with the consent remembered goes straight back to the agent', async () => {
    const page = await newBrowser();
    await page.goto(authorize());
    expect(new URL(page.url()).pathname).toBe('/login');
    await signIn(page);
    await atAgent(page);
    const url = new URL(page.url());
    expect(url.searchParams.get('code')).toBeTruthy();
    expect(url.searchParams.get('state')).toBe('st');
    expect(await page.textContent('h1')).toBe('Agent got the code');
    await page.screenshot({ path: 'test-output/returning-agent.png' });
  });

  test('prompt=consent shows the consent page although the consent is remembered', async () => {
    const page = await newBrowser();
    await page.goto(authorize({ prompt: 'consent' }));
    await signIn(page);
    await page.waitForSelector('form[action="/consent"]');
    expect(await page.textContent('body')).toContain('Returning Agent');
    await page.click('button[value=allow]');
    await atAgent(page);
  });

  test('prompt=login asks a signed-in person to sign in again before going back', async () => {
    const page = await newBrowser();
    await page.goto(authorize());
    await signIn(page);
    await atAgent(page);
    await page.goto(authorize({ prompt: 'login' }));
    expect(new URL(page.url()).pathname).toBe('/login');
    await signIn(page);
    await atAgent(page);
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();
  });
});
