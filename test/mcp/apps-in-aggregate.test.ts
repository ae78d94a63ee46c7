import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startHandbookSite } from '../../examples/handbook-site.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

describe('HTTP apps in the MCP aggregate', () => {
  let site: Awaited<ReturnType<typeof startHandbookSite>>;
  let portal: TestPortal;
  let alice: Agent;

  beforeAll(async () => {
    site = await startHandbookSite();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'handbook', kind: 'http', title: 'Acme handbook', url: site.url, entry_pages: ['/', '/policies/expenses'] },
          { id: 'payroll', kind: 'http', url: site.url, access: { groups: ['finance'] } },
        ],
      },
    });
    alice = await connectAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await alice?.client.close();
    await portal?.close();
    await site?.close();
  });

  test('each app the person may use offers a fetch tool; others are not listed', async () => {
    const { tools } = await alice.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['handbook__fetch']);
  });

  test('the fetch tool reads a page as Markdown, main content only', async () => {
    const result = (await alice.client.callTool({ name: 'handbook__fetch', arguments: { path: '/policies/expenses' } })) as CallToolResult;
    const text = (result.content[0] as { text: string }).text;
    expect(result.isError).toBeFalsy();
    expect(text).toMatch(/^# Expenses/m);
    expect(text).not.toContain('<nav');
    const html = (await alice.client.callTool({
      name: 'handbook__fetch',
      arguments: { path: '/policies/expenses', format: 'html' },
    })) as CallToolResult;
    expect((html.content[0] as { text: string }).text).toContain('<h1>Expenses</h1>');
  });

  test('a traversal path is refused as a tool error; a bad argument is a JSON-RPC error', async () => {
    const result = (await alice.client.callTool({ name: 'handbook__fetch', arguments: { path: '/../../etc/passwd' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    await expect(alice.client.callTool({ name: 'handbook__fetch', arguments: { path: 'no-slash' } })).rejects.toMatchObject({
      code: -32602,
    });
    await expect(alice.client.callTool({ name: 'payroll__fetch', arguments: { path: '/' } })).rejects.toMatchObject({ code: -32602 });
  });

  test('entry pages are resources at their portal URLs, with a template for any page', async () => {
    const { resources } = await alice.client.listResources();
    expect(resources.map((r) => r.uri)).toEqual([`${portal.url}/apps/handbook/`, `${portal.url}/apps/handbook/policies/expenses`]);
    const read = await alice.client.readResource({ uri: `${portal.url}/apps/handbook/onboarding` });
    expect(read.contents[0]).toMatchObject({ uri: `${portal.url}/apps/handbook/onboarding`, mimeType: 'text/markdown' });
    expect((read.contents[0] as { text: string }).text).toMatch(/^# Your first week/m);
    const { resourceTemplates } = await alice.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual([`${portal.url}/apps/handbook{+path}`]);
  });
});
