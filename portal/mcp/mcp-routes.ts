import { Router, type RequestHandler } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthorizationServer } from '../oauth/authorization-server.js';

/**
 * `/mcp`: the aggregated MCP endpoint (Streamable HTTP), behind the bearer check with
 * `aud` = `{issuer}/mcp`. Each request is served statelessly for the signed-in person.
 */
export function mcpRoutes(deps: { oauth: AuthorizationServer; json: RequestHandler; version: string }): Router {
  const router = Router();
  const bearer = deps.oauth.requireBearer({ resource: () => deps.oauth.deps.resources.aggregate() });
  router.all('/mcp', bearer, deps.json, async (req, res) => {
    const server = new McpServer({ name: 'gatehouse', version: deps.version }, { capabilities: { tools: {} } });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  return router;
}
