import { authorizedToken, connectModernAgent, type ModernAgent } from '../helpers/agent.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { MCP_HEADERS, toolText, modernHeaders } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * `/mcp/{id}` between a 2026-07-28 agent and a 2026-07-28 upstream is a message-level relay: the
 * upstream answers (server/discover, input_required rounds and their requestState included); the
 * portal applies the tool rules, names what it sends in the standard headers, and refuses a
 * request whose headers and body disagree before anything is sent.
 */
describe('the stateless relay on /mcp/{id}', () => {
  let upstream: ModernMcpServer;
  let portal: TestPortal;
  let agent: ModernAgent;
  let token: string;

  beforeAll(async () => {
    upstream = await startModernMcpServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'modern', kind: 'mcp', url: upstream.url, tools: { deny: ['count'], rename: { echo: 'say' } } }],
      },
    });
    token = await authorizedToken(portal.url, ALICE, '/mcp/modern');
    // The first request finds the upstream's era unknown: the portal probes it then.
    await (await connectModernAgent(portal.url, ALICE, { path: '/mcp/modern', token })).client.close();
    agent = await connectModernAgent(portal.url, ALICE, {
      path: '/mcp/modern',
      token,
      capabilities: { elicitation: {} },
      setup: (client) => client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { ok: true } })),
    });
  });
  afterAll(async () => {
    await agent?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  const received = (method: string) => upstream.requests.filter((r) => r.body?.method === method);

  test("server/discover is the upstream's own answer", () => {
    const discover = agent.client.getDiscoverResult()!;
    expect(discover._meta?.['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: 'modern-upstream' });
    expect(received('server/discover').length).toBeGreaterThanOrEqual(2);
  });

  test('the tool rules apply: renamed by its new name, denied unknown; the upstream hears its own name', async () => {
    const { tools } = await agent.client.listTools(undefined, { cacheMode: 'bypass' });
    const names = tools.map((t) => t.name);
    expect(names).toContain('say');
    expect(names).not.toContain('echo');
    expect(names).not.toContain('count');
    const before = received('tools/call').length;
    expect(toolText(await agent.client.callTool({ name: 'say', arguments: { message: 'relayed' } }))).toBe('relayed');
    const call = received('tools/call').at(-1)!;
    expect(call.body!.params!.name).toBe('echo');
    expect(call.headers['mcp-name']).toBe('echo');
    expect(received('tools/call').length).toBe(before + 1);
    await expect(agent.client.callTool({ name: 'count', arguments: { steps: 1 } })).rejects.toMatchObject({ code: -32602 });
    expect(received('tools/call').length).toBe(before + 1);
  });

  test("the upstream's input_required round passes through as it is, and the retry completes", async () => {
    expect(toolText(await agent.client.callTool({ name: 'confirm', arguments: { action: 'ship' } }))).toBe('ship: done');
    const calls = received('tools/call').filter((r) => r.body?.params?.name === 'confirm');
    expect(calls.length).toBe(2);
    // The retry answers the upstream's own key: nothing of the portal's in between.
    expect(calls[1]!.body!.params).toMatchObject({ inputResponses: { confirm: { action: 'accept', content: { ok: true } } } });
  });

  test('an Mcp-Name header that disagrees with the body is HeaderMismatch (-32020), and nothing is sent', async () => {
    const before = upstream.requests.length;
    const response = await fetch(`${portal.url}/mcp/modern`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, ...modernHeaders('tools/call', 'confirm') },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: {
          name: 'say',
          arguments: { message: 'x' },
          _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
        },
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ id: 9, error: { code: -32020 } });
    expect(upstream.requests.length).toBe(before);
  });

  test('an Mcp-Name header in the =?base64?…?= form names a tool that cannot be a header value: it is decoded, not refused', async () => {
    const call = (mcpName: string) =>
      fetch(`${portal.url}/mcp/modern`, {
        method: 'POST',
        headers: {
          ...MCP_HEADERS,
          authorization: `Bearer ${token}`,
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': mcpName,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 10,
          method: 'tools/call',
          params: {
            name: 'écho',
            arguments: {},
            _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
          },
        }),
      });
    const before = received('tools/call').length;
    const encoded = await call(`=?base64?${Buffer.from('écho').toString('base64')}?=`);
    // Past the header check: the tool rules answer (a tool the upstream never listed waits for an administrator).
    expect(encoded.status).toBe(200);
    expect(await encoded.json()).toMatchObject({ id: 10, result: { isError: true, content: [{ text: expect.stringContaining('écho') }] } });
    // Another name, or a malformed encoding, is still a mismatch.
    for (const wrong of [`=?base64?${Buffer.from('echo').toString('base64')}?=`, '=?base64?!!!?=']) {
      const refused = await call(wrong);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: { code: -32020 } });
    }
    expect(received('tools/call').length).toBe(before);
  });
});
