// An MCP server over stdio that speaks 2026-07-28 (and the session protocol): the v2 SDK's serveStdio.
// Tool `era` answers with the protocol version the request came in.
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

serveStdio(() => {
  const server = new McpServer({ name: 'modern-stdio', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.registerTool('era', { description: 'The protocol version of this request' }, async (ctx) => {
    const version =
      ctx.mcpReq.envelope?.['io.modelcontextprotocol/protocolVersion'] ?? server.server.getNegotiatedProtocolVersion() ?? 'unknown';
    return { content: [{ type: 'text', text: String(version) }] };
  });
  return server;
});
