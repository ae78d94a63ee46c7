import { ElicitRequestSchema, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AUDIT_STREAM } from '../../portal/audit/index.js';
import type { AuditEvent } from '../../portal/audit/event.js';
import { connectAgent, connectModernAgent, type Agent } from '../helpers/agent.js';
import { eventually } from '../helpers/admin.js';
import { FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import { MCP_HEADERS, toolText } from '../helpers/mcp-wire.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { startMutableToolsServer, type MutableToolsServer } from '../helpers/mutable-tools-server.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, testKeyPrefix } from '../helpers/redis.js';

/** The approval page a tool error (or an elicitation) sends the person to. */
const approvalUrlIn = (text: string) => /(http:\/\/[^\s]+\/approve\/[A-Za-z0-9_-]+)/.exec(text)?.[1];

/** What the person does on the approval page: open it, then press a button (the form as rendered). */
async function decide(browser: FormBrowser, url: string, decision: 'allow' | 'deny'): Promise<Response> {
  const page = await browser.get(url);
  expect(page.status).toBe(200);
  return browser.post(url, { ...hiddenFields(await page.text()), decision });
}

/**
 * Human approval of sensitive tools (`upstreams[].tools.approval`): a call waits until its person
 * allows it on `/approve/{request}`, through URL elicitation or a tool error with the URL and a
 * retry; on the aggregate, the `/mcp/{id}` relay and for 2026 agents. Nothing reaches the upstream
 * before an approval, and an approval is good for one identical call.
 */
