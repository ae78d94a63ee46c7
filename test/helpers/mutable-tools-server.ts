import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { statefulMcpRoute } from './mcp-test-servers.js';

/** An MCP server (SDK `McpServer`, Streamable HTTP) whose tools the test redefines while it runs. */
export interface MutableToolsServer {
  url: string;
  /** Calls each tool received, by name. */
  calls: string[];
  /** Gives a tool a new description (added when new); every open session announces `list_changed`. */
  define(name: string, description: string): void;
  close(): Promise<void>;
}

export async function startMutableToolsServer(initial: Record<string, string>): Promise<MutableToolsServer> {
  const descriptions = new Map(Object.entries(initial));
  const calls: string[] = [];
  const live = new Set<{ server: McpServer; tools: Map<string, RegisteredTool> }>();
  const register = (server: McpServer, name: string) =>
    server.registerTool(name, { description: descriptions.get(name)!, inputSchema: { query: z.string().optional() } }, async () => {
      calls.push(name);
      return { content: [{ type: 'text', text: `${name} ran` }] };
    });

  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const app = express();
  app.use(express.json());
  app.all(
    '/mcp',
    statefulMcpRoute(sessions, () => {
      const server = new McpServer({ name: 'mutable', version: '1.0.0' });
      live.add({ server, tools: new Map([...descriptions.keys()].map((name) => [name, register(server, name)])) });
      return server;
    }),
  );
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    calls,
    define(name, description) {
      descriptions.set(name, description);
      for (const { server: session, tools } of live) {
        const known = tools.get(name);
        if (known) known.update({ description });
        else tools.set(name, register(session, name));
      }
    },
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
