import { connectAgent, type Agent } from '../helpers/agent.js';
import { toolText } from '../helpers/mcp-wire.js';
import { startMutableToolsServer, type MutableToolsServer } from '../helpers/mutable-tools-server.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const LONG = 'summarize-the-quarterly-financial-report';

/**
 * `aggregate.max_tool_name_length`: every name the aggregate shows fits the budget, stays the
 * same from listing to listing and from process to process, stays unique, and calls the tool it
 * names, even where the budget cuts into the upstream's id.
 */
describe.each([
  ['the default budget (64)', undefined, 64],
  ['a budget that cuts into the upstream id (20)', 20, 20],
])('tool names under %s', (_name, budget, limit) => {
  let upstream: MutableToolsServer;
  let portals: TestPortal[];
  let agents: Agent[];

  beforeAll(async () => {
    upstream = await startMutableToolsServer({ search: 'Searches.', [`${LONG}-for-europe`]: 'Europe.', [`${LONG}-for-asia`]: 'Asia.' });
    const document = {
      login: { accounts: await testAccounts() },
      ...(budget ? { aggregate: { max_tool_name_length: budget } } : {}),
      upstreams: [{ id: 'company-knowledge-base', kind: 'mcp', url: upstream.url }],
    };
    portals = [await startTestPortal({ document }), await startTestPortal({ document })];
    agents = await Promise.all(portals.map((portal) => connectAgent(portal.url, ALICE)));
  });
  afterAll(async () => {
    for (const agent of agents ?? []) await agent.client.close();
    for (const portal of portals ?? []) await portal.close();
    await upstream?.close();
  });

  test('names fit, are unique, and are the same in every listing of every process', async () => {
    const listings = await Promise.all(
      [...agents, agents[0]!].map(async (agent) => (await agent.client.listTools()).tools.map((t) => t.name)),
    );
    const names = listings[0]!;
    expect(names).toHaveLength(3);
    expect(names.every((name) => name.length <= limit)).toBe(true);
    expect(new Set(names).size).toBe(3);
    for (const other of listings.slice(1)) expect(other).toEqual(names);
  });

  test('each name calls the tool it stands for', async () => {
    const { tools } = await agents[1]!.client.listTools();
    for (const tool of tools) {
      const ran = toolText(await agents[0]!.client.callTool({ name: tool.name, arguments: {} }));
      expect(tool.description).toBe(ran.includes('europe') ? 'Europe.' : ran.includes('asia') ? 'Asia.' : 'Searches.');
    }
    expect([...upstream.calls].sort()).toEqual(['search', `${LONG}-for-asia`, `${LONG}-for-europe`]);
  });
});
