import { ElicitRequestSchema, type CallToolResult, type ElicitRequest } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

/**
 * `/mcp/{id}` in front of an `oauth` upstream the person has not connected yet, for a 2025 agent:
 * its session starts (no refusal at `initialize`), and a tool call asks the person to connect as
 * on `/mcp`: a URL elicitation for an agent that declared it (the call then completes), else a
 * tool error carrying the connect URL. Nothing reaches the upstream's MCP endpoint meanwhile.
 */
describe('oauth upstream on /mcp/{id}: connecting first, for a 2025 agent', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;
  const agents: Agent[] = [];

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth', scopes: ['notes'] } }],
      },
    });
  });
  afterAll(async () => {
    for (const agent of agents) await agent.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test('an agent without URL elicitation gets its session, and a tool error with the connect URL', async () => {
    const alice = await connectAgent(portal.url, ALICE, { path: '/mcp/notes' });
    agents.push(alice);
    const result = (await alice.client.callTool({ name: 'echo', arguments: { message: 'x' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain(`${portal.url}/connect/notes`);
    expect(upstream.requests.filter((r) => r.path === '/mcp' && r.headers.authorization)).toHaveLength(0);
  });

  test('an agent that declared URL elicitation is asked to send the person to connect, and its call then succeeds', async () => {
    const elicitations: ElicitRequest['params'][] = [];
    const bob: Agent = await connectAgent(portal.url, BOB, {
      path: '/mcp/notes',
      capabilities: { elicitation: { url: {} } },
      setup: (client) =>
        client.setRequestHandler(ElicitRequestSchema, async (request) => {
          elicitations.push(request.params);
          const page = await connectInBrowser(bob.provider.browser, 'notes');
          expect(page.status).toBe(200);
          return { action: 'accept' };
        }),
    });
    agents.push(bob);
    const result = (await bob.client.callTool({ name: 'echo', arguments: { message: 'hello bob' } })) as CallToolResult;
    expect(result).toMatchObject({ content: [{ text: 'hello bob' }] });
    expect(elicitations).toHaveLength(1);
    expect(elicitations[0]).toMatchObject({ mode: 'url', url: `${portal.url}/connect/notes` });
  });
});
