import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { BrowserContext, Page } from 'playwright-core';
import { adminDocument, connectNamedAgent } from '../helpers/admin.js';
import type { Agent } from '../helpers/agent.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { launchChromium, type TestBrowser } from '../helpers/chromium.js';
import { toolText } from '../helpers/mcp-wire.js';
import { startMutableToolsServer, type MutableToolsServer } from '../helpers/mutable-tools-server.js';
import { ALICE, BOB, startTestPortal, type TestPortal } from '../helpers/portal.js';

/** An agent name that would be markup if a page forgot to escape it. */
const EVIL_AGENT = '<b>Evil</b> agent';

/**
 * Tool governance where people see it, in a real browser (Playwright + Debian chromium): `/admin`
 * shows each MCP upstream's tool rules (pinning, approval, limits), and a person's home page lists
 * the tool calls waiting for their approval, each a link to its `/approve/{request}` page.
 */
describe('tool rules on /admin and pending approvals on the home page', () => {
  let upstream: MutableToolsServer;
  let portal: TestPortal;
  let browser: TestBrowser;
  let context: BrowserContext;
  let agent: Agent;

  beforeAll(async () => {
    upstream = await startMutableToolsServer({ delete_page: 'Deletes a page.', search: 'Searches.' });
    const wikiRules = {
      pinning: 'warn',
      approval: ['delete_*'],
      approval_ttl: '10m',
      approval_timeout: '2m',
      limits: { search: { per_minute: 3 }, '*': { per_day: 100 } },
    };
    portal = await startTestPortal({
      document: await adminDocument({
        upstreams: [
          { id: 'wiki', kind: 'mcp', url: upstream.url, title: 'Team <wiki>', tools: wikiRules },
          { id: 'notes', kind: 'mcp', url: upstream.url },
        ],
      }),
    });
    browser = await launchChromium();
    context = browser.context;
    agent = await connectNamedAgent(portal.url, ALICE, EVIL_AGENT);
  });
  afterAll(async () => {
    await agent?.client.close();
    await browser?.close();
    await portal?.close();
    await upstream?.close();
  });

  /** Opens `path` in the browser, signing in as Alice when the portal asks. */
  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${portal.url}${path}`);
    if (new URL(page.url()).pathname === '/login') {
      await page.fill('input[name=username]', ALICE.username);
      await page.fill('input[name=password]', ALICE.password);
      await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.click('button[type=submit]')]);
    }
    return page;
  }

  test("/admin shows each MCP upstream's pinning mode, approval tools with their times, and limits", async () => {
    const page = await open('/admin');
    try {
      const wiki = page.locator('#tool-rules + table tr[data-upstream=wiki]');
      expect(await wiki.locator('td.pinning').textContent()).toBe('warn');
      expect(await wiki.locator('td.approval code').allTextContents()).toEqual(['delete_*']);
      expect(await wiki.locator('td.approval').textContent()).toContain(
        'an approval holds 10 minutes; unanswered after 2 minutes, refused',
      );
      expect(await wiki.locator('li[data-tool=search]').textContent()).toBe('search: 3 per minute');
      expect(await wiki.locator('li[data-tool="*"]').textContent()).toBe('every tool together: 100 per day');
      const notes = page.locator('#tool-rules + table tr[data-upstream=notes]');
      expect(await notes.locator('td.pinning').textContent()).toBe('enforce');
      expect(await notes.locator('td.approval').textContent()).toBe('none');
      expect(await notes.locator('td.limits').textContent()).toBe('none');
      await page.screenshot({ path: 'test-output/governance-admin-tool-rules.png', fullPage: true });
    } finally {
      await page.close();
    }
  });

  test("a call waiting for approval is listed on its person's home page (escaped), links to its page, and leaves the list once allowed", async () => {
    const asked = (await agent.client.callTool({ name: 'wiki__delete_page', arguments: { query: 'Home' } })) as CallToolResult;
    expect(asked.isError).toBe(true);
    const approvalPath = new URL(/(http:\/\/[^\s]+\/approve\/[A-Za-z0-9_-]+)/.exec(toolText(asked))![1]!).pathname;

    // Nobody else sees it.
    const bob = new FormBrowser(portal.url);
    const bobsHome = await (await bob.signIn(await bob.get(`${portal.url}/login?return_to=%2F`), BOB)).text();
    expect(bobsHome).not.toContain('Waiting for your approval');
    expect(bobsHome).not.toContain(approvalPath);

    const page = await open('/');
    try {
      const waiting = page.locator('section[aria-labelledby=approvals] li');
      expect(await waiting.count()).toBe(1);
      expect(await waiting.locator('a').getAttribute('href')).toBe(approvalPath);
      expect(await waiting.locator('.agent-name').textContent()).toBe(EVIL_AGENT);
      expect(await waiting.locator('code.tool').textContent()).toBe('delete_page');
      expect(await waiting.textContent()).toContain('on Team <wiki>');
      expect(await page.locator('section[aria-labelledby=approvals] b').count()).toBe(0);
      await page.screenshot({ path: 'test-output/governance-home-pending-approval.png', fullPage: true });

      await Promise.all([page.waitForURL((url) => url.pathname === approvalPath), waiting.locator('a').click()]);
      await Promise.all([page.waitForLoadState('load'), page.click('button[name=decision][value=allow]')]);
      expect(await page.textContent('[role=status]')).toContain('You allowed this call');
      await page.goto(`${portal.url}/`);
      expect(await page.locator('section[aria-labelledby=approvals]').count()).toBe(0);
    } finally {
      await page.close();
    }
    expect(toolText((await agent.client.callTool({ name: 'wiki__delete_page', arguments: { query: 'Home' } })) as CallToolResult)).toBe(
      'delete_page ran',
    );
  });
});
