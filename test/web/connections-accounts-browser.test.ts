import type { BrowserContext, Page } from 'playwright-core';
import { connectNamedAgent } from '../helpers/admin.js';
import type { Agent } from '../helpers/agent.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { launchChromium, type TestBrowser } from '../helpers/chromium.js';

/** An account name that would run script if the page forgot to escape it. */
const EVIL_LABEL = `<img src=x onerror="window.__xss='label'">Home`;

/**
 * The accounts part of `/connections` in a real browser, without JavaScript of its own (the page
 * has none): rename an account, choose which account an agent uses, disconnect one. The upstream
 * sees which account's token each call carries.
 */
describe('choosing and naming accounts on the connections page (Playwright + Debian chromium)', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;
  let agent: Agent;
  let browser: TestBrowser;
  let context: BrowserContext;
  const issued: string[] = [];

  const lastBearer = () => upstream.requests.filter((r) => r.path === '/mcp').at(-1)!.headers.authorization;
  const call = () => agent.client.callTool({ name: 'notes__echo', arguments: { message: 'hi' } });

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, title: 'Notes', credentials: { type: 'oauth' } }],
      },
    });
    agent = await connectNamedAgent(portal.url, ALICE, 'Desk agent');
    for (let i = 0; i < 2; i++) {
      expect((await connectInBrowser(agent.provider.browser, 'notes')).status).toBe(200);
      issued.push(upstream.issued.accessTokens.at(-1)!);
    }
    browser = await launchChromium();
    context = browser.context;
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.client.close().catch(() => {});
    await portal?.close();
    await upstream?.close();
  });

  async function signedInPage(): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${portal.url}/connections`);
    if (new URL(page.url()).pathname === '/login') {
      await page.fill('input[name=username]', ALICE.username);
      await page.fill('input[name=password]', ALICE.password);
      await Promise.all([page.waitForURL((url) => url.pathname === '/connections'), page.click('button[type=submit]')]);
    }
    return page;
  }

  test('both accounts are listed; the agent uses the first', async () => {
    const page = await signedInPage();
    const section = page.locator('section[data-upstream=notes]');
    expect(await section.locator('tr[data-account] .account-name').allTextContents()).toEqual(['Account 1', 'Account 2']);
    expect(await section.locator('a', { hasText: 'Connect another account' }).getAttribute('href')).toBe(`${portal.url}/connect/notes`);
    await call();
    expect(lastBearer()).toBe(`Bearer ${issued[0]}`);
    await page.close();
  });

  test('renaming shows the name as text; choosing the account for the agent sends its token', async () => {
    const page = await signedInPage();
    const second = page.locator('tr[data-account]').nth(1);
    await second.locator('input[name=label]').fill(EVIL_LABEL);
    await Promise.all([page.waitForURL(/done=renamed/), second.locator('button', { hasText: 'Rename' }).click()]);
    expect(await page.locator('tr[data-account] .account-name').nth(1).textContent()).toBe(EVIL_LABEL);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: string }).__xss)).toBeUndefined();
    expect(await page.locator('img, script').count()).toBe(0);

    const row = page.locator('tr[data-client]', { hasText: 'Desk agent' });
    const option = await row.locator('option', { hasText: 'Home' }).getAttribute('value');
    await row.locator('select[name=account]').selectOption(option!);
    await Promise.all([page.waitForURL(/done=chosen/), row.locator('button', { hasText: 'Use' }).click()]);
    expect(await page.textContent('[role=status]')).toContain('now uses the account you chose');
    expect(await page.locator('tr[data-client]', { hasText: 'Desk agent' }).locator('select[name=account]').inputValue()).toBe(option);
    await page.screenshot({ path: 'test-output/web-connections-accounts.png', fullPage: true });
    await call();
    expect(lastBearer()).toBe(`Bearer ${issued[1]}`);
    await page.close();
  });

  test('disconnecting the chosen account leaves the other; the agent falls back to it', async () => {
    const page = await signedInPage();
    await Promise.all([
      page.waitForURL(/done=disconnected/),
      page.locator('tr[data-account]').nth(1).locator('button', { hasText: 'Disconnect' }).click(),
    ]);
    expect(await page.locator('tr[data-account] .account-name').allTextContents()).toEqual(['Account 1']);
    // One account: nothing to choose.
    expect(await page.locator('tr[data-client]').count()).toBe(0);
    await call();
    expect(lastBearer()).toBe(`Bearer ${issued[0]}`);
    await page.close();
  });
});
