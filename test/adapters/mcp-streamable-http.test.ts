import { pino } from 'pino';
import type { Notification } from '@modelcontextprotocol/sdk/types.js';
import { createMcpUpstream, type ConnectOptions, type McpUpstream, type McpUpstreamConnection } from '../../adapters/mcp-upstream.js';
import { startEverythingServer, type ChildServer } from '../helpers/child-server.js';

/** Against `@modelcontextprotocol/server-everything` over Streamable HTTP. */
describe('Streamable HTTP upstream (server-everything)', () => {
  let everything: ChildServer & { url: string };
  let upstream: McpUpstream;

  beforeAll(async () => {
    everything = await startEverythingServer();
    upstream = createMcpUpstream(
      { id: 'everything', url: everything.url, connectTimeoutMs: 10_000, callTimeoutMs: 20_000 },
      { logger: pino({ level: 'silent' }) },
    );
  });

  afterAll(async () => {
    await upstream?.close();
    await everything?.close();
  });

  /** Connections left open by a failing test are closed by `upstream.close()`. */
  function connect(options: Partial<ConnectOptions> = {}): Promise<McpUpstreamConnection> {
    return upstream.connect({ ownerKey: 'alice', ...options });
  }

  it('connects, lists tools and calls echo', async () => {
    const connection = await connect();
    expect(connection.transportKind).toBe('streamable-http');
    expect(connection.sessionId).toEqual(expect.any(String));
    expect(connection.resumed).toBe(false);
    const { tools } = await connection.client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['echo', 'trigger-long-running-operation']));
    const result = await connection.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: hello' }]);
    await connection.close();
  });

  it("relays progress of a long-running tool to onNotification with the caller's token", async () => {
    const notifications: Notification[] = [];
    const connection = await connect({ onNotification: (notification) => void notifications.push(notification) });
    await connection.client.callTool({
      name: 'trigger-long-running-operation',
      arguments: { duration: 0.3, steps: 3 },
      _meta: { progressToken: 'agent-token-7' },
    });
    const progress = notifications.filter((notification) => notification.method === 'notifications/progress');
    expect(progress.map((notification) => notification.params)).toEqual([
      { progress: 1, total: 3, progressToken: 'agent-token-7' },
      { progress: 2, total: 3, progressToken: 'agent-token-7' },
      { progress: 3, total: 3, progressToken: 'agent-token-7' },
    ]);
    await connection.close();
  });

  it('relays a sampling request from the upstream to onRequest and its answer back', async () => {
    const seen: string[] = [];
    const connection = await connect({
      clientCapabilities: { sampling: {} },
      onRequest: async (request) => {
        seen.push(request.method);
        return { role: 'assistant', model: 'agent-model', content: { type: 'text', text: 'sampled by the agent' } };
      },
    });
    const result = await connection.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
    expect(seen).toEqual(['sampling/createMessage']);
    expect(JSON.stringify(result.content)).toContain('sampled by the agent');
    await connection.close();
  });

  it('cancels an upstream call when the abort signal fires', async () => {
    const connection = await connect();
    const controller = new AbortController();
    const call = connection.client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
      { signal: controller.signal },
    );
    controller.abort('agent sent notifications/cancelled');
    await expect(call).rejects.toMatchObject({ code: 'ERR_UPSTREAM_CANCELLED', upstreamId: 'everything' });
    // The connection stays usable after a cancelled call.
    await expect(connection.client.callTool({ name: 'echo', arguments: { message: 'still here' } })).resolves.toMatchObject({
      content: [{ text: 'Echo: still here' }],
    });
    await connection.close();
  });

  it('applies the call timeout to every request', async () => {
    const quick = createMcpUpstream(
      { id: 'everything', url: everything.url, connectTimeoutMs: 10_000, callTimeoutMs: 200 },
      { logger: pino({ level: 'silent' }) },
    );
    try {
      const connection = await quick.connect({ ownerKey: 'alice' });
      await expect(
        connection.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }),
      ).rejects.toMatchObject({ code: 'ERR_UPSTREAM_TIMEOUT', timeoutMs: 200 });
    } finally {
      await quick.close();
    }
  });

  it('resumes a session by id from a second connection without initializing again', async () => {
    const first = await connect();
    const stored = JSON.parse(JSON.stringify(first.session)) as typeof first.session;
    expect(stored).toMatchObject({
      sessionId: first.sessionId,
      serverInfo: { name: expect.any(String) },
      protocolVersion: expect.any(String),
    });

    const second = await connect({ resume: stored });
    expect(second.resumed).toBe(true);
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.client.getServerCapabilities()).toEqual(first.client.getServerCapabilities());
    expect(second.client.getServerVersion()).toEqual(first.client.getServerVersion());
    await expect(second.client.callTool({ name: 'echo', arguments: { message: 'resumed' } })).resolves.toMatchObject({
      content: [{ text: 'Echo: resumed' }],
    });
    await second.close();
    await first.close();
  });

  it('starts a new session when the one to resume is gone, and terminate ends a session', async () => {
    const first = await connect();
    const stored = first.session!;
    await first.terminate();
    const again = await connect({ resume: stored });
    expect(again.resumed).toBe(false);
    expect(again.sessionId).toEqual(expect.any(String));
    expect(again.sessionId).not.toBe(stored.sessionId);
    await expect(again.client.callTool({ name: 'echo', arguments: { message: 'fresh' } })).resolves.toMatchObject({
      content: [{ text: 'Echo: fresh' }],
    });
    await again.close();
  });
});
