import type { BrowserContext, Page } from 'playwright-core';
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { toolText } from '../helpers/mcp-wire.js';
import { startMutableToolsServer, type MutableToolsServer } from '../helpers/mutable-tools-server.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { launchChromium, type TestBrowser } from '../helpers/chromium.js';

/** Arguments that would run script if the page forgot to escape them. */
const EVIL_ARGUMENTS = { query: `<img src=x onerror="window.__xss='img'"><script>window.__xss='script'</script>` };

/**
 * The approval flow end to end: a real SDK client that declared URL elicitation calls a tool that
 * needs approval, the elicitation's URL opens in a real browser (Playwright + Debian chromium),
 * the person signs in and decides, and the call completes (or is refused) accordingly. A client
 * without elicitation gets the URL in a tool error instead, and retries once the person allowed.
 */
describe('approving a tool call in a real browser (Playwright + Debian chromium)', () => {
  let upstream: MutableToolsServer;
  let portal: TestPortal;
  let browser: TestBrowser;
  let context: BrowserContext;
  let agent: Agent;
  /** What the person does on the page the elicitation opened. */
  let person: (page: Page) => Promise<void> = async () => {};
  const elicited: Array<{ mode?: string; url?: string; elicitationId?: string }> = [];
  const completed: string[] = [];

  beforeAll(async () => {
    upstream = await startMutableToolsServer({ delete_page: 'Deletes a page.' });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'wiki', kind: 'mcp', url: upstream.url, title: 'Team wiki', tools: { approval: ['delete_*'] } }],
      },
    });
    browser = await launchChromium();
    context = browser.context;
    agent = await connectAgent(portal.url, ALICE, {
      capabilities: { elicitation: { url: {} } },
      setup: (client) => {
        client.setRequestHandler(ElicitRequestSchema, async (request) => {
          const params = request.params as { mode?: string; url?: string; elicitationId?: string };
          elicited.push(params);
          // The agent opens the URL in the person's browser; the person takes it from there.
          const page = await context.newPage();
          try {
            await page.goto(params.url!);
            await person(page);
          } finally {
            await page.close();
          }
          return { action: 'accept' };
        });
        client.setNotificationHandler(
          ElicitationCompleteNotificationSchema,
          async (notification) => void completed.push(notification.params.elicitationId),
        );
      },
    });
  });
  afterAll(async () => {
    await agent?.client.close();
    await browser?.close();
    await portal?.close();
    await upstream?.close();
  });

  async function signInIfAsked(page: Page): Promise<void> {
    if (new URL(page.url()).pathname !== '/login') return;
    await page.fill('input[name=username]', ALICE.username);
    await page.fill('input[name=password]', ALICE.password);
    await Promise.all([
      page.waitForURL((url) => !url.pathname.startsWith('/login')),
      page.click('button[type=submit], input[type=submit]'),
    ]);
  }

  test('the person signs in, sees the agent, the app, the tool and its arguments (escaped), clicks Allow, and the call completes', async () => {
    person = async (page) => {
      expect(new URL(page.url()).pathname).toBe('/login');
      await signInIfAsked(page);
      expect(new URL(page.url()).pathname).toMatch(/^\/approve\//);
      expect(await page.textContent('h1')).toBe('Approve a tool call?');
      expect(await page.textContent('.agent-name')).toBe('SDK Test Agent');
      expect(await page.textContent('dd:has(.agent-name)')).toContain('agent ·');
      expect(await page.textContent('.upstream')).toContain('Team wiki');
      expect(await page.textContent('code.tool')).toBe('delete_page');
      // Pretty-printed JSON, shown as text, never run.
      expect(await page.textContent('pre.arguments')).toBe(JSON.stringify(EVIL_ARGUMENTS, null, 2));
      expect(await page.evaluate(() => (globalThis as unknown as { __xss?: string }).__xss)).toBeUndefined();
      expect(await page.locator('img, script').count()).toBe(0);
      await page.screenshot({ path: 'test-output/governance-approval.png', fullPage: true });
      // Nothing reached the upstream while the person looked.
      expect(upstream.calls).toEqual([]);
      await Promise.all([page.waitForLoadState('load'), page.click('button[name=decision][value=allow]')]);
      expect(await page.textContent('[role=status]')).toContain('You allowed this call');
      await page.screenshot({ path: 'test-output/governance-approval-allowed.png', fullPage: true });
    };
    const result = (await agent.client.callTool({ name: 'wiki__delete_page', arguments: EVIL_ARGUMENTS })) as CallToolResult;
    expect(toolText(result)).toBe('delete_page ran');
    expect(upstream.calls).toEqual(['delete_page']);
    expect(elicited).toHaveLength(1);
    expect(elicited[0]).toMatchObject({ mode: 'url', url: expect.stringMatching(new RegExp(`^${portal.url}/approve/`)) });
    expect(completed).toEqual([elicited[0]!.elicitationId]);
  });

  test('the person clicks Deny: the call is a tool error and never reaches the upstream', async () => {
    person = async (page) => {
      await signInIfAsked(page);
      expect(await page.textContent('pre.arguments')).toBe(JSON.stringify({ query: 'Everything' }, null, 2));
      await Promise.all([page.waitForLoadState('load'), page.click('button[name=decision][value=deny]')]);
      expect(await page.textContent('[role=status]')).toContain('You denied this call');
    };
    const result = (await agent.client.callTool({ name: 'wiki__delete_page', arguments: { query: 'Everything' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(toolText(result)).toContain('denied this call');
    expect(upstream.calls).toEqual(['delete_page']);
    expect(elicited).toHaveLength(2);
  });

  test('an agent without URL elicitation gets the URL in a tool error; the person allows in the browser, and the retry completes', async () => {
    const plain = await connectAgent(portal.url, ALICE);
    try {
      const args = { query: 'Old page' };
      const asked = (await plain.client.callTool({ name: 'wiki__delete_page', arguments: args })) as CallToolResult;
      expect(asked.isError).toBe(true);
      expect(toolText(asked)).toContain('needs your approval');
      const url = /(http:\/\/[^\s]+\/approve\/[A-Za-z0-9_-]+)/.exec(toolText(asked))?.[1];
      expect(url?.startsWith(`${portal.url}/approve/`)).toBe(true);
      expect(upstream.calls).toEqual(['delete_page']);

      // The person follows the link the agent showed them.
      const page = await context.newPage();
      try {
        await page.goto(url!);
        await signInIfAsked(page);
        expect(new URL(page.url()).pathname).toBe(new URL(url!).pathname);
        expect(await page.textContent('code.tool')).toBe('delete_page');
        expect(await page.textContent('pre.arguments')).toBe(JSON.stringify(args, null, 2));
        await Promise.all([page.waitForLoadState('load'), page.click('button[name=decision][value=allow]')]);
        expect(await page.textContent('[role=status]')).toContain('You allowed this call');
        await page.screenshot({ path: 'test-output/governance-approval-by-link.png', fullPage: true });
      } finally {
        await page.close();
      }

      expect(toolText((await plain.client.callTool({ name: 'wiki__delete_page', arguments: args })) as CallToolResult)).toBe(
        'delete_page ran',
      );
      expect(upstream.calls).toEqual(['delete_page', 'delete_page']);
      // This agent never declared elicitation: it was never asked.
      expect(elicited).toHaveLength(2);
    } finally {
      await plain.client.close();
    }
  });
});
