import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  McpServer,
  acceptedContent,
  createMcpHandler,
  inputRequired,
  inputResponse,
  type CallToolResult,
  type InputRequiredResult,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/** An MCP server of the 2026-07-28 era (the v2 SDK, stateless) on 127.0.0.1, with the headers and bodies it received. */
export interface ModernMcpServer {
  url: string;
  requests: { method: string; headers: IncomingHttpHeaders; body: { method?: string; params?: Record<string, unknown> } | undefined }[];
  close(): Promise<void>;
}

/**
 * Tools `echo`, `where` (an `x-mcp-header` argument), `count` (progress on each step), `announce` (tools/list_changed to listeners),
 * `touch` (resources/updated of `modern://note` to listeners subscribed to it), `confirm` (asks the client through an
 * `input_required` elicitation) and `sample` (asks the client to sample through `input_required`), resource `modern://note`
 * (subscribable), prompts `hello` and `greeting` (asks a name through `input_required`). `legacy: 'reject'`
 * (the default) serves MCP 2026-07-28 only; `'stateless'` also serves 2025-era requests.
 * `toolsCacheHint` is the `ttlMs`/`cacheScope` its `tools/list` answers carry. `listenDelayMs` holds each
 * `subscriptions/listen` that long before serving it (an upstream slow to set a subscription up).
 */
export async function startModernMcpServer(
  options: {
    legacy?: 'reject' | 'stateless';
    toolsCacheHint?: { ttlMs: number; cacheScope: 'public' | 'private' };
    listenDelayMs?: number;
  } = {},
): Promise<ModernMcpServer> {
  // `announce` tells every listening client that the tools changed, `touch` that the note changed (the entry's own bus).
  let announce = () => {};
  let touch = () => {};
  const handler = createMcpHandler(
    () => {
      const server = new McpServer(
        { name: 'modern-upstream', version: '2.0.0' },
        {
          capabilities: {
            tools: { listChanged: true },
            resources: { subscribe: true },
            prompts: {},
            extensions: { 'io.modelcontextprotocol/ui': {} },
          },
          instructions: 'A 2026-era upstream.',
          cacheHints: options.toolsCacheHint ? { 'tools/list': options.toolsCacheHint } : undefined,
        },
      );
      server.registerTool('echo', { inputSchema: z.object({ message: z.string() }) }, async ({ message }) => ({
        content: [{ type: 'text', text: message }],
      }));
      server.registerTool('count', { inputSchema: z.object({ steps: z.number() }) }, async ({ steps }, ctx) => {
        const progressToken = ctx.mcpReq._meta?.progressToken;
        for (let step = 1; step <= steps; step++) {
          if (progressToken !== undefined)
            await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress: step, total: steps } });
        }
        return { content: [{ type: 'text', text: `counted ${steps}` }] };
      });
      server.registerTool(
        'confirm',
        { inputSchema: z.object({ action: z.string() }) },
        async ({ action }, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', z.object({ ok: z.boolean() }));
          if (answer === undefined) {
            return inputRequired({
              inputRequests: {
                confirm: inputRequired.elicit({ message: `Really ${action}?`, requestedSchema: z.object({ ok: z.boolean() }) }),
              },
            });
          }
          return { content: [{ type: 'text', text: answer.ok ? `${action}: done` : `${action}: declined` }] };
        },
      );
      // `region` is mirrored into the `Mcp-Param-Region` header by 2026 clients (SEP-2243), which this server checks.
      server.registerTool(
        'where',
        { inputSchema: z.object({ region: z.string().meta({ 'x-mcp-header': 'Region' }) }) },
        async ({ region }) => ({ content: [{ type: 'text', text: `in ${region}` }] }),
      );
      server.registerTool('announce', { inputSchema: z.object({}) }, async () => {
        announce();
        return { content: [{ type: 'text', text: 'announced' }] };
      });
      server.registerTool('touch', { inputSchema: z.object({}) }, async () => {
        touch();
        return { content: [{ type: 'text', text: 'touched' }] };
      });
      // Asks the client for a completion first (an input_required sampling request), then answers with it.
      server.registerTool(
        'sample',
        { inputSchema: z.object({ prompt: z.string() }) },
        async ({ prompt }, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const answer = inputResponse(ctx.mcpReq.inputResponses, 'draft');
          if (answer.kind !== 'sampling') {
            return inputRequired({
              inputRequests: {
                draft: inputRequired.createMessage({
                  messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
                  maxTokens: 10,
                }),
              },
            });
          }
          const { content } = answer.result;
          const text = !Array.isArray(content) && content.type === 'text' ? content.text : '';
          return { content: [{ type: 'text', text: `sampled: ${text}` }] };
        },
      );
      server.registerResource('note', 'modern://note', { mimeType: 'text/plain' }, async (uri) => ({
        contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'a note from 2026' }],
      }));
      // Asks for the reader's name first (an input_required elicitation on prompts/get).
      server.registerPrompt('greeting', {}, (ctx) => {
        const answer = acceptedContent(ctx.mcpReq.inputResponses, 'who', z.object({ name: z.string() }));
        if (answer === undefined)
          return inputRequired({
            inputRequests: { who: inputRequired.elicit({ message: 'Your name?', requestedSchema: z.object({ name: z.string() }) }) },
          });
        return { messages: [{ role: 'user', content: { type: 'text', text: `Greetings, ${answer.name}` } }] };
      });
      server.registerPrompt('hello', { argsSchema: z.object({ name: z.string() }) }, ({ name }) => ({
        messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}` } }],
      }));
      return server;
    },
    { legacy: options.legacy ?? 'reject' },
  );
  announce = () => handler.notify.toolsChanged();
  touch = () => handler.notify.resourceUpdated('modern://note');
  const node = toNodeHandler(handler);
  const requests: ModernMcpServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      let body: ModernMcpServer['requests'][number]['body'];
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      requests.push({ method: req.method ?? '', headers: req.headers, body });
      const delayMs = body?.method === 'subscriptions/listen' ? (options.listenDelayMs ?? 0) : 0;
      setTimeout(() => void node(req, res, body), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    async close() {
      await handler.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