describe('human approval of sensitive tools', () => {
  let upstream: MutableToolsServer;
  let portal: TestPortal;
  let alice: Agent;
  let aliceOther: Agent;
  let asking: Agent;
  let relayed: Agent;
  let relayedAsking: Agent;
  /** What the agent that declared URL elicitation does when asked (the person in the browser). */
  let onElicit: (url: string) => Promise<'accept' | 'decline'> = async () => 'accept';
  const elicited: Array<{ mode?: string; url?: string; elicitationId?: string }> = [];

  beforeAll(async () => {
    upstream = await startMutableToolsServer({ delete_page: 'Deletes a page.', read_page: 'Reads a page.', drop_wiki: 'Drops the wiki.' });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        audit: { include_arguments: true },
        upstreams: [
          { id: 'wiki', kind: 'mcp', url: upstream.url, title: 'Team wiki', tools: { approval: ['delete_*'], deny: ['drop_wiki'] } },
          { id: 'notes', kind: 'mcp', url: upstream.url, tools: { approval: ['delete_page'], approval_ttl: '10m' } },
          { id: 'slow', kind: 'mcp', url: upstream.url, tools: { approval: ['*'], approval_timeout: '1s' } },
        ],
      },
    });
    alice = await connectAgent(portal.url, ALICE);
    aliceOther = await connectAgent(portal.url, ALICE);
    asking = await connectAgent(portal.url, ALICE, {
      capabilities: { elicitation: { url: {} } },
      setup: (client) =>
        client.setRequestHandler(ElicitRequestSchema, async (request) => {
          const params = request.params as { mode?: string; url?: string; elicitationId?: string };
          elicited.push(params);
          return { action: await onElicit(params.url!) };
        }),
    });
    relayed = await connectAgent(portal.url, ALICE, { path: '/mcp/wiki' });
    relayedAsking = await connectAgent(portal.url, ALICE, { path: '/mcp/wiki', capabilities: { elicitation: { url: {} } } });
  });
  afterAll(async () => {
    for (const agent of [alice, aliceOther, asking, relayed, relayedAsking]) await agent?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  const call = async (agent: Agent, name: string, args: Record<string, unknown>) =>
    (await agent.client.callTool({ name, arguments: args })) as CallToolResult;
  const deletes = () => upstream.calls.filter((name) => name === 'delete_page').length;
  const browser = () => alice.provider.browser;
  /** The audit events in the Store's stream, as written (arguments kept: `audit.include_arguments`). */
  const audited = async () => (await portal.store.readStream(AUDIT_STREAM)).map(({ entry }) => JSON.parse(entry) as AuditEvent);
  /** Asks for a call without approving it: the URL of its approval page. */
  async function pendingApproval(agent: Agent, name: string, args: Record<string, unknown>): Promise<string> {
    const before = deletes();
    const result = await call(agent, name, args);
    expect(result.isError).toBe(true);
    expect(deletes()).toBe(before);
    const url = approvalUrlIn(toolText(result));
    expect(url?.startsWith(`${portal.url}/approve/`)).toBe(true);
    return url!;
  }

  test('a tool outside tools.approval is called at once', async () => {
    expect(toolText(await call(alice, 'wiki__read_page', { query: 'Home' }))).toBe('read_page ran');
  });

  test('an agent without URL elicitation gets the URL in a tool error; once the person allows, its retry goes, and the next needs a new approval', async () => {
    const before = deletes();
    const first = await call(alice, 'wiki__delete_page', { query: 'Home' });
    expect(first.isError).toBe(true);
    expect(toolText(first)).toContain('needs your approval');
    const url = approvalUrlIn(toolText(first))!;
    expect(url).toMatch(new RegExp(`^${portal.url}/approve/`));
    // Asking again before the person decided points to the same request.
    expect(approvalUrlIn(toolText(await call(alice, 'wiki__delete_page', { query: 'Home' })))).toBe(url);
    expect(deletes()).toBe(before);

    const page = await (await browser().get(url)).text();
    expect(page).toContain('SDK Test Agent');
    expect(page).toContain('(agent · ');
    expect(page).toContain('Team wiki');
    expect(page).toContain('<code class="tool">delete_page</code>');
    expect(page).toContain('{\n  &quot;query&quot;: &quot;Home&quot;\n}');
    const decided = await decide(browser(), url, 'allow');
    expect(decided.status).toBe(303);
    expect(await (await browser().get(url)).text()).toContain('You allowed this call');

    expect(toolText(await call(alice, 'wiki__delete_page', { query: 'Home' }))).toBe('delete_page ran');
    expect(deletes()).toBe(before + 1);
    expect(await (await browser().get(url)).text()).toContain('the agent made it');
    // approval_ttl 0: the same call again needs a new approval.
    const again = await pendingApproval(alice, 'wiki__delete_page', { query: 'Home' });
    expect(again).not.toBe(url);

    const id = url.split('/').at(-1);
    const events = await eventually(async () => {
      const all = (await audited()).filter((e) => e.details?.request === id);
      return all.length >= 2 ? all : undefined;
    });
    const requested = events.find((e) => e.event === 'tool_call_approval_requested')!;
    expect(requested).toMatchObject({
      person: 'local:alice',
      client_name: 'SDK Test Agent',
      upstream: 'wiki',
      details: { tool: 'delete_page', arguments: { query: 'Home' } },
    });
    const approved = events.find((e) => e.event === 'tool_call_approved')!;
    expect(approved).toMatchObject({
      outcome: 'success',
      person: 'local:alice',
      client_name: 'SDK Test Agent',
      upstream: 'wiki',
      details: { tool: 'delete_page', arguments: { query: 'Home' }, argumentsHash: requested.details!.argumentsHash },
    });
    expect(Date.parse(approved.details!.decidedAt as string)).not.toBeNaN();
    const made = await eventually(async () => (await audited()).find((e) => e.event === 'mcp_tool_call' && e.details?.approval === id));
    expect(made).toMatchObject({ outcome: 'success', details: { tool: 'delete_page' } });
  });

  test('approval_ttl: after one approval the same person and agent call the tool again without asking; another agent still asks', async () => {
    const before = deletes();
    const url = await pendingApproval(alice, 'notes__delete_page', { query: 'a' });
    expect(await (await browser().get(url)).text()).toContain('this agent call delete_page again without asking for 10 minutes');
    expect((await decide(browser(), url, 'allow')).status).toBe(303);
    expect(await (await browser().get(url)).text()).toContain(
      'For 10 minutes after you allowed it, this agent calls delete_page without asking.',
    );
    expect(toolText(await call(alice, 'notes__delete_page', { query: 'a' }))).toBe('delete_page ran');
    expect(toolText(await call(alice, 'notes__delete_page', { query: 'other arguments' }))).toBe('delete_page ran');
    expect(deletes()).toBe(before + 2);
    await pendingApproval(aliceOther, 'notes__delete_page', { query: 'a' });
    expect(deletes()).toBe(before + 2);
  });

  test('Deny: the retry learns that the person denied the call, and nothing reaches the upstream', async () => {
    const before = deletes();
    const url = await pendingApproval(alice, 'wiki__delete_page', { query: 'Denied' });
    expect((await decide(browser(), url, 'deny')).status).toBe(303);
    expect(await (await browser().get(url)).text()).toContain('You denied this call');
    const retry = await call(alice, 'wiki__delete_page', { query: 'Denied' });
    expect(retry.isError).toBe(true);
    expect(toolText(retry)).toContain('denied this call');
    // Said once: the next identical call asks anew.
    expect(await pendingApproval(alice, 'wiki__delete_page', { query: 'Denied' })).not.toBe(url);
    expect(deletes()).toBe(before);
    const id = url.split('/').at(-1);
    const denied = await eventually(async () => (await audited()).find((e) => e.event === 'tool_call_denied' && e.details?.request === id));
    expect(denied).toMatchObject({
      outcome: 'denied',
      person: 'local:alice',
      upstream: 'wiki',
      details: { tool: 'delete_page', arguments: { query: 'Denied' } },
    });
  });

  test('an agent with URL elicitation: the person allows while it waits, and the call completes', async () => {
    const before = deletes();
    onElicit = async (url) => {
      expect((await decide(browser(), url, 'allow')).status).toBe(303);
      return 'accept';
    };
    elicited.length = 0;
    expect(toolText(await call(asking, 'wiki__delete_page', { query: 'Elicited' }))).toBe('delete_page ran');
    expect(elicited).toHaveLength(1);
    expect(elicited[0]).toMatchObject({ mode: 'url', url: expect.stringMatching(new RegExp(`^${portal.url}/approve/`)) });
    expect(deletes()).toBe(before + 1);
  });

  test('nobody decides in time (approval_timeout): a tool error, audited, and nothing reaches the upstream', async () => {
    const before = upstream.calls.length;
    onElicit = async () => 'accept';
    const result = await call(asking, 'slow__read_page', { query: 'late' });
    expect(result.isError).toBe(true);
    expect(toolText(result)).toContain('Nobody approved this call');
    expect(upstream.calls.length).toBe(before);
    const timedOut = await eventually(async () =>
      (await audited()).find((e) => e.event === 'tool_call_denied' && e.details?.reason === 'timeout'),
    );
    expect(timedOut).toMatchObject({ outcome: 'denied', upstream: 'slow', details: { tool: 'read_page' } });
  });

  test('an agent that declines the elicitation gets a tool error with the URL; nothing reaches the upstream', async () => {
    const before = deletes();
    onElicit = async () => 'decline';
    const result = await call(asking, 'wiki__delete_page', { query: 'Declined' });
    expect(result.isError).toBe(true);
    expect(approvalUrlIn(toolText(result))).toBeDefined();
    expect(deletes()).toBe(before);
  });

  describe('the /mcp/{id} relay', () => {
    test('an agent without URL elicitation gets the URL in a tool error; its retry after the approval goes, once', async () => {
      const before = deletes();
      const url = await pendingApproval(relayed, 'delete_page', { query: 'Relayed' });
      expect((await decide(browser(), url, 'allow')).status).toBe(303);
      expect(toolText(await call(relayed, 'delete_page', { query: 'Relayed' }))).toBe('delete_page ran');
      expect(deletes()).toBe(before + 1);
      expect(await pendingApproval(relayed, 'delete_page', { query: 'Relayed' })).not.toBe(url);
    });

    test('a batch (2025-03-26) refused for another reason spends no approval: its call goes later', async () => {
      const before = deletes();
      const url = await pendingApproval(relayed, 'delete_page', { query: 'Batched' });
      expect((await decide(browser(), url, 'allow')).status).toBe(303);
      const post = (body: unknown, headers: Record<string, string>) =>
        fetch(`${portal.url}/mcp/wiki`, {
          method: 'POST',
          headers: { ...MCP_HEADERS, authorization: `Bearer ${relayed.accessToken()}`, ...headers },
          body: JSON.stringify(body),
        });
      const init = await post(
        {
          jsonrpc: '2.0',
          id: 0,
          method: 'initialize',
          params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        },
        {},
      );
      const session = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-03-26' };
      await init.text();
      expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);
      const refused = await post(
        [
          { jsonrpc: '2.0', id: 'approved', method: 'tools/call', params: { name: 'delete_page', arguments: { query: 'Batched' } } },
          { jsonrpc: '2.0', id: 'denied', method: 'tools/call', params: { name: 'drop_wiki', arguments: {} } },
        ],
        session,
      );
      const answers = (await refused.json()) as Array<{ id: string; error?: { code: number } }>;
      expect(answers.map((a) => [a.id, a.error?.code])).toEqual([
        ['approved', -32600],
        ['denied', -32602],
      ]);
      expect(deletes()).toBe(before);
      // The approval the batch did not spend lets the call through.
      expect(toolText(await call(relayed, 'delete_page', { query: 'Batched' }))).toBe('delete_page ran');
      expect(deletes()).toBe(before + 1);
    });

    test('an agent with URL elicitation gets -32042 URL elicitation required; its retry after the approval goes', async () => {
      const before = deletes();
      const failure = await relayedAsking.client
        .callTool({ name: 'delete_page', arguments: { query: 'Relayed -32042' } })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(McpError);
      expect((failure as McpError).code).toBe(-32042);
      const [elicitation] = ((failure as McpError).data as { elicitations: Array<{ mode: string; url: string; elicitationId: string }> })
        .elicitations;
      expect(elicitation).toMatchObject({ mode: 'url', url: expect.stringMatching(new RegExp(`^${portal.url}/approve/`)) });
      expect(deletes()).toBe(before);
      expect((await decide(browser(), elicitation!.url, 'allow')).status).toBe(303);
      expect(toolText(await call(relayedAsking, 'delete_page', { query: 'Relayed -32042' }))).toBe('delete_page ran');
      expect(deletes()).toBe(before + 1);
    });
  });

  test('a 2026 agent with URL elicitation is asked in an input_required round; its retry completes the call once the person allowed', async () => {
    const asked: Array<Record<string, unknown>> = [];
    const modern = await connectModernAgent(portal.url, ALICE, {
      token: alice.accessToken(),
      capabilities: { elicitation: { url: {} } },
      setup: (client) =>
        client.setRequestHandler('elicitation/create', async (request) => {
          const params = request.params as Record<string, unknown>;
          asked.push(params);
          expect((await decide(browser(), params.url as string, 'allow')).status).toBe(303);
          return { action: 'accept' };
        }),
    });
    try {
      const before = deletes();
      expect(toolText(await modern.client.callTool({ name: 'wiki__delete_page', arguments: { query: '2026' } }))).toBe('delete_page ran');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ mode: 'url', url: expect.stringMatching(new RegExp(`^${portal.url}/approve/`)) });
      expect(deletes()).toBe(before + 1);
    } finally {
      await modern.client.close();
    }
  });

  describe('bad input', () => {
    test("another person's approval page is not found, signed in or after signing in; it stays pending", async () => {
      const url = await pendingApproval(alice, 'wiki__delete_page', { query: 'Not yours' });
      const bob = new FormBrowser(portal.url);
      // Signed out: the sign-in page first, then (as Bob) 404.
      const login = await bob.get(url);
      expect(login.status).toBe(303);
      expect(login.headers.get('location')).toBe(`/login?return_to=${encodeURIComponent(new URL(url).pathname)}`);
      const afterSignIn = await bob.signIn(await bob.follow(url), BOB);
      expect(afterSignIn.status).toBe(404);
      expect(await afterSignIn.text()).toContain('no such approval request');
      expect((await bob.get(url)).status).toBe(404);
      // Bob's own form token does not help him decide it.
      const { csrf } = hiddenFields(await (await bob.get(`${portal.url}/connections`)).text());
      expect((await bob.post(url, { csrf: csrf!, decision: 'allow' })).status).toBe(404);
      expect(await (await browser().get(url)).text()).toContain('name="decision" value="allow"');
    });

    test('deciding without the CSRF token, or with the token of another request, is 403 and changes nothing', async () => {
      const before = deletes();
      const url = await pendingApproval(alice, 'wiki__delete_page', { query: 'Forged' });
      const other = await pendingApproval(alice, 'wiki__delete_page', { query: 'Other' });
      expect((await browser().post(url, { decision: 'allow' })).status).toBe(403);
      const { csrf: otherToken } = hiddenFields(await (await browser().get(other)).text());
      expect((await browser().post(url, { csrf: otherToken!, decision: 'allow' })).status).toBe(403);
      const { csrf } = hiddenFields(await (await browser().get(url)).text());
      expect((await browser().post(url, { csrf: csrf!, decision: 'maybe' })).status).toBe(400);
      // Still pending: the retry is asked again, with the same page.
      expect(await pendingApproval(alice, 'wiki__delete_page', { query: 'Forged' })).toBe(url);
      expect(deletes()).toBe(before);
    });

    test('replaying an approval, or deciding twice, is 409: nothing changes and no second call goes', async () => {
      const before = deletes();
      const url = await pendingApproval(alice, 'wiki__delete_page', { query: 'Once' });
      const form = hiddenFields(await (await browser().get(url)).text());
      expect((await browser().post(url, { ...form, decision: 'allow' })).status).toBe(303);
      // Deciding again (the other way) after the approval: refused, still approved.
      const twice = await browser().post(url, { ...form, decision: 'deny' });
      expect(twice.status).toBe(409);
      expect(await twice.text()).toContain('already allowed');
      expect(toolText(await call(alice, 'wiki__delete_page', { query: 'Once' }))).toBe('delete_page ran');
      // The approval, replayed after its call: refused, and the next call needs a new one.
      const replayed = await browser().post(url, { ...form, decision: 'allow' });
      expect(replayed.status).toBe(409);
      expect(await replayed.text()).toContain('already allowed and made');
      expect(await pendingApproval(alice, 'wiki__delete_page', { query: 'Once' })).not.toBe(url);
      expect(deletes()).toBe(before + 1);
    });

    test('arguments changed between the approval and the call need a new approval', async () => {
      const before = deletes();
      const url = await pendingApproval(alice, 'wiki__delete_page', { query: 'Drafts' });
      expect((await decide(browser(), url, 'allow')).status).toBe(303);
      const changed = await pendingApproval(alice, 'wiki__delete_page', { query: 'Everything' });
      expect(changed).not.toBe(url);
      expect(deletes()).toBe(before);
      // The approved call itself still goes, with the arguments approved.
      expect(toolText(await call(alice, 'wiki__delete_page', { query: 'Drafts' }))).toBe('delete_page ran');
      expect(deletes()).toBe(before + 1);
    });

    test('the approval belongs to the agent it was asked for: another agent of the same person is asked anew', async () => {
      const before = deletes();
      const url = await pendingApproval(alice, 'wiki__delete_page', { query: 'Mine' });
      expect((await decide(browser(), url, 'allow')).status).toBe(303);
      expect(await pendingApproval(aliceOther, 'wiki__delete_page', { query: 'Mine' })).not.toBe(url);
      expect(deletes()).toBe(before);
    });

    test('an unknown or malformed request id is 404', async () => {
      expect((await browser().get(`${portal.url}/approve/AAAAAAAAAAAAAAAAAAAAAAAA`)).status).toBe(404);
      expect((await browser().get(`${portal.url}/approve/${encodeURIComponent('<script>')}`)).status).toBe(404);
    });
  });
});

