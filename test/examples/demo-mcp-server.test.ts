import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { SignJWT } from 'jose';
import { startDemoMcpServer, type DemoMcpServer } from '../../examples/demo-mcp-server.js';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { createMcpUpstream } from '../../adapters/mcp-upstream.js';

describe('demo MCP server', () => {
  let demo: DemoMcpServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    demo = await startDemoMcpServer();
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await demo?.close();
  });

  async function connect(headers: Record<string, string> = {}): Promise<{ client: Client }> {
    const client = new Client({ name: 'test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(demo.url), { requestInit: { headers } });
    await client.connect(transport);
    clients.push(client);
    return { client };
  }

  it('listens on 127.0.0.1 at a URL ending in /mcp', () => {
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });

  it('lists its tools, resources and prompts to an SDK client', async () => {
    const { client } = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['add', 'echo', 'get_time', 'whoami']);
    const { resources } = await client.listResources();
    expect(resources).toEqual([expect.objectContaining({ uri: 'demo://about', mimeType: 'text/markdown' })]);
    const { prompts } = await client.listPrompts();
    expect(prompts).toEqual([expect.objectContaining({ name: 'greet' })]);
    expect(client.getInstructions()).toEqual(expect.any(String));
  });

  it('answers tools, the resource and the prompt', async () => {
    const { client } = await connect();
    expect(await client.callTool({ name: 'echo', arguments: { message: 'hi' } })).toMatchObject({
      content: [{ type: 'text', text: 'hi' }],
    });
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({ structuredContent: { sum: 5 } });
    const time = await client.callTool({ name: 'get_time', arguments: {} });
    expect(Number.isNaN(Date.parse((time.content as { text: string }[])[0]!.text))).toBe(false);
    const about = await client.readResource({ uri: 'demo://about' });
    expect(about.contents[0]).toMatchObject({ uri: 'demo://about', text: expect.stringContaining('Gatehouse') });
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Ada');
  });

  it('whoami shows the identity in the bearer JWT, never the token itself', async () => {
    const token = await new SignJWT({ email: 'alice@example.com', groups: ['eng'], act: { sub: 'claude-code' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('person-123')
      .sign(new TextEncoder().encode('demo-secret-demo-secret-demo-secret'));
    const { client } = await connect({ Authorization: `Bearer ${token}`, 'X-Request-Id': 'req-1' });
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toMatchObject({
      authenticated: true,
      claims: { sub: 'person-123', email: 'alice@example.com', groups: ['eng'], act: { sub: 'claude-code' } },
      headers: { authorization: '[redacted]', 'x-request-id': 'req-1' },
    });
    expect(JSON.stringify(result)).not.toContain(token);
  });

  it('whoami without a token says so', async () => {
    const { client } = await connect();
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toMatchObject({ authenticated: false, claims: null });
  });

  it('keeps stateful sessions: GET opens the SSE stream, DELETE ends the session', async () => {
    const post = (body: unknown, sessionId?: string) =>
      fetch(demo.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
        },
        body: JSON.stringify(body),
      });
    const init = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.body?.cancel();
    expect(sessionId).toEqual(expect.any(String));
    (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId)).body?.cancel();

    const stream = await fetch(demo.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    await stream.body?.cancel();

    const ended = await fetch(demo.url, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } });
    expect(ended.status).toBe(200);
    const after = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, sessionId);
    expect(after.status).toBe(404);
    await after.body?.cancel();
  });

  it('is reachable through the Gatehouse upstream adapter, which speaks MCP 2026-07-28 to it (no session to keep)', async () => {
    const upstream = createMcpUpstream(
      { id: 'demo', url: demo.url, connectTimeoutMs: 5_000, callTimeoutMs: 5_000 },
      { logger: pino({ level: 'silent' }) },
    );
    try {
      const connection = await upstream.connect({ ownerKey: 'alice' });
      expect(connection.client.getProtocolEra()).toBe('modern');
      expect(connection.session).toBeUndefined();
      expect(await connection.client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).toMatchObject({ structuredContent: { sum: 2 } });
    } finally {
      await upstream.close();
    }
  });

  it('answers a 2026-07-28 client statelessly and a session-protocol client with a session, on one URL', async () => {
    const modern = new ModernClient({ name: 'modern', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await modern.connect(new ModernTransport(new URL(demo.url)));
    try {
      expect(modern.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect((await modern.listTools()).tools.map((tool) => tool.name).sort()).toEqual(['add', 'echo', 'get_time', 'whoami']);
      expect(await modern.callTool({ name: 'echo', arguments: { message: 'stateless' } })).toMatchObject({
        content: [{ text: 'stateless' }],
      });
    } finally {
      await modern.close();
    }
    const { client } = await connect();
    expect(client.getServerVersion()).toMatchObject({ name: 'gatehouse-demo' });
  });
});
