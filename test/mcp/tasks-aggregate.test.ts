import { authorizedToken } from '../helpers/agent.js';
import { JsonRpcErrorAnswer, startJsonRpcServer, type JsonRpcServer } from '../helpers/json-rpc-server.js';
import { MCP_HEADERS } from '../helpers/mcp-wire.js';
import { ALICE, BOB, startTestPortal, testAccounts, TEST_SECRET, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, testKeyPrefix } from '../helpers/redis.js';

const TASKS = 'io.modelcontextprotocol/tasks';
const SERVER_INFO = { 'io.modelcontextprotocol/serverInfo': { name: 'tasker', version: '1' } };
const envelope = (extensions: Record<string, object> = { [TASKS]: {} }) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { extensions },
  'io.modelcontextprotocol/clientInfo': { name: 'raw-agent', version: '1' },
});

/**
 * A 2026 upstream with the tasks extension (`io.modelcontextprotocol/tasks`): `build` becomes a
 * task that asks a question (input_required) and completes once answered; `ping` answers at once.
 * It answers with a task only an agent that declared the extension, as the extension says.
 */
function tasksUpstream() {
  const tasks = new Map<string, { status: string; answer?: unknown }>();
  const view = (id: string) => {
    const task = tasks.get(id)!;
    const base = {
      taskId: id,
      status: task.status,
      createdAt: '2026-12-03T00:00:00Z',
      lastUpdatedAt: '2026-12-03T00:00:00Z',
      ttlMs: 60_000,
      pollIntervalMs: 10,
    };
    if (task.status === 'input_required')
      return {
        ...base,
        inputRequests: {
          color: {
            method: 'elicitation/create',
            params: {
              mode: 'form',
              message: 'Which color?',
              requestedSchema: { type: 'object', properties: { color: { type: 'string' } } },
            },
          },
        },
      };
    if (task.status === 'completed')
      return { ...base, result: { content: [{ type: 'text', text: `built in ${JSON.stringify(task.answer)}` }] } };
    return base;
  };
  return (method: string, params: Record<string, unknown>): unknown => {
    const declared = (params._meta as Record<string, { extensions?: Record<string, unknown> }> | undefined)?.[
      'io.modelcontextprotocol/clientCapabilities'
    ]?.extensions?.[TASKS];
    switch (method) {
      case 'server/discover':
        return {
          supportedVersions: ['2026-07-28'],
          capabilities: { tools: {}, extensions: { [TASKS]: {} } },
          resultType: 'complete',
          ttlMs: 0,
          cacheScope: 'private',
          _meta: SERVER_INFO,
        };
      case 'tools/list':
        return {
          tools: [
            { name: 'build', inputSchema: { type: 'object' } },
            { name: 'ping', inputSchema: { type: 'object' } },
          ],
          resultType: 'complete',
          ttlMs: 0,
          cacheScope: 'private',
          _meta: SERVER_INFO,
        };
      case 'tools/call': {
        if (params.name === 'ping' || !declared)
          return { resultType: 'complete', content: [{ type: 'text', text: 'pong' }], _meta: SERVER_INFO };
        const id = `task-${tasks.size + 1}`;
        tasks.set(id, { status: 'working' });
        const created = { resultType: 'task', ...view(id), _meta: SERVER_INFO };
        // It asks its question from the first poll on.
        tasks.get(id)!.status = 'input_required';
        return created;
      }
      case 'tasks/get':
        return tasks.has(params.taskId as string)
          ? { resultType: 'complete', ...view(params.taskId as string), _meta: SERVER_INFO }
          : new JsonRpcErrorAnswer(-32602, 'unknown task');
      case 'tasks/update': {
        const task = tasks.get(params.taskId as string);
        if (!task) return new JsonRpcErrorAnswer(-32602, 'unknown task');
        Object.assign(task, { status: 'completed', answer: (params.inputResponses as Record<string, unknown>).color });
        return { resultType: 'complete', _meta: SERVER_INFO };
      }
      case 'tasks/cancel': {
        const task = tasks.get(params.taskId as string);
        if (!task) return new JsonRpcErrorAnswer(-32602, 'unknown task');
        task.status = 'cancelled';
        return { resultType: 'complete', _meta: SERVER_INFO };
      }
    }
    return undefined;
  };
}

type Answer = { status: number; body: { result?: Record<string, unknown>; error?: { code: number; message: string } } };

/**
 * The tasks extension through the aggregate `/mcp`: a tool call an upstream answers with a task
 * reaches the agent with a task id that routes back to that upstream (from any portal process),
 * and opens only for the person and agent it was given to.
 */
