import { authorizedToken } from '../helpers/agent.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { lastMessage, MCP_HEADERS } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { MemoryStore } from '../../portal/store/index.js';

/**
 * An input_required round whose call was held by a portal process that has since stopped: the
 * retry, at another process, is told so (a JSON-RPC error) instead of waiting for an outcome
 * that cannot come.
 */
describe('a retry whose call is no longer held', () => {
  let recorder: RecordingServer;
  let store: MemoryStore;
  let first: TestPortal;
  let second: TestPortal;

  beforeAll(async () => {
    recorder = await startRecordingMcpServer({ sample: true });
    store = new MemoryStore();
    const document = { login: { accounts: await testAccounts() }, upstreams: [{ id: 'recorder', kind: 'mcp', url: recorder.url }] };
    first = await startTestPortal({ document, store });
    second = await startTestPortal({ document, store, env: { PUBLIC_URL: first.url } });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await store?.close();
    await recorder?.close();
  });

  const call = async (portalUrl: string, token: string, extra: Record<string, unknown> = {}) => {
    const response = await fetch(`${portalUrl}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${token}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'recorder__sample',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: {
          name: 'recorder__sample',
          arguments: { prompt: 'hi' },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientCapabilities': { sampling: {} },
          },
          ...extra,
        },
      }),
    });
    return lastMessage<{
      result?: { resultType: string; inputRequests: Record<string, unknown>; requestState: string };
      error?: { code: number; message: string };
    }>(response);
  };

  test('the retry gets an error saying the call is gone', async () => {
    const token = await authorizedToken(first.url, ALICE);
    const round = await call(first.url, token);
    expect(round.result?.resultType).toBe('input_required');
    const [key] = Object.keys(round.result!.inputRequests);
    await first.close();
    const retry = await call(second.url, token, {
      inputResponses: { [key!]: { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' } },
      requestState: round.result!.requestState,
    });
    expect(retry.error).toMatchObject({ code: -32603, message: expect.stringContaining('no longer held') });
  });
});
