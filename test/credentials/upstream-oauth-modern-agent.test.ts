import { connectAgent, connectModernAgent, type Agent } from '../helpers/agent.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { toolText } from '../helpers/mcp-wire.js';
import { BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

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
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth', scopes: ['notes'] } }] },
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
      expect(toolText(await agent.client.callTool({ name: 'notes__echo', arguments: { message: 'hello from 2026' } }))).toBe('hello from 2026');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ mode: 'url', url: `${portal.url}/connect/notes` });
      // MRTR correlates by the round's key: no elicitationId (removed in 2026-07-28).
      expect(asked[0]).not.toHaveProperty('elicitationId');
    } finally {
      await agent.client.close();
    }
  });
});