describe('the tasks extension through /mcp', () => {
  let upstream: JsonRpcServer;
  let first: TestPortal;
  let second: TestPortal;
  let alice: string;
  let aliceOtherAgent: string;
  let bob: string;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    upstream = await startJsonRpcServer(tasksUpstream());
    const keyPrefix = testKeyPrefix();
    const [a, b] = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(a.cleanup, b.cleanup);
    const document = { login: { accounts: await testAccounts() }, upstreams: [{ id: 'tasker', kind: 'mcp', url: upstream.url }] };
    first = await startTestPortal({ document, store: a.store });
    // One portal behind a load balancer: same issuer and secret.
    second = await startTestPortal({ document, store: b.store, env: { PUBLIC_URL: first.url, GATEHOUSE_SECRET: TEST_SECRET } });
    [alice, aliceOtherAgent, bob] = await Promise.all([
      authorizedToken(first.url, ALICE),
      authorizedToken(first.url, ALICE),
      authorizedToken(first.url, BOB),
    ]);
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await upstream?.close();
  });

  async function post(
    portal: TestPortal,
    token: string,
    method: string,
    params: Record<string, unknown>,
    options: { name?: string; extensions?: Record<string, object> } = {},
  ): Promise<Answer> {
    const name =
      options.name ?? (typeof params.taskId === 'string' ? params.taskId : typeof params.name === 'string' ? params.name : undefined);
    const response = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${token}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': method,
        ...(name ? { 'mcp-name': name } : {}),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: envelope(options.extensions) } }),
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  }

  const upstreamCalls = (method: string) => upstream.received.filter((r) => r.method === method);

  async function startTask(token = alice): Promise<string> {
    const started = await post(first, token, 'tools/call', { name: 'tasker__build', arguments: {} });
    expect(started.body.result).toMatchObject({ resultType: 'task', status: 'working', ttlMs: 60_000, pollIntervalMs: 10 });
    return started.body.result!.taskId as string;
  }

  test('server/discover on /mcp declares the extension its upstream declared', async () => {
    const discovered = await post(first, alice, 'server/discover', {});
    expect(discovered.body.result).toMatchObject({ capabilities: { extensions: { [TASKS]: {} } } });
  });

  test('a call becomes a task that is polled, answered and completed through either process', async () => {
    const taskId = await startTask();
    // The upstream's own id stays behind the portal; the upstream saw its own tool name and the agent's extension.
    expect(taskId).not.toMatch(/^task-/);
    const call = upstreamCalls('tools/call').at(-1)!;
    expect(call.params.name).toBe('build');
    expect(call.params._meta).toMatchObject({ 'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } } });

    const asking = await post(second, alice, 'tasks/get', { taskId });
    expect(asking.body.result).toMatchObject({
      resultType: 'complete',
      taskId,
      status: 'input_required',
      inputRequests: { color: { method: 'elicitation/create' } },
    });
    const upstreamTaskId = upstreamCalls('tasks/get').at(-1)!.params.taskId as string;
    expect(upstreamTaskId).toMatch(/^task-\d+$/);

    const updated = await post(first, alice, 'tasks/update', {
      taskId,
      inputResponses: { color: { action: 'accept', content: { color: 'teal' } } },
    });
    expect(updated).toMatchObject({ status: 200, body: { result: { resultType: 'complete' } } });
    expect(upstreamCalls('tasks/update').at(-1)!.params).toMatchObject({
      taskId: upstreamTaskId,
      inputResponses: { color: { action: 'accept' } },
    });

    const done = await post(second, alice, 'tasks/get', { taskId });
    expect(done.body.result).toMatchObject({
      taskId,
      status: 'completed',
      result: { content: [{ type: 'text', text: expect.stringContaining('teal') }] },
    });
    // Every task request carried the person's credential to the upstream, never the agent's token.
    expect(
      upstream.received
        .filter((r) => r.method.startsWith('tasks/'))
        .every((r) => r.headers.authorization && !r.headers.authorization.includes(alice)),
    ).toBe(true);
    const audited = [...first.logs.lines, ...second.logs.lines].filter((line) => line.event === 'mcp_task');
    expect(audited.map((line) => line.status)).toEqual(expect.arrayContaining(['completed']));
  });

  test('tasks/cancel reaches the task upstream', async () => {
    const taskId = await startTask();
    const cancelled = await post(first, alice, 'tasks/cancel', { taskId });
    expect(cancelled).toMatchObject({ status: 200, body: { result: { resultType: 'complete' } } });
    expect((await post(first, alice, 'tasks/get', { taskId })).body.result).toMatchObject({ status: 'cancelled' });
  });

  test('a call answered at once stays a plain result', async () => {
    const pinged = await post(first, alice, 'tools/call', { name: 'tasker__ping', arguments: {} });
    expect(pinged.body.result).toMatchObject({ resultType: 'complete', content: [{ text: 'pong' }] });
  });

  test('an agent that did not declare the extension is never answered with a task', async () => {
    const before = upstreamCalls('tools/call').length;
    const called = await post(first, alice, 'tools/call', { name: 'tasker__build', arguments: {} }, { extensions: {} });
    expect(called.body.result).toMatchObject({ resultType: 'complete', content: [{ text: 'pong' }] });
    expect(upstreamCalls('tools/call').length).toBe(before + 1);
    expect(upstreamCalls('tools/call').at(-1)!.params._meta).not.toMatchObject({
      'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } },
    });
  });

  describe('bad input: an unknown task, and nothing reaches the upstream', () => {
    let taskId: string;
    beforeAll(async () => {
      taskId = await startTask();
    });

    test.each([
      ['tampered with', () => ({ token: alice, id: `${taskId.slice(0, -4)}AAAA` })],
      ['made up', () => ({ token: alice, id: 'task-1' })],
      ['held by another person', () => ({ token: bob, id: taskId })],
      ['held by another agent of the same person', () => ({ token: aliceOtherAgent, id: taskId })],
    ])('a task id %s', async (_case, input) => {
      const { token, id } = input();
      const before = upstream.received.length;
      for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
        const answer = await post(first, token, method, { taskId: id, ...(method === 'tasks/update' ? { inputResponses: {} } : {}) });
        expect(answer.body.error).toMatchObject({ code: -32602, message: expect.stringContaining('unknown task') });
      }
      expect(upstream.received.length).toBe(before);
    });

    test('an Mcp-Name header that is not the task id is a header mismatch', async () => {
      const before = upstream.received.length;
      const answer = await post(first, alice, 'tasks/get', { taskId }, { name: 'some-other-task' });
      expect(answer).toMatchObject({ status: 400, body: { error: { code: -32020 } } });
      expect(upstream.received.length).toBe(before);
    });
  });
});
