import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { localhostHostValidation, localhostOriginValidation, toNodeHandler } from '@modelcontextprotocol/node';
import {
  CLIENT_CAPABILITIES_META_KEY,
  McpServer,
  ResourceTemplate,
  acceptedContent,
  completable,
  createMcpHandler,
  createRequestStateCodec,
  fromJsonSchema,
  inputRequired,
  inputResponse,
  type CallToolResult,
  type ClientCapabilities,
  type GetPromptResult,
  type InputRequiredResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { JSON_SCHEMA_2020_12 } from './conformance-everything-server.js';

/**
 * A conformant MCP 2026-07-28 upstream for the `@modelcontextprotocol/conformance` `server`
 * scenarios of that revision: the tools, resources, prompts and completion those scenarios
 * call by name (the suite's reference "everything" server serves them from a hand-written
 * stateless dispatcher; this one is the v2 SDK's own `createMcpHandler`), including the
 * SEP-2322 `input_required` tools (requestState HMAC-sealed with the SDK's codec), a SEP-2243
 * `x-mcp-header` tool, the SEP-2575 diagnostic tools (`test_missing_capability`,
 * `test_streaming_elicitation`, `test_logging_tool`, list-change triggers for
 * `subscriptions/listen`) and SEP-2549 cache hints on every cacheable result. Stateless,
 * 2026-07-28 only (`legacy: 'reject'`), on 127.0.0.1, rejecting non-localhost Host and Origin
 * headers (DNS rebinding protection).
 */

/** A 1×1 PNG. */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
/** A WAV file: 8 kHz mono 16-bit PCM, one silent sample. */
const WAV_BASE64 = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA==';

/** Cache hints (SEP-2549) for every cacheable 2026-07-28 result. */
const PUBLIC_FIVE_MINUTES = { ttlMs: 300_000, cacheScope: 'public' } as const;
const CACHE_HINTS = {
  'server/discover': PUBLIC_FIVE_MINUTES,
  'tools/list': PUBLIC_FIVE_MINUTES,
  'prompts/list': PUBLIC_FIVE_MINUTES,
  'resources/list': PUBLIC_FIVE_MINUTES,
  'resources/templates/list': PUBLIC_FIVE_MINUTES,
  'resources/read': { ttlMs: 300_000, cacheScope: 'private' },
} as const;

const NO_ARGUMENTS = z.object({});
const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/** Elicitation forms the input_required tools ask for (and check the answers against). */
const VALUE = z.object({ value: z.string() });
const NAME = z.object({ name: z.string() });
const COLOR = z.object({ color: z.string() });
const OK = z.object({ ok: z.boolean() });
const CONTEXT = z.object({ context: z.string() });

/** The text of a sampling answer, when `key` holds one. */
function sampledText(ctx: ServerContext, key: string): string | undefined {
  const view = inputResponse(ctx.mcpReq.inputResponses, key);
  if (view.kind !== 'sampling') return undefined;
  const block = Array.isArray(view.result.content) ? view.result.content[0] : view.result.content;
  return block?.type === 'text' ? block.text : '';
}

/** The roots of a roots/list answer, when `key` holds one. */
function listedRoots(ctx: ServerContext, key: string): unknown[] | undefined {
  const view = inputResponse(ctx.mcpReq.inputResponses, key);
  return view.kind === 'roots' ? view.roots : undefined;
}

/** The capabilities the request declared in its `_meta` envelope. */
const declaredCapabilities = (ctx: ServerContext) =>
  (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;

type State =
  | { kind: 'request-state' | 'multiple-inputs' | 'tamper-test' }
  | { kind: 'multi-round'; round: 1 }
  | { kind: 'multi-round'; round: 2; name: string };

export interface Conformance2026Server {
  url: string;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 and a free port; `url` is its MCP endpoint. */
export async function startConformance2026Server(): Promise<Conformance2026Server> {
  // requestState is sealed (HMAC-SHA256, expiring) by the SDK's codec; its verify hook refuses a
  // tampered or expired state with -32602 before any handler runs.
  const state = createRequestStateCodec<State>({ key: randomBytes(32), ttlSeconds: 600 });
  let notify: ReturnType<typeof createMcpHandler>['notify'] | undefined;

  const handler = createMcpHandler(
    () => {
      const server = new McpServer(
        { name: 'conformance-2026-upstream', version: '1.0.0' },
        {
          capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: {} },
          cacheHints: CACHE_HINTS,
          requestState: { verify: state.verify },
        },
      );

      // ===== Tools (test_simple_text first: http-header-validation calls the first listed tool with no arguments) =====
      server.registerTool('test_simple_text', { description: 'Tests simple text content response', inputSchema: NO_ARGUMENTS }, async () =>
        text('This is a simple text response for testing.'),
      );
      server.registerTool('test_image_content', { description: 'Tests image content response', inputSchema: NO_ARGUMENTS }, async () => ({
        content: [{ type: 'image', data: PNG_BASE64, mimeType: 'image/png' }],
      }));
      server.registerTool('test_audio_content', { description: 'Tests audio content response', inputSchema: NO_ARGUMENTS }, async () => ({
        content: [{ type: 'audio', data: WAV_BASE64, mimeType: 'audio/wav' }],
      }));
      server.registerTool(
        'test_embedded_resource',
        { description: 'Tests embedded resource content response', inputSchema: NO_ARGUMENTS },
        async () => ({
          content: [
            {
              type: 'resource',
              resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' },
            },
          ],
        }),
      );
      server.registerTool(
        'test_multiple_content_types',
        { description: 'Tests response with multiple content types (text, image, resource)', inputSchema: NO_ARGUMENTS },
        async () => ({
          content: [
            { type: 'text', text: 'Multiple content types test:' },
            { type: 'image', data: PNG_BASE64, mimeType: 'image/png' },
            {
              type: 'resource',
              resource: {
                uri: 'test://mixed-content-resource',
                mimeType: 'application/json',
                text: JSON.stringify({ test: 'data', value: 123 }),
              },
            },
          ],
        }),
      );
      server.registerTool(
        'test_tool_with_progress',
        { description: 'Tests tool that reports progress notifications', inputSchema: NO_ARGUMENTS },
        async (_args, ctx) => {
          const progressToken = ctx.mcpReq._meta?.progressToken;
          for (const progress of [0, 50, 100]) {
            if (progressToken !== undefined)
              await ctx.mcpReq.notify({
                method: 'notifications/progress',
                params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` },
              });
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          return text(String(progressToken));
        },
      );
      server.registerTool('test_error_handling', { description: 'Tests error response handling', inputSchema: NO_ARGUMENTS }, async () => {
        throw new Error('This tool intentionally returns an error for testing');
      });
      server.registerTool(
        'json_schema_2020_12_tool',
        { description: 'Tool with JSON Schema 2020-12 features (SEP-1613, SEP-2106)', inputSchema: fromJsonSchema(JSON_SCHEMA_2020_12) },
        async (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
      );
      // SEP-2243: `greeting` is mirrored into the Mcp-Param-Greeting header, which the SDK checks against the body.
      server.registerTool(
        'test_x_mcp_header',
        {
          description: 'Echoes an argument that 2026 clients also send as the Mcp-Param-Greeting header (SEP-2243)',
          inputSchema: z.object({ greeting: z.string().meta({ 'x-mcp-header': 'Greeting' }) }),
        },
        async ({ greeting }) => text(`greeting: ${greeting}`),
      );

      // SEP-2575 diagnostics.
      server.registerTool(
        'test_missing_capability',
        { description: 'Requires the sampling client capability', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          // Asking for sampling from a client that did not declare it is refused by the SDK with -32021 (HTTP 400).
          if (sampledText(ctx, 'sample') !== undefined) return text('Success');
          return inputRequired({
            inputRequests: {
              sample: inputRequired.createMessage({
                messages: [{ role: 'user', content: { type: 'text', text: 'Say hello' } }],
                maxTokens: 20,
              }),
            },
          });
        },
      );
      server.registerTool(
        'test_streaming_elicitation',
        { description: 'Reports progress, then asks for input in its result (never a request on the stream)', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const progressToken = ctx.mcpReq._meta?.progressToken;
          if (progressToken !== undefined)
            await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress: 50, total: 100 } });
          if (acceptedContent(ctx.mcpReq.inputResponses, 'value', VALUE)) return text('Streaming complete');
          return inputRequired({ inputRequests: { value: inputRequired.elicit({ message: 'A value?', requestedSchema: VALUE }) } });
        },
      );
      server.registerTool(
        'test_logging_tool',
        { description: 'Logs at info level (sent only when the request sets _meta logLevel)', inputSchema: NO_ARGUMENTS },
        async (_args, ctx) => {
          await ctx.mcpReq.log('info', 'Diagnostic trace logging activated');
          return text('Logging evaluated');
        },
      );
      server.registerTool(
        'test_trigger_tool_change',
        { description: 'Announces a tools list change to subscriptions/listen streams', inputSchema: NO_ARGUMENTS },
        async () => {
          notify?.toolsChanged();
          return text('Mutation triggered');
        },
      );
      server.registerTool(
        'test_trigger_prompt_change',
        { description: 'Announces a prompts list change to subscriptions/listen streams', inputSchema: NO_ARGUMENTS },
        async () => {
          notify?.promptsChanged();
          return text('Mutation triggered');
        },
      );

      // ===== SEP-2322 input_required tools =====
      server.registerTool(
        'test_input_required_result_elicitation',
        { description: 'MRTR: asks for a name (elicitation)', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', NAME);
          if (answer) return text(`Hello, ${answer.name}!`);
          return inputRequired({
            inputRequests: { user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: NAME }) },
          });
        },
      );
      server.registerTool(
        'test_input_required_result_sampling',
        { description: 'MRTR: asks for an LLM completion (sampling)', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const answer = sampledText(ctx, 'sample_request');
          if (answer !== undefined) return text(`Sampling result: ${answer}`);
          return inputRequired({
            inputRequests: {
              sample_request: inputRequired.createMessage({
                messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
                maxTokens: 100,
              }),
            },
          });
        },
      );
      server.registerTool(
        'test_input_required_result_list_roots',
        { description: 'MRTR: asks for the client roots', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const roots = listedRoots(ctx, 'client_roots');
          if (roots) return text(`Found ${roots.length} root(s)`);
          return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
        },
      );
      server.registerTool(
        'test_input_required_result_request_state',
        { description: 'MRTR: asks for confirmation with requestState', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const confirmed = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', OK);
          if (ctx.mcpReq.requestState<State>()?.kind === 'request-state' && confirmed?.ok === true)
            return text('state-ok: requestState validated');
          return inputRequired({
            inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: OK }) },
            requestState: await state.mint({ kind: 'request-state' }),
          });
        },
      );
      server.registerTool(
        'test_input_required_result_multiple_inputs',
        { description: 'MRTR: asks for elicitation, sampling and roots at once', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const name = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', NAME);
          const greeting = sampledText(ctx, 'greeting');
          const roots = listedRoots(ctx, 'client_roots');
          if (ctx.mcpReq.requestState<State>()?.kind === 'multiple-inputs' && name && greeting !== undefined && roots) {
            return text(`Name: ${name.name}; Greeting: ${greeting}; Roots: ${roots.length}`);
          }
          return inputRequired({
            inputRequests: {
              user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: NAME }),
              greeting: inputRequired.createMessage({
                messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
                maxTokens: 50,
              }),
              client_roots: inputRequired.listRoots(),
            },
            requestState: await state.mint({ kind: 'multiple-inputs' }),
          });
        },
      );
      server.registerTool(
        'test_input_required_result_multi_round',
        { description: 'MRTR: two rounds of elicitation, state carried in requestState', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const previous = ctx.mcpReq.requestState<State>();
          if (previous?.kind === 'multi-round' && previous.round === 2) {
            const color = acceptedContent(ctx.mcpReq.inputResponses, 'step2', COLOR);
            if (color) return text(`Multi-round complete for ${previous.name} who likes ${color.color}`);
          }
          const name =
            previous?.kind === 'multi-round' && previous.round === 1
              ? acceptedContent(ctx.mcpReq.inputResponses, 'step1', NAME)
              : undefined;
          if (name || (previous?.kind === 'multi-round' && previous.round === 2)) {
            const who = name?.name ?? (previous as { name: string }).name;
            return inputRequired({
              inputRequests: { step2: inputRequired.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: COLOR }) },
              requestState: await state.mint({ kind: 'multi-round', round: 2, name: who }),
            });
          }
          return inputRequired({
            inputRequests: { step1: inputRequired.elicit({ message: 'Step 1: What is your name?', requestedSchema: NAME }) },
            requestState: await state.mint({ kind: 'multi-round', round: 1 }),
          });
        },
      );
      server.registerTool(
        'test_input_required_result_tampered_state',
        { description: 'MRTR: integrity-protected requestState', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          if (ctx.mcpReq.requestState<State>()?.kind === 'tamper-test' && acceptedContent(ctx.mcpReq.inputResponses, 'confirm', OK))
            return text('integrity-ok: state verified');
          return inputRequired({
            inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: OK }) },
            requestState: await state.mint({ kind: 'tamper-test' }),
          });
        },
      );
      server.registerTool(
        'test_input_required_result_capabilities',
        { description: 'MRTR: asks only for what the client declared it can answer', inputSchema: NO_ARGUMENTS },
        async (_args, ctx): Promise<CallToolResult | InputRequiredResult> => {
          const answered = Object.keys(ctx.mcpReq.inputResponses ?? {});
          if (answered.length > 0) return text(`capabilities-ok: received ${answered.join(',')}`);
          const capabilities = declaredCapabilities(ctx);
          const inputRequests = {
            ...(capabilities?.elicitation && {
              elicit_input: inputRequired.elicit({ message: 'Elicitation input', requestedSchema: VALUE }),
            }),
            ...(capabilities?.sampling && {
              sample_input: inputRequired.createMessage({
                messages: [{ role: 'user', content: { type: 'text', text: 'Sample request' } }],
                maxTokens: 50,
              }),
            }),
          };
          if (Object.keys(inputRequests).length === 0) return text('No supported capabilities declared');
          return inputRequired({ inputRequests });
        },
      );

      // ===== Resources =====
      server.registerResource(
        'static-text',
        'test://static-text',
        { title: 'Static Text Resource', description: 'A static text resource for testing', mimeType: 'text/plain' },
        async () => ({
          contents: [{ uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }],
        }),
      );
      server.registerResource(
        'static-binary',
        'test://static-binary',
        { title: 'Static Binary Resource', description: 'A static binary resource (image) for testing', mimeType: 'image/png' },
        async () => ({
          contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: PNG_BASE64 }],
        }),
      );
      server.registerResource(
        'template',
        new ResourceTemplate('test://template/{id}/data', { list: undefined }),
        { title: 'Resource Template', description: 'A resource template with parameter substitution', mimeType: 'application/json' },
        async (uri, { id }) => ({
          contents: [
            {
              uri: uri.toString(),
              mimeType: 'application/json',
              text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
            },
          ],
        }),
      );

      // ===== Prompts =====
      server.registerPrompt(
        'test_simple_prompt',
        { title: 'Simple Test Prompt', description: 'A simple prompt without arguments' },
        async () => ({
          messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
        }),
      );
      server.registerPrompt(
        'test_prompt_with_arguments',
        {
          title: 'Prompt With Arguments',
          description: 'A prompt with required arguments',
          argsSchema: z.object({
            arg1: completable(z.string().describe('First test argument'), (value) =>
              ['test', 'testing', 'tested'].filter((option) => option.startsWith(value)),
            ),
            arg2: z.string().describe('Second test argument'),
          }),
        },
        async ({ arg1, arg2 }) => ({
          messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }],
        }),
      );
      server.registerPrompt(
        'test_prompt_with_embedded_resource',
        {
          title: 'Prompt With Embedded Resource',
          description: 'A prompt that includes an embedded resource',
          argsSchema: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
        },
        async ({ resourceUri }) => ({
          messages: [
            {
              role: 'user',
              content: {
                type: 'resource',
                resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
              },
            },
            { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
          ],
        }),
      );
      server.registerPrompt(
        'test_prompt_with_image',
        { title: 'Prompt With Image', description: 'A prompt that includes image content' },
        async () => ({
          messages: [
            { role: 'user', content: { type: 'image', data: PNG_BASE64, mimeType: 'image/png' } },
            { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
          ],
        }),
      );
      server.registerPrompt(
        'test_input_required_result_prompt',
        { description: 'MRTR: a prompt that asks for context (elicitation)' },
        async (ctx: ServerContext): Promise<GetPromptResult | InputRequiredResult> => {
          const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_context', CONTEXT);
          if (answer) return { messages: [{ role: 'user', content: { type: 'text', text: `Prompt with context: ${answer.context}` } }] };
          return inputRequired({
            inputRequests: {
              user_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: CONTEXT }),
            },
          });
        },
      );
      return server;
    },
    { legacy: 'reject' },
  );
  notify = handler.notify;

  const node = toNodeHandler(handler);
  const validHost = localhostHostValidation();
  const validOrigin = localhostOriginValidation();
  const server = http.createServer((req, res) => {
    if (!validHost(req, res) || !validOrigin(req, res)) return;
    void node(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
