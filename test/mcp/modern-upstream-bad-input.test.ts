import { connectAgent, connectModernAgent, type Agent, type ModernAgent } from '../helpers/agent.js';
import { startJsonRpcServer, type JsonRpcServer } from '../helpers/json-rpc-server.js';
import { toolText } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const SERVER_INFO = { 'io.modelcontextprotocol/serverInfo': { name: 'sloppy', version: '1' } };

/**
 * An upstream that claims MCP 2026-07-28 (its server/discover says so) but answers a call
 * without the `resultType` every 2026 result must carry: the agent gets a tool error that says
 * the upstream did not answer properly, of either era, and the portal stays well.
 */
describe('an upstream that claims 2026-07-28 but answers without resultType', () => {
  let upstream: JsonRpcServer;
  let portal: TestPortal;
  let legacy: Agent;
  let modern: ModernAgent;

  beforeAll(async () => {
    const results: Record<string, unknown> = {
      'server/discover': { supportedVersions: ['2026-07-28'], capabilities: { tools: {} }, resultType: 'complete', ttlMs: 0, cacheScope: 'private', _meta: SERVER_INFO },
      'tools/list': { tools: [{ name: 'sloppy', inputSchema: { type: 'object' } }], resultType: 'complete', ttlMs: 0, cacheScope: 'private', _meta: SERVER_INFO },
      // No resultType.
      'tools/call': { content: [{ type: 'text', text: 'looks fine' }], _meta: SERVER_INFO },
    };
    upstream = await startJsonRpcServer((method) => results[method]);
    const { url } = upstream;
    portal = await startTestPortal({ document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'sloppy', kind: 'mcp', url, credentials: { type: 'none' } }] } });
    legacy = await connectAgent(portal.url, ALICE);
    modern = await connectModernAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await legacy?.client.close();
    await modern?.client.close();
    await portal?.close();
    await upstream?.close();
  });

  test.each([
    ['2025', () => legacy.client.callTool({ name: 'sloppy__sloppy', arguments: {} })],
    ['2026', () => modern.client.callTool({ name: 'sloppy__sloppy', arguments: {} })],
  ])('a %s agent gets a tool error naming the upstream, not the malformed answer', async (_era, call) => {
    const result = await call();
    expect(result.isError).toBe(true);
    expect(toolText(result)).toContain('"sloppy"');
    expect(toolText(result)).not.toContain('looks fine');
  });
});
