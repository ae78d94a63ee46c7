import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, connectModernAgent, type Agent, type ModernAgent } from '../helpers/agent.js';
import { MCP_HEADERS, toolText } from '../helpers/mcp-wire.js';
import { startMutableToolsServer, type MutableToolsServer } from '../helpers/mutable-tools-server.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const SERVERS: Array<Record<string, string>> = [
  { create_issue: 'Creates a Jira issue in a project.', search_issues: 'Searches Jira issues with JQL.' },
  { send_message: 'Sends a Slack message to a channel.' },
  { read_page: 'Reads a page of the company wiki.' },
  { query_sales: 'Runs a SQL query against the sales database.' },
  { deploy_service: 'Deploys a service to production.' },
];
const UPSTREAMS = 50;

/**
 * Tool search for large aggregates: with `aggregate.tool_mode: search` (or `/mcp?tools=search`)
 * the aggregate lists two tools; `gatehouse__search_tools` ranks the tools the person may use
 * across 50 upstreams, and `gatehouse__call_tool` calls one through the usual rules.
 */
describe('tool search over 50 upstreams', () => {
  let servers: MutableToolsServer[];
  let portal: TestPortal;
  let searching: Agent;
  let listing: ModernAgent;

  beforeAll(async () => {
    servers = await Promise.all(SERVERS.map((tools) => startMutableToolsServer(tools)));
    const upstreams = Array.from({ length: UPSTREAMS }, (_, i) => ({
      id: `u${String(i).padStart(2, '0')}`,
      kind: 'mcp',
      url: servers[i % SERVERS.length]!.url,
      // Nobody may deploy through u04: search must not offer what a call would refuse.
      ...(i === 4 ? { tools: { deny: ['deploy_service'] } } : {}),
    }));
    portal = await startTestPortal({ document: { login: { accounts: await testAccounts() }, aggregate: { tool_mode: 'search' }, upstreams } });
    searching = await connectAgent(portal.url, ALICE);
    // An agent may ask for the whole listing instead.
    listing = await connectModernAgent(portal.url, ALICE, { path: '/mcp?tools=all' });
  }, 60_000);
  afterAll(async () => {
    await searching?.client.close();
    await listing?.client.close();
    await portal?.close();
    for (const server of servers ?? []) await server.close();
  });

  const search = async (query: string, limit?: number) => {
    const result = (await searching.client.callTool({ name: 'gatehouse__search_tools', arguments: { query, ...(limit ? { limit } : {}) } })) as CallToolResult;
    return (result.structuredContent as { tools: Array<{ name: string; description: string; inputSchema: object }> }).tools;
  };

  test('search mode lists two tools; ?tools=all lists every one (and is far longer)', async () => {
    const { tools } = await searching.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['gatehouse__search_tools', 'gatehouse__call_tool']);
    const all = (await listing.client.listTools()).tools;
    expect(all).toHaveLength(UPSTREAMS / SERVERS.length * 6 - 1);
    expect(JSON.stringify(all).length).toBeGreaterThan(10 * JSON.stringify(tools).length);
  });

  test('the best matches come first, with what a model needs to call them', async () => {
    const found = await search('open a jira ticket', 3);
    expect(found).toHaveLength(3);
    expect(found.every((t) => t.name.endsWith('__create_issue') || t.name.endsWith('__search_issues'))).toBe(true);
    expect(found[0]!.name).toMatch(/__create_issue$/);
    expect(found[0]).toMatchObject({ description: 'Creates a Jira issue in a project.', inputSchema: { type: 'object' } });
    expect((await search('slack')).every((t) => t.name.endsWith('__send_message'))).toBe(true);
    expect(await search('zzzz-nothing-like-this')).toEqual([]);
  });

  test("a tool the person may not use is never found", async () => {
    const found = await search('deploy production', 50);
    expect(found.map((t) => t.name)).not.toContain('u04__deploy_service');
    expect(found.length).toBe(UPSTREAMS / SERVERS.length - 1);
  });

  test('gatehouse__call_tool calls a found tool through the usual rules', async () => {
    const [first] = await search('wiki page');
    const result = (await searching.client.callTool({ name: 'gatehouse__call_tool', arguments: { name: first!.name, arguments: { query: 'x' } } })) as CallToolResult;
    expect(toolText(result)).toBe('read_page ran');
    const denied = searching.client.callTool({ name: 'gatehouse__call_tool', arguments: { name: 'u04__deploy_service', arguments: {} } });
    await expect(denied).rejects.toThrow(/unknown tool/);
    expect(servers[4]!.calls).toEqual([]);
  });

  test('bad input: a query that is not text, a limit out of range, a call without a name, an unknown mode', async () => {
    for (const args of [{ query: 7 }, { query: '' }, { query: 'jira', limit: 0 }, { query: 'jira', limit: 51 }]) {
      await expect(searching.client.callTool({ name: 'gatehouse__search_tools', arguments: args })).rejects.toThrow(/needs "query"/);
    }
    await expect(searching.client.callTool({ name: 'gatehouse__call_tool', arguments: { arguments: {} } })).rejects.toThrow(/needs "name"/);
    const response = await fetch(`${portal.url}/mcp?tools=some`, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${listing.token}` }, body: '{}' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: -32600, message: expect.stringContaining('tools must be one of all, search') } });
  });
});
