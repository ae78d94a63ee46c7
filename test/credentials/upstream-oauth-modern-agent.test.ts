import { authorizedToken, connectAgent, connectModernAgent, type Agent } from '../helpers/agent.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { lastMessage, MCP_HEADERS, modernHeaders, toolText } from '../helpers/mcp-wire.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { createUpstreamEras } from '../../portal/mcp/upstream-eras.js';

/**
 * An upstream that needs the person's own account, for a 2026-07-28 agent: "connect it first"
 * is a URL-mode elicitation in an input_required round, and the agent's retry completes the call
 * once the person has connected.
 */
describe('oauth upstream: the connect step for a 2026 agent', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;
  let bob: Agent;

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth', scopes: ['notes'] } }],
      },
    });
    // Bob signs in once (the 2025 client's OAuth flow); his browser session and token serve the 2026 agent.
    bob = await connectAgent(portal.url, BOB);
  });
  afterAll(async () => {
    await bob?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test('the agent is asked (input_required, URL mode) to send the person to connect; its retry completes the call', async () => {
    const asked: Record<string, unknown>[] = [];
    const agent = await connectModernAgent(portal.url, BOB, {
      token: bob.accessToken(),
      capabilities: { elicitation: { url: {} } },
      setup: (client) =>
        client.setRequestHandler('elicitation/create', async (request) => {
          asked.push(request.params as Record<string, unknown>);
          const page = await connectInBrowser(bob.provider.browser, 'notes');
          expect(page.status).toBe(200);
          return { action: 'accept' };
        }),
    });
    try {
      expect(toolText(await agent.client.callTool({ name: 'notes__echo', arguments: { message: 'hello from 2026' } }))).toBe(
        'hello from 2026',
      );
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ mode: 'url', url: `${portal.url}/connect/notes` });
      // MRTR correlates by the round's key: no elicitationId (removed in 2026-07-28).
      expect(asked[0]).not.toHaveProperty('elicitationId');
    } finally {
      await agent.client.close();
    }
  });

  const callAsAlice = () => callAsAliceAt(portal, upstream);

  test('on /mcp/{id} before the 2025 upstream (its era known from Bob), a person not yet connected gets the connect round, not a refusal', async () => {
    const { answer, reachedUpstream } = await callAsAlice();
    expect(answer.result.resultType).toBe('input_required');
    expect(Object.values(answer.result.inputRequests)).toEqual([
      { method: 'elicitation/create', params: expect.objectContaining({ mode: 'url', url: `${portal.url}/connect/notes` }) },
    ]);
    expect(reachedUpstream).toBe(false);
  });

  test('where /mcp/{id} would relay (the upstream known to speak 2026), a person not yet connected still gets the connect round', async () => {
    // What a probe would have remembered of a 2026 upstream: the relay takes such requests.
    await createUpstreamEras(portal.store).set('notes', upstream.url, {
      kind: 'modern',
      discover: { supportedVersions: ['2026-07-28'], capabilities: { tools: {} } } as never,
    });
    const { answer, reachedUpstream } = await callAsAlice();
    expect(answer.result.resultType).toBe('input_required');
    expect(Object.values(answer.result.inputRequests)).toEqual([
      { method: 'elicitation/create', params: expect.objectContaining({ mode: 'url', url: `${portal.url}/connect/notes` }) },
    ]);
    // Nothing reached the upstream's MCP endpoint for Alice.
    expect(reachedUpstream).toBe(false);
  });
});

/** Alice (not connected) calls `echo` on `/mcp/notes` as a raw 2026 agent that declared URL elicitation; the answer and whether the upstream's MCP endpoint heard of it. */
async function callAsAliceAt(portal: TestPortal, upstream: OAuthUpstream) {
  const token = await authorizedToken(portal.url, ALICE, '/mcp/notes');
  const before = upstream.requests.length;
  const response = await fetch(`${portal.url}/mcp/notes`, {
    method: 'POST',
    headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...modernHeaders('tools/call', 'echo') },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { message: 'x' },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': { elicitation: { url: {} } },
        },
      },
    }),
  });
  expect(response.status).toBe(200);
  const answer = await lastMessage<{
    result: { resultType: string; inputRequests: Record<string, { method: string; params: { mode: string; url: string } }> };
  }>(response);
  return { answer, reachedUpstream: upstream.requests.slice(before).some((r) => r.path === '/mcp') };
}

/** What the relay would take, when it cannot serve the call, is not taken twice: the SDK path that does serve it counts it once. */
describe('oauth upstream on /mcp/{id}: a call that waits for the connect step is counted once', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          {
            id: 'notes',
            kind: 'mcp',
            url: upstream.url,
            credentials: { type: 'oauth', scopes: ['notes'] },
            tools: { limits: { echo: { per_minute: 1 } } },
          },
        ],
      },
    });
    // What a probe would have remembered of a 2026 upstream: the relay takes such requests.
    await createUpstreamEras(portal.store).set('notes', upstream.url, {
      kind: 'modern',
      discover: { supportedVersions: ['2026-07-28'], capabilities: { tools: {} } } as never,
    });
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  test('with one call a minute allowed, the first call gets the connect round, not a quota refusal', async () => {
    const { answer, reachedUpstream } = await callAsAliceAt(portal, upstream);
    expect(answer.result.resultType).toBe('input_required');
    expect(reachedUpstream).toBe(false);
  });
});
