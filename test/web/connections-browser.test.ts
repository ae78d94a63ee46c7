import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Agent } from '../helpers/agent.js';
import { adminDocument, adminFetch, adminToken, connectNamedAgent } from '../helpers/admin.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { mcpInitialize } from '../helpers/oauth-flow.js';
import { ALICE, BOB, startTestPortal, type TestPortal } from '../helpers/portal.js';
import { CHROMIUM, CHROMIUM_ARGS, launchChromium, type TestBrowser } from '../helpers/chromium.js';

/** A client name and an app title that would run script if any page forgot to escape them. */
const EVIL_CLIENT = `<img src=x onerror="window.__xss='client'">Evil "Agent" <script>window.__xss='script'</script>`;
const EVIL_APP = `<svg onload="window.__xss='app'">Wiki & Co`;

describe('the connections and admin pages in a real browser (Playwright + Debian chromium)', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;
  let browser: TestBrowser;
  let context: BrowserContext;
  let agent: Agent;
  let token: string;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: await adminDocument({ upstreams: [{ id: 'tools', kind: 'mcp', url: upstream.url, title: 'Team tools' }] }),
    });
    token = await adminToken(portal.url);
    // An app whose title is an attack, added through the admin API: every page must show it as text.
    const created = await adminFetch(portal.url, '/upstreams', {
      token,
      method: 'POST',
      body: { id: 'wiki', kind: 'mcp', url: upstream.url, title: EVIL_APP },
    });
    expect(created.status).toBe(201);
    agent = await connectNamedAgent(portal.url, ALICE, EVIL_CLIENT);
    browser = await launchChromium();
    context = browser.context;
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.client.close().catch(() => {});
    await portal?.close();
    await upstream?.close();
  });

  async function signIn(page: Page, person: { username: string; password: string }): Promise<void> {
    await page.fill('input[name=username]', person.username);
    await page.fill('input[name=password]', person.password);
    await Promise.all([
      page.waitForURL((url) => !url.pathname.startsWith('/login')),
      page.click('button[type=submit], input[type=submit]'),
    ]);
  }

  test('sign in, see the agent, revoke it: its next request gets 401', async () => {
    expect((await mcpInitialize(`${portal.url}/mcp`, agent.accessToken())).status).toBe(200);
    const page = await context.newPage();
    await page.goto(`${portal.url}/connections`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await signIn(page, ALICE);
    expect(new URL(page.url()).pathname).toBe('/connections');
    expect(await page.textContent('h1')).toBe('Your connections');

    // Alice's grants: the agent, and the admin token this test obtained.
    await expect(page.locator('tr[data-grant]').count()).resolves.toBe(2);
    const row = page.locator('tr[data-grant]', { hasText: 'Evil' });
    await expect(row.count()).resolves.toBe(1);
    // Shown as text, never run.
    expect(await row.locator('.client-name').textContent()).toBe(EVIL_CLIENT);
    expect(await row.textContent()).toContain('Team tools');
    expect(await row.textContent()).toContain(EVIL_APP);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: string }).__xss)).toBeUndefined();
    expect(await page.locator('img, svg, script').count()).toBe(0);
    await page.screenshot({ path: 'test-output/web-connections.png', fullPage: true });

    await Promise.all([page.waitForURL(/done=revoked/), row.locator('button', { hasText: 'Revoke' }).click()]);
    expect(await page.textContent('[role=status]')).toContain('revoked');
    await expect(page.locator('tr[data-grant]', { hasText: 'Evil' }).count()).resolves.toBe(0);
    await page.screenshot({ path: 'test-output/web-connections-revoked.png', fullPage: true });

    const after = await mcpInitialize(`${portal.url}/mcp`, agent.accessToken());
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('invalid_token');
    await page.close();
  });

  test('the admin page lists upstreams, grants and recent audit events; an upstream can be added without JavaScript', async () => {
    const other = await connectNamedAgent(portal.url, ALICE, EVIL_CLIENT);
    const page = await context.newPage();
    await page.goto(`${portal.url}/admin?person=local:alice`);
    expect(await page.textContent('h1')).toBe('Gatehouse administration');
    expect(await page.locator('tr[data-upstream=wiki] .upstream-title').textContent()).toBe(EVIL_APP);
    expect(await page.locator('tr[data-grant] .client-name', { hasText: 'Evil' }).first().textContent()).toContain(EVIL_CLIENT);
    expect(await page.locator('#audit ~ table').textContent()).toContain('consent_granted');
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: string }).__xss)).toBeUndefined();
    expect(await page.locator('img, svg, script').count()).toBe(0);
    await page.screenshot({ path: 'test-output/web-admin.png', fullPage: true });

    await page.fill('#up-id', 'handbook');
    await page.selectOption('#up-kind', 'http');
    await page.fill('#up-title', 'Handbook');
    await page.fill('#up-url', upstream.url);
    await Promise.all([page.waitForURL(/done=added/), page.click('button:has-text("Add upstream")')]);
    expect(await page.locator('tr[data-upstream=handbook]').count()).toBe(1);

    // The same id again: refused with the reason, the form keeps what was typed.
    await page.fill('#up-id', 'handbook');
    await page.fill('#up-url', upstream.url);
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Add upstream")')]);
    expect(await page.textContent('[role=alert]')).toContain('already exists');

    // Revoke the other agent's grant from the admin page.
    await page.goto(`${portal.url}/admin?person=local:alice`);
    await Promise.all([
      page.waitForURL(/done=revoked/),
      page.locator('tr[data-grant]', { hasText: 'Evil' }).locator('button', { hasText: 'Revoke' }).first().click(),
    ]);
    expect((await mcpInitialize(`${portal.url}/mcp`, other.accessToken())).status).toBe(401);
    await page.screenshot({ path: 'test-output/web-admin-revoked.png', fullPage: true });
    await other.client.close().catch(() => {});
    await page.close();
  });

  test('a person who is not an admin gets 403 on the admin page', async () => {
    const bobContext = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    try {
      const page = await bobContext.newPage();
      await page.goto(`${portal.url}/admin`);
      await signIn(page, BOB);
      const res = await page.goto(`${portal.url}/admin`);
      expect(res?.status()).toBe(403);
      expect(await page.textContent('body')).toContain('not an administrator');
      await page.screenshot({ path: 'test-output/web-admin-forbidden.png' });
    } finally {
      await bobContext.close();
    }
  });
});