describe('human approval across two portal processes on one Redis', () => {
  let upstream: MutableToolsServer;
  let first: TestPortal;
  let second: TestPortal;
  let waiting: Agent;
  let retrying: Agent;
  const cleanups: Array<() => Promise<void>> = [];
  /** The person's browser, signed in at the first process: its session is in the Store, good at both. */
  let person: FormBrowser;
  let decided: Promise<Response> | undefined;

  // Each request of the retrying agent goes to the other process.
  let turn = 0;
  const alternate: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    return fetch(`${(turn++ % 2 === 0 ? first : second).url}${url.pathname}${url.search}`, init);
  };
  /** The page as the second process serves it (the URL names the issuer, the first). */
  const atSecond = (url: string) => `${second.url}${new URL(url).pathname}`;

  beforeAll(async () => {
    upstream = await startMutableToolsServer({ delete_page: 'Deletes a page.' });
    const keyPrefix = testKeyPrefix();
    const [a, b] = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(a.cleanup, b.cleanup);
    const document = {
      login: { accounts: await testAccounts() },
      upstreams: [{ id: 'wiki', kind: 'mcp', url: upstream.url, tools: { approval: ['delete_page'] } }],
    };
    first = await startTestPortal({ document, store: a.store });
    second = await startTestPortal({ document, store: b.store, env: { PUBLIC_URL: first.url } });
    waiting = await connectAgent(first.url, ALICE, {
      capabilities: { elicitation: { url: {} } },
      setup: (client) =>
        client.setRequestHandler(ElicitRequestSchema, async (request) => {
          // The agent accepts at once; the call waits in the first process while the person decides on the second.
          decided = new Promise((resolve) => setTimeout(resolve, 100)).then(() =>
            decide(person, atSecond((request.params as { url: string }).url), 'allow'),
          );
          return { action: 'accept' };
        }),
    });
    person = waiting.provider.browser;
    retrying = await connectAgent(first.url, ALICE, { fetch: alternate });
  });
  afterAll(async () => {
    for (const agent of [waiting, retrying]) await agent?.client.close();
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await upstream?.close();
  });

  test('a call waiting in one process goes once the person allows it on a page the other serves', async () => {
    expect(toolText(await waiting.client.callTool({ name: 'wiki__delete_page', arguments: { query: 'A' } }))).toBe('delete_page ran');
    expect((await decided)?.status).toBe(303);
    expect(upstream.calls).toEqual(['delete_page']);
  });

  test('an approval given on one process lets the retry through on the other, once', async () => {
    const asked = (await retrying.client.callTool({ name: 'wiki__delete_page', arguments: { query: 'B' } })) as CallToolResult;
    const url = approvalUrlIn(toolText(asked))!;
    expect((await decide(person, atSecond(url), 'allow')).status).toBe(303);
    expect(toolText(await retrying.client.callTool({ name: 'wiki__delete_page', arguments: { query: 'B' } }))).toBe('delete_page ran');
    const again = (await retrying.client.callTool({ name: 'wiki__delete_page', arguments: { query: 'B' } })) as CallToolResult;
    expect(again.isError).toBe(true);
    expect(upstream.calls).toEqual(['delete_page', 'delete_page']);
  });
});

