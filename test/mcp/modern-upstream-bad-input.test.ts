import { connectAgent, connectModernAgent, type Agent, type ModernAgent } from '../helpers/agent.js';
import { startJsonRpcServer, type JsonRpcServer } from '../helpers/json-rpc-server.js';
import { toolText } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const SERVER_INFO = { 'io.modelcontextprotocol/serverInfo': { name: 'sloppy', version: '1' } };

/**
 * An upstream that claims MCP 2026-07-28 (its server/discover says so) but answers a call
 * without the `resultType` every 2026 result must carry: the agent gets a tool error that says
 * the upstream did not answer properly, of either era, on `/mcp` and through the relay of
 * `/mcp/{id}`, and the portal stays well.
 */
describe('an upstream that claims 2026-07-28 but answers without resultType', () => {
  let upstream: JsonRpcServer;
  let portal: TestPortal;
  let legacy: Agent;
  let modern: ModernAgent;
  let relayed: ModernAgent;

  const results: Record<string, unknown> = {};

  beforeAll(async () => {
    Object.assign(results, {
      'server/discover': {
        supportedVersions: ['2026-07-28'],
        capabilities: { tools: {} },
        resultType: 'complete',
        ttlMs: 0,
        cacheScope: 'private',
        _meta: SERVER_INFO,
      },
      'tools/list': {
        tools: [{ name: 'sloppy', inputSchema: { type: 'object' } }],
        resultType: 'complete',
        ttlMs: 0,
        cacheScope: 'private',
        _meta: SERVER_INFO,
      },
      // No resultType.
      'tools/call': { content: [{ type: 'text', text: 'looks fine' }], _meta: SERVER_INFO },
    });
    upstream = await startJsonRpcServer((method) => results[method]);
    const { url } = upstream;
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'sloppy', kind: 'mcp', url, credentials: { type: 'none' } }],
      },
    });
    legacy = await connectAgent(portal.url, ALICE);
    modern = await connectModernAgent(portal.url, ALICE);
    // On /mcp/{id} the portal relays a 2026 agent's messages to an upstream it knows speaks 2026.
    relayed = await connectModernAgent(portal.url, ALICE, { path: '/mcp/sloppy' });
  });
  afterAll(async () => {
    await legacy?.client.close();
    await modern?.client.close();
    await relayed?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test.each([
    ['2025', () => legacy.client.callTool({ name: 'sloppy__sloppy', arguments: {} })],
    ['2026', () => modern.client.callTool({ name: 'sloppy__sloppy', arguments: {} })],
    ['2026 (on /mcp/{id})', () => relayed.client.callTool({ name: 'sloppy', arguments: {} })],
  ])('a %s agent gets a tool error naming the upstream, not the malformed answer', async (_era, call) => {
    const result = await call();
    expect(result.isError).toBe(true);
    expect(toolText(result)).toContain('"sloppy"');
    expect(toolText(result)).not.toContain('looks fine');
  });

  test('on /mcp/{id} a relayed answer without resultType to another request is an internal error', async () => {
    await expect(relayed.client.listTools(undefined, { cacheMode: 'bypass' })).resolves.toMatchObject({ tools: [{ name: 'sloppy' }] });
    results['tools/list'] = { tools: [{ name: 'sloppy', inputSchema: { type: 'object' } }], _meta: SERVER_INFO };
    await expect(relayed.client.listTools(undefined, { cacheMode: 'bypass' })).rejects.toMatchObject({ code: -32603 });
  });
});
