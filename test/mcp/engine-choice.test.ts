import { authorizedToken, connectAgent, type Agent } from '../helpers/agent.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { MCP_HEADERS, toolText, modernHeaders } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/**
 * `/mcp/{id}` decides its engine once, from the upstream's era: a 2026 agent's very first request
 * to an upstream of unknown era is relayed after one probe (not served by the SDK path and the
 * next ones relayed), and a 2025 agent's session to an upstream known to speak only 2026 goes to
 * the SDK path without a refused `initialize` first.
 */
describe('the engine of /mcp/{id}', () => {
  let upstream: ModernMcpServer;
  let portal: TestPortal;
  let legacy: Agent | undefined;

  beforeAll(async () => {
    upstream = await startModernMcpServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'modern', kind: 'mcp', url: upstream.url, credentials: { type: 'none' } }],
      },
    });
  });
  afterAll(async () => {
    await legacy?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  const received = (method: string) => upstream.requests.filter((r) => r.body?.method === method);

  test("a 2026 agent's first request, the era unknown, is relayed after one probe, and so is the next", async () => {
    const token = await authorizedToken(portal.url, ALICE, '/mcp/modern');
    for (const id of ['first-call', 'second-call']) {
      const response = await fetch(`${portal.url}/mcp/modern`, {
        method: 'POST',
        headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...modernHeaders('tools/call', 'echo') },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'echo', arguments: { message: id }, _meta: ENVELOPE },
        }),
      });
      expect(response.status).toBe(200);
      // The relay passes the agent's own request id; the SDK path's upstream client would use its own.
      expect((received('tools/call').at(-1)!.body as { id?: unknown }).id).toBe(id);
    }
    expect(received('server/discover')).toHaveLength(1);
  });

  test("a 2025 agent's session to the upstream known to speak only 2026 costs no refused initialize", async () => {
    legacy = await connectAgent(portal.url, ALICE, { path: '/mcp/modern' });
    expect(toolText(await legacy.client.callTool({ name: 'echo', arguments: { message: 'bridged' } }))).toBe('bridged');
    expect(received('initialize')).toHaveLength(0);
  });
});