describe('human approval on /mcp/{id} for a 2026 agent of a 2026 upstream (what the stateless relay would carry)', () => {
  let upstream: ModernMcpServer;
  let portal: TestPortal;
  let alice: Agent;

  beforeAll(async () => {
    upstream = await startModernMcpServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'modern', kind: 'mcp', url: upstream.url, tools: { rename: { echo: 'say' }, approval: ['echo'] } }],
      },
    });
    // A 2025 client signs Alice in (its browser serves the approval page); its token serves the 2026 agent.
    alice = await connectAgent(portal.url, ALICE, { path: '/mcp/modern' });
  });
  afterAll(async () => {
    await alice?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test('a call that needs approval takes the SDK path: an input_required round asks for the approval, then the retry is relayed as allowed', async () => {
    // The first request finds the upstream's era unknown and probes it; later ones would be relayed.
    await (await connectModernAgent(portal.url, ALICE, { path: '/mcp/modern', token: alice.accessToken() })).client.close();
    const asked: string[] = [];
    const agent = await connectModernAgent(portal.url, ALICE, {
      path: '/mcp/modern',
      token: alice.accessToken(),
      capabilities: { elicitation: { url: {} } },
      setup: (client) =>
        client.setRequestHandler('elicitation/create', async (request) => {
          const { url } = request.params as { url: string };
          asked.push(url);
          expect((await decide(alice.provider.browser, url, 'allow')).status).toBe(303);
          return { action: 'accept' };
        }),
    });
    try {
      const calls = () => upstream.requests.filter((r) => r.body?.method === 'tools/call');
      const before = calls().length;
      // Another tool is relayed as ever.
      expect(toolText(await agent.client.callTool({ name: 'count', arguments: { steps: 1 } }))).toBe('counted 1');
      expect(toolText(await agent.client.callTool({ name: 'say', arguments: { message: 'approved' } }))).toBe('approved');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatch(new RegExp(`^${portal.url}/approve/`));
      expect(
        calls()
          .slice(before)
          .map((r) => r.body!.params!.name),
      ).toEqual(['count', 'echo']);
    } finally {
      await agent.client.close();
    }
  });
});
