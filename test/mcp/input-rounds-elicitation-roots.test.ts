import { authorizedToken, connectModernAgent, type ModernAgent } from '../helpers/agent.js';
import { startEverythingServer, type ChildServer } from '../helpers/child-server.js';
import { toolText } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * A 2025-era upstream (`server-everything`) that asks its client mid-call for a form
 * (`elicitation/create`) or for its roots (`roots/list`), for a 2026 agent (the v2 SDK client),
 * on `/mcp` and on `/mcp/{id}`: the question becomes an `input_required` round, the agent's
 * answer reaches the upstream, and the call completes with it.
 */
describe("a 2025 upstream's elicitation and roots requests as rounds for a 2026 agent", () => {
  let everything: ChildServer & { url: string };
  let portal: TestPortal;
  const tokens: Record<string, string> = {};
  const agents: ModernAgent[] = [];

  beforeAll(async () => {
    everything = await startEverythingServer();
    portal = await startTestPortal({
      // Which tools it lists depends on what the client can be asked: pinning would hold those a later agent brings out.
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'everything', kind: 'mcp', url: everything.url, credentials: { type: 'none' }, tools: { pinning: 'off' } }],
      },
    });
    tokens['/mcp'] = await authorizedToken(portal.url, ALICE, '/mcp');
    tokens['/mcp/everything'] = await authorizedToken(portal.url, ALICE, '/mcp/everything');
  });
  afterAll(async () => {
    for (const agent of agents) await agent.client.close();
    await portal?.close();
    await everything?.close();
  });

  const toolAt = (path: string, tool: string) => (path === '/mcp' ? `everything__${tool}` : tool);

  test.each(['/mcp', '/mcp/everything'])(
    "%s: the upstream's form is answered by the agent, and the call completes with it",
    async (path) => {
      const asked: Array<Record<string, unknown>> = [];
      const agent = await connectModernAgent(portal.url, ALICE, {
        path,
        token: tokens[path],
        capabilities: { elicitation: { form: {} } },
        setup: (client) =>
          client.setRequestHandler('elicitation/create', async (request) => {
            asked.push(request.params as Record<string, unknown>);
            return { action: 'accept', content: { name: 'Ada Lovelace' } };
          }),
      });
      agents.push(agent);
      const result = await agent.client.callTool({ name: toolAt(path, 'trigger-elicitation-request'), arguments: {} });
      expect(toolText(result)).toContain('User provided the requested information');
      expect(JSON.stringify(result.content)).toContain('Ada Lovelace');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({
        message: expect.stringContaining('Please provide inputs'),
        requestedSchema: { required: ['name'] },
      });
    },
  );

  test.each(['/mcp', '/mcp/everything'])("%s: the upstream's roots/list is answered by the agent's roots", async (path) => {
    const agent = await connectModernAgent(portal.url, ALICE, {
      path,
      token: tokens[path],
      capabilities: { roots: {} },
      setup: (client) =>
        client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///work/project', name: 'project' }] })),
    });
    agents.push(agent);
    const result = await agent.client.callTool({ name: toolAt(path, 'get-roots-list'), arguments: {} });
    expect(toolText(result)).toContain('file:///work/project');
  });
});
