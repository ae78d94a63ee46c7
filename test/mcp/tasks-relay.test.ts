import { authorizedToken, connectModernAgent } from '../helpers/agent.js';
import { startJsonRpcServer, type JsonRpcServer } from '../helpers/json-rpc-server.js';
import { MCP_HEADERS } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const TASKS = 'io.modelcontextprotocol/tasks';
const SERVER_INFO = { 'io.modelcontextprotocol/serverInfo': { name: 'tasker', version: '1' } };
const envelope = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
};

/**
 * The tasks extension (`io.modelcontextprotocol/tasks`) between a 2026 agent and a 2026 upstream
 * on `/mcp/{id}`: a tool call answered with a task handle, then `tasks/get` and `tasks/cancel`,
 * all pass the relay to the upstream that owns the task, with the person's credential.
 */
describe('the tasks extension through /mcp/{id}', () => {
  let upstream: JsonRpcServer;
  let portal: TestPortal;
  let token: string;

  beforeAll(async () => {
    const task = (status: string) => ({ taskId: 'task-7', status, ttlMs: 60_000, pollIntervalMs: 10 });
    const results: Record<string, unknown> = {
      'server/discover': {
        supportedVersions: ['2026-07-28'],
        capabilities: { tools: {}, extensions: { [TASKS]: {} } },
        resultType: 'complete',
        ttlMs: 0,
        cacheScope: 'private',
        _meta: SERVER_INFO,
      },
      'tools/list': {
        tools: [{ name: 'build', inputSchema: { type: 'object' } }],
        resultType: 'complete',
        ttlMs: 0,
        cacheScope: 'private',
        _meta: SERVER_INFO,
      },
      'tools/call': { resultType: 'task', ...task('working'), _meta: SERVER_INFO },
      'tasks/get': {
        resultType: 'complete',
        ...task('completed'),
        result: { content: [{ type: 'text', text: 'built' }] },
        _meta: SERVER_INFO,
      },
      'tasks/cancel': { resultType: 'complete', _meta: SERVER_INFO },
    };
    upstream = await startJsonRpcServer((method) => results[method]);
    const { url } = upstream;
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'tasker', kind: 'mcp', url }] },
    });
    token = await authorizedToken(portal.url, ALICE, '/mcp/tasker');
    // The first 2026 request finds the upstream's era unknown; the portal probes it then.
    await (await connectModernAgent(portal.url, ALICE, { path: '/mcp/tasker', token })).client.close();
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  async function post(method: string, params: Record<string, unknown>, name?: string) {
    const response = await fetch(`${portal.url}/mcp/tasker`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${token}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(name ? { 'mcp-name': name } : {}),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: envelope } }),
    });
    return { status: response.status, body: (await response.json()) as { result?: Record<string, unknown>; error?: { code: number } } };
  }

  test('a call answered with a task handle, then tasks/get and tasks/cancel, reach the upstream and come back as it answered', async () => {
    const started = await post('tools/call', { name: 'build', arguments: {} }, 'build');
    expect(started).toMatchObject({ status: 200, body: { result: { resultType: 'task', taskId: 'task-7', status: 'working' } } });
    const polled = await post('tasks/get', { taskId: 'task-7' });
    expect(polled.body.result).toMatchObject({ taskId: 'task-7', status: 'completed', result: { content: [{ text: 'built' }] } });
    expect((await post('tasks/cancel', { taskId: 'task-7' })).status).toBe(200);
    const relayed = upstream.received.filter((r) => r.method.startsWith('tasks/') || r.method === 'tools/call');
    expect(relayed.map((r) => r.method)).toEqual(['tools/call', 'tasks/get', 'tasks/cancel']);
    // The person's credential, never the agent's token.
    expect(relayed.every((r) => r.headers.authorization !== undefined && !r.headers.authorization.includes(token))).toBe(true);
  });
});
