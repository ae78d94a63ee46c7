import { fileURLToPath } from 'node:url';
import { connectAgent, connectModernAgent, type Agent, type ModernAgent } from '../helpers/agent.js';
import { startChildServer, type ChildServer } from '../helpers/child-server.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const BASIC_APP = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-basic-vanillajs/dist/index.js', import.meta.url));

/**
 * MCP Apps (`io.modelcontextprotocol/ui`) behind the aggregate: `@modelcontextprotocol/server-basic-vanillajs`
 * (its `get-time` tool names the view `ui://get-time/mcp-app.html`) beside another upstream.
 */
describe('an MCP Apps server behind /mcp', () => {
  let app: ChildServer;
  let recorder: RecordingServer;
  let portal: TestPortal;
  let legacy: Agent;
  let modern: ModernAgent;

  beforeAll(async () => {
    app = await startChildServer(BASIC_APP);
    recorder = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'clock', kind: 'mcp', url: `http://127.0.0.1:${app.port}/mcp`, credentials: { type: 'none' } },
          { id: 'recorder', kind: 'mcp', url: recorder.url },
        ],
      },
    });
    legacy = await connectAgent(portal.url, ALICE);
    modern = await connectModernAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await legacy?.client.close();
    await modern?.client.close();
    await portal?.close();
    await recorder?.close();
    await app?.close();
  });

  test("the tool's view is named by its aggregate URI, and a host reads the view there", async () => {
    for (const client of [legacy.client, modern.client]) {
      const { tools } = await client.listTools();
      const tool = tools.find((t) => t.name === 'clock__get-time')!;
      const resourceUri = (tool._meta as { ui?: { resourceUri?: string } }).ui?.resourceUri;
      expect(resourceUri).toBe('gatehouse+clock+ui://get-time/mcp-app.html');
      const read = await client.readResource({ uri: resourceUri! });
      expect(read.contents[0]).toMatchObject({ uri: resourceUri, mimeType: 'text/html;profile=mcp-app' });
      expect((read.contents[0] as { text: string }).text).toContain('<html');
    }
  });

  test("a view's call by its server's own tool name resolves when one upstream has it; an unknown one does not", async () => {
    const result = await legacy.client.callTool({ name: 'get-time', arguments: {} });
    expect(result.structuredContent).toMatchObject({ time: expect.any(String) });
    await expect(legacy.client.callTool({ name: 'no-such-tool', arguments: {} })).rejects.toMatchObject({ code: -32602 });
  });
});
