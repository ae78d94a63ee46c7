import http from 'node:http';
import { authorizedToken, connectModernAgent, type ModernAgent } from '../helpers/agent.js';
import { startRawServer, startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { startModernMcpServer, type ModernMcpServer } from '../helpers/modern-mcp-server.js';
import { toolText } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * An upstream whose era changes under the same URL (a 2026-07-28 server replaced by a 2025 one):
 * the relay of `/mcp/{id}` does not go on sending it 2026 requests on the strength of the era it
 * remembered. The refused request is served in the era the upstream now speaks, probed again.
 */
describe('an upstream that stops speaking 2026-07-28', () => {
  let modernUpstream: ModernMcpServer;
  let legacyUpstream: RecordingServer;
  let front: RecordingServer;
  let target: string;
  let portal: TestPortal;
  let agent: ModernAgent;

  beforeAll(async () => {
    modernUpstream = await startModernMcpServer();
    legacyUpstream = await startRecordingMcpServer();
    target = modernUpstream.url;
    // One URL for the portal; behind it, whichever server `target` names.
    front = await startRawServer((req, res) => {
      const upstream = http.request(target, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        // Three calls a minute: the call the relay counted and then handed to the 2025 path counts once.
        upstreams: [
          { id: 'shifty', kind: 'mcp', url: front.url, credentials: { type: 'none' }, tools: { limits: { echo: { per_minute: 3 } } } },
        ],
      },
    });
    const token = await authorizedToken(portal.url, ALICE, '/mcp/shifty');
    agent = await connectModernAgent(portal.url, ALICE, { path: '/mcp/shifty', token });
  });
  afterAll(async () => {
    await agent?.client.close();
    await portal?.close();
    await front?.close();
    await legacyUpstream?.close();
    await modernUpstream?.close();
  });

  test('the relayed request the upstream refuses is served in its new era, and so are the next ones', async () => {
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'in 2026' } }))).toBe('in 2026');
    expect(modernUpstream.requests.some((r) => r.body?.method === 'tools/call')).toBe(true);
    target = legacyUpstream.url;
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'in 2025' } }))).toBe('in 2025');
    // The 2025 upstream was asked in its own protocol: a session opened with initialize.
    expect(legacyUpstream.requests.some((r) => r.method === 'POST' && r.headers['mcp-session-id'] !== undefined)).toBe(true);
    expect(toolText(await agent.client.callTool({ name: 'echo', arguments: { message: 'still 2025' } }))).toBe('still 2025');
    // Three calls counted, not four: the fourth is the one refused.
    const fourth = await agent.client.callTool({ name: 'echo', arguments: { message: 'one too many' } });
    expect(fourth.isError).toBe(true);
    expect(toolText(fourth)).toMatch(/^Rate limit reached: at most 3 calls per minute/);
  });
});
