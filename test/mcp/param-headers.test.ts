import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { authorizedToken, connectModernAgent } from '../helpers/agent.js';
import { statefulMcpRoute } from '../helpers/mcp-test-servers.js';
import { MCP_HEADERS, toolText } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A 2025 upstream (SDK v1, sessions) whose tool `deploy` mirrors `region` and `replicas` into `Mcp-Param-*` headers. */
async function startDeployServer() {
  const calls: Array<{ arguments: Record<string, unknown> }> = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const newServer = () => {
    const mcp = new McpServer({ name: 'deployer', version: '1.0.0' }, { capabilities: { tools: {} } });
    mcp.server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [
        {
          name: 'deploy',
          inputSchema: {
            type: 'object' as const,
            properties: {
              region: { type: 'string', 'x-mcp-header': 'Region' },
              replicas: { type: 'integer', 'x-mcp-header': 'Replicas' },
              note: { type: 'string' },
            },
            required: ['region'],
          },
        },
      ],
    }));
    mcp.server.setRequestHandler(CallToolRequestSchema, async (request) => {
      calls.push({ arguments: request.params.arguments ?? {} });
      return { content: [{ type: 'text', text: `deployed to ${String(request.params.arguments?.region)}` }] };
    });
    return mcp;
  };
  const app = express();
  app.use(express.json());
  app.all('/mcp', statefulMcpRoute(sessions, newServer));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    calls,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A 2026 agent's `Mcp-Param-*` headers on the paths the portal serves itself (all of `/mcp`, and
 * `/mcp/{id}` over a 2025 upstream): checked against the call's arguments by the `x-mcp-header`
 * declarations of the upstream's tool. A disagreement, a missing header or a malformed one is
 * HeaderMismatch (-32020, HTTP 400) and the call never reaches the upstream; agreeing headers
 * (as the v2 SDK client derives them, or in the Base64 form) pass.
 */
describe("a 2026 agent's Mcp-Param headers on the SDK path", () => {
  let upstream: Awaited<ReturnType<typeof startDeployServer>>;
  let portal: TestPortal;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    upstream = await startDeployServer();
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'deployer', kind: 'mcp', url: upstream.url }] },
    });
    tokens['/mcp'] = await authorizedToken(portal.url, ALICE, '/mcp');
    tokens['/mcp/deployer'] = await authorizedToken(portal.url, ALICE, '/mcp/deployer');
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  const nameAt = (path: string) => (path === '/mcp' ? 'deployer__deploy' : 'deploy');

  async function call(path: string, params: Record<string, string>, args: Record<string, unknown>) {
    const before = upstream.calls.length;
    const name = nameAt(path);
    const response = await fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${tokens[path]}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': name,
        ...params,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: randomUUID(), method: 'tools/call', params: { name, arguments: args, _meta: ENVELOPE } }),
    });
    const text = await response.text();
    const body = text.startsWith('{')
      ? JSON.parse(text)
      : JSON.parse(
          text
            .split('\n')
            .find((line) => line.startsWith('data: '))!
            .slice(6),
        );
    return {
      status: response.status,
      body: body as { error?: { code: number; message: string }; result?: unknown },
      reachedUpstream: upstream.calls.length > before,
    };
  }

  test.each(['/mcp', '/mcp/deployer'])(
    '%s: a header that disagrees with its argument is HeaderMismatch, and nothing is called',
    async (path) => {
      const answer = await call(path, { 'mcp-param-region': 'us-east', 'mcp-param-replicas': '3' }, { region: 'eu-west', replicas: 3 });
      expect(answer).toMatchObject({ status: 400, body: { error: { code: -32020 } }, reachedUpstream: false });
      expect(answer.body.error!.message).toContain('Mcp-Param-Region');
    },
  );

  test.each(['/mcp', '/mcp/deployer'])(
    '%s: a missing header for an argument the body carries, or a malformed Base64 one, is HeaderMismatch',
    async (path) => {
      expect(await call(path, { 'mcp-param-region': 'eu-west' }, { region: 'eu-west', replicas: 3 })).toMatchObject({
        status: 400,
        body: { error: { code: -32020 } },
        reachedUpstream: false,
      });
      expect(await call(path, { 'mcp-param-region': '=?base64?not base64?=' }, { region: 'eu-west' })).toMatchObject({
        status: 400,
        body: { error: { code: -32020 } },
        reachedUpstream: false,
      });
    },
  );

  test.each(['/mcp', '/mcp/deployer'])(
    '%s: agreeing headers pass (numbers as numbers, the Base64 form decoded; an absent argument needs none)',
    async (path) => {
      const answer = await call(
        path,
        { 'mcp-param-region': `=?base64?${Buffer.from('eu-west').toString('base64')}?=`, 'mcp-param-replicas': '3.0' },
        { region: 'eu-west', replicas: 3 },
      );
      expect(answer).toMatchObject({ status: 200, reachedUpstream: true });
      expect(toolText(answer.body.result)).toBe('deployed to eu-west');
      expect(await call(path, { 'mcp-param-region': 'eu-west' }, { region: 'eu-west' })).toMatchObject({
        status: 200,
        reachedUpstream: true,
      });
    },
  );

  test.each(['/mcp', '/mcp/deployer'])("%s: the v2 SDK client's own headers pass", async (path) => {
    const agent = await connectModernAgent(portal.url, ALICE, { path, token: tokens[path] });
    try {
      await agent.client.listTools();
      const result = await agent.client.callTool({ name: nameAt(path), arguments: { region: 'ap-south', replicas: 2 } });
      expect(toolText(result)).toBe('deployed to ap-south');
      expect(upstream.calls.at(-1)!.arguments).toEqual({ region: 'ap-south', replicas: 2 });
    } finally {
      await agent.client.close();
    }
  });
});
