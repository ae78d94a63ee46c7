import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { localhostHostValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import { StreamableHTTPServerTransport, type EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ElicitRequest,
  type GetPromptResult,
  type JSONRPCMessage,
  type LoggingLevel,
  type ReadResourceResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';

/**
 * A conformant upstream for the `@modelcontextprotocol/conformance` `server` scenarios: the
 * tools, resources, prompts, completion and logging those scenarios call by name (the
 * "everything" server the suite describes), written on the SDK's low-level `Server` so that
 * what it lists is exactly what the scenarios check (e.g. a raw JSON Schema 2020-12 input
 * schema). Stateful Streamable HTTP with an event store (SSE priming events, resumption) on
 * 127.0.0.1, rejecting non-localhost Host headers (DNS rebinding protection).
 */

/** A 1×1 PNG. */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** A WAV file: 8 kHz mono 16-bit PCM, one silent sample. */
function wavBase64(): string {
  const data = Buffer.alloc(2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000 * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]).toString('base64');
}
const WAV_BASE64 = wavBase64();

const NO_ARGUMENTS = { type: 'object', properties: {} } as const;

/** SEP-1613/SEP-2106: a raw JSON Schema 2020-12 input schema that must survive tools/list as written. */
export const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: { address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keywords, not a promise.
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
} as const;

const TOOLS: Tool[] = [
  { name: 'test_simple_text', description: 'Returns simple text content', inputSchema: NO_ARGUMENTS },
  { name: 'test_image_content', description: 'Returns image content', inputSchema: NO_ARGUMENTS },
  { name: 'test_audio_content', description: 'Returns audio content', inputSchema: NO_ARGUMENTS },
  { name: 'test_embedded_resource', description: 'Returns an embedded resource', inputSchema: NO_ARGUMENTS },
  { name: 'test_multiple_content_types', description: 'Returns text, image and resource content', inputSchema: NO_ARGUMENTS },
  { name: 'test_tool_with_logging', description: 'Sends log messages while it runs', inputSchema: NO_ARGUMENTS },
  { name: 'test_tool_with_progress', description: 'Reports progress while it runs', inputSchema: NO_ARGUMENTS },
  { name: 'test_error_handling', description: 'Always fails with a tool error', inputSchema: NO_ARGUMENTS },
  {
    name: 'test_reconnection',
    description: 'Closes its SSE stream mid-call and answers after the client reconnects (SEP-1699)',
    inputSchema: NO_ARGUMENTS,
  },
  {
    name: 'test_sampling',
    description: 'Asks the client for an LLM completion',
    inputSchema: {
      type: 'object',
      properties: { prompt: { type: 'string', description: 'The prompt to send to the LLM' } },
      required: ['prompt'],
    },
  },
  {
    name: 'test_elicitation',
    description: 'Asks the user for input',
    inputSchema: {
      type: 'object',
      properties: { message: { type: 'string', description: 'The message to show the user' } },
      required: ['message'],
    },
  },
  {
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicits a form whose fields have default values (SEP-1034)',
    inputSchema: NO_ARGUMENTS,
  },
  {
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicits a form with every enum schema variant (SEP-1330)',
    inputSchema: NO_ARGUMENTS,
  },
  {
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    inputSchema: JSON_SCHEMA_2020_12 as unknown as Tool['inputSchema'],
  },
];

const ELICITATION_FORMS: Record<string, ElicitRequest['params']> = {
  test_elicitation_sep1034_defaults: {
    mode: 'form',
    message: 'Please review the defaults',
    requestedSchema: {
      type: 'object',
      properties: {
        name: { type: 'string', description: 'User name', default: 'John Doe' },
        age: { type: 'integer', description: 'User age', default: 30 },
        score: { type: 'number', description: 'User score', default: 95.5 },
        status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
        verified: { type: 'boolean', description: 'Verification status', default: true },
      },
    },
  },
  test_elicitation_sep1330_enums: {
    mode: 'form',
    message: 'Please pick options',
    requestedSchema: {
      type: 'object',
      properties: {
        untitledSingle: { type: 'string', description: 'Pick one', enum: ['option1', 'option2', 'option3'] },
        titledSingle: {
          type: 'string',
          description: 'Pick one (titled)',
          oneOf: [
            { const: 'value1', title: 'First' },
            { const: 'value2', title: 'Second' },
            { const: 'value3', title: 'Third' },
          ],
        },
        legacyEnum: {
          type: 'string',
          description: 'Pick one (legacy titles)',
          enum: ['opt1', 'opt2', 'opt3'],
          enumNames: ['One', 'Two', 'Three'],
        },
        untitledMulti: {
          type: 'array',
          description: 'Pick several',
          minItems: 1,
          maxItems: 3,
          items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        },
        titledMulti: {
          type: 'array',
          description: 'Pick several (titled)',
          minItems: 1,
          maxItems: 3,
          items: {
            anyOf: [
              { const: 'value1', title: 'First' },
              { const: 'value2', title: 'Second' },
              { const: 'value3', title: 'Third' },
            ],
          },
        },
      },
    },
  },
};

const RESOURCES = [
  { uri: 'test://static-text', name: 'static-text', title: 'Static text', description: 'A static text resource', mimeType: 'text/plain' },
  {
    uri: 'test://static-binary',
    name: 'static-binary',
    title: 'Static binary',
    description: 'A static binary resource (PNG)',
    mimeType: 'image/png',
  },
  {
    uri: 'test://watched-resource',
    name: 'watched-resource',
    title: 'Watched resource',
    description: 'A resource clients may subscribe to',
    mimeType: 'text/plain',
  },
];

const PROMPTS = [
  { name: 'test_simple_prompt', description: 'A prompt without arguments' },
  {
    name: 'test_prompt_with_arguments',
    description: 'A prompt with two required arguments',
    arguments: [
      { name: 'arg1', description: 'First argument', required: true },
      { name: 'arg2', description: 'Second argument', required: true },
    ],
  },
  {
    name: 'test_prompt_with_embedded_resource',
    description: 'A prompt embedding a resource',
    arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
  },
  { name: 'test_prompt_with_image', description: 'A prompt with an image' },
];

const text = (value: string) => ({ type: 'text' as const, text: value });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function createServer(state: { subscriptions: Set<string> }): Server {
  const server = new Server(
    { name: 'conformance-everything', version: '1.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
    },
  );
  let logLevel: LoggingLevel = 'info';

  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case 'test_simple_text':
        return { content: [text('This is a simple text response for testing.')] };
      case 'test_image_content':
        return { content: [{ type: 'image', data: PNG_BASE64, mimeType: 'image/png' }] };
      case 'test_audio_content':
        return { content: [{ type: 'audio', data: WAV_BASE64, mimeType: 'audio/wav' }] };
      case 'test_embedded_resource':
        return {
          content: [
            {
              type: 'resource',
              resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' },
            },
          ],
        };
      case 'test_multiple_content_types':
        return {
          content: [
            text('Multiple content types test:'),
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
        };
      case 'test_tool_with_logging':
        for (const [index, message] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
          if (index > 0) await sleep(50);
          await extra.sendNotification({
            method: 'notifications/message',
            params: { level: 'info', logger: 'conformance-everything', data: message },
          });
        }
        return { content: [text('Tool with logging executed successfully')] };
      case 'test_tool_with_progress': {
        const progressToken = request.params._meta?.progressToken;
        for (const progress of [0, 50, 100]) {
          if (progress > 0) await sleep(50);
          if (progressToken !== undefined) {
            await extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress, total: 100, message: `Completed ${progress} of 100` },
            });
          }
        }
        return { content: [text(String(progressToken ?? 'no progress token'))] };
      }
      case 'test_error_handling':
        return { isError: true, content: [text('This tool intentionally returns an error for testing')] };
      case 'test_reconnection':
        // SEP-1699: end the POST stream now (the client polls with Last-Event-ID), answer later.
        extra.closeSSEStream?.();
        await sleep(100);
        return { content: [text('Reconnection test completed successfully.')] };
      case 'test_sampling': {
        const result = await extra.sendRequest(
          {
            method: 'sampling/createMessage',
            params: { messages: [{ role: 'user', content: text(String(args.prompt ?? '')) }], maxTokens: 100 },
          },
          CreateMessageResultSchema,
        );
        const content = Array.isArray(result.content) ? result.content[0] : result.content;
        return { content: [text(`LLM response: ${content?.type === 'text' ? content.text : '(not text)'}`)] };
      }
      case 'test_elicitation':
      case 'test_elicitation_sep1034_defaults':
      case 'test_elicitation_sep1330_enums': {
        const params: ElicitRequest['params'] = ELICITATION_FORMS[request.params.name] ?? {
          mode: 'form',
          message: String(args.message ?? ''),
          requestedSchema: {
            type: 'object',
            properties: { response: { type: 'string', description: "The user's response" } },
            required: ['response'],
          },
        };
        try {
          const result = await extra.sendRequest({ method: 'elicitation/create', params }, ElicitResultSchema);
          return { content: [text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
        } catch (error) {
          // The client may refuse the answer (e.g. it fails the requested schema): still a result.
          return { content: [text(`Elicitation failed: ${(error as Error).message}`)] };
        }
      }
      case 'json_schema_2020_12_tool':
        return { content: [text(`json_schema_2020_12_tool called with ${JSON.stringify(args)}`)] };
      default:
        throw new McpError(ErrorCode.InvalidParams, `unknown tool "${request.params.name}"`);
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: RESOURCES }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: 'test://template/{id}/data',
        name: 'template',
        title: 'Template',
        description: 'Data for an id',
        mimeType: 'application/json',
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (request): ReadResourceResult => {
    const { uri } = request.params;
    if (uri === 'test://static-text')
      return { contents: [{ uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }] };
    if (uri === 'test://static-binary') return { contents: [{ uri, mimeType: 'image/png', blob: PNG_BASE64 }] };
    if (uri === 'test://watched-resource') return { contents: [{ uri, mimeType: 'text/plain', text: 'Watched resource content' }] };
    const template = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
    if (template)
      return {
        contents: [
          {
            uri,
            mimeType: 'application/json',
            text: JSON.stringify({ id: template[1], templateTest: true, data: `Data for ID: ${template[1]}` }),
          },
        ],
      };
    throw new McpError(-32002, `resource not found: ${uri}`, { uri });
  });
  server.setRequestHandler(SubscribeRequestSchema, (request) => {
    state.subscriptions.add(request.params.uri);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    state.subscriptions.delete(request.params.uri);
    return {};
  });

  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: PROMPTS }));
  server.setRequestHandler(GetPromptRequestSchema, (request): GetPromptResult => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case 'test_simple_prompt':
        return { messages: [{ role: 'user', content: text('This is a simple prompt for testing.') }] };
      case 'test_prompt_with_arguments':
        return { messages: [{ role: 'user', content: text(`Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`) }] };
      case 'test_prompt_with_embedded_resource':
        return {
          messages: [
            {
              role: 'user',
              content: {
                type: 'resource',
                resource: {
                  uri: args.resourceUri ?? 'test://example-resource',
                  mimeType: 'text/plain',
                  text: 'Embedded resource content for testing.',
                },
              },
            },
            { role: 'user', content: text('Please process the embedded resource above.') },
          ],
        };
      case 'test_prompt_with_image':
        return {
          messages: [
            { role: 'user', content: { type: 'image', data: PNG_BASE64, mimeType: 'image/png' } },
            { role: 'user', content: text('Please analyze the image above.') },
          ],
        };
      default:
        throw new McpError(ErrorCode.InvalidParams, `unknown prompt "${request.params.name}"`);
    }
  });

  server.setRequestHandler(CompleteRequestSchema, (request) => {
    const candidates = request.params.ref.type === 'ref/prompt' ? ['test', 'testing', 'testValue1', 'testValue2'] : ['1', '123', '42'];
    const values = candidates.filter((value) => value.startsWith(request.params.argument.value));
    return { completion: { values, total: values.length, hasMore: false } };
  });

  server.setRequestHandler(SetLevelRequestSchema, (request) => {
    logLevel = request.params.level;
    void logLevel;
    return {};
  });
  return server;
}

/** Events of every session's SSE streams, for clients that resume with Last-Event-ID. */
function memoryEventStore(): EventStore {
  const events: Array<{ id: string; streamId: string; message: JSONRPCMessage }> = [];
  return {
    async storeEvent(streamId, message) {
      const id = `${streamId}_${events.length.toString().padStart(8, '0')}`;
      events.push({ id, streamId, message });
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return events.find((event) => event.id === eventId)?.streamId;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const index = events.findIndex((event) => event.id === lastEventId);
      if (index < 0) return '';
      const { streamId } = events[index]!;
      for (const event of events.slice(index + 1)) {
        // The empty message is a priming event: nothing to replay.
        if (event.streamId === streamId && Object.keys(event.message).length > 0) await send(event.id, event.message);
      }
      return streamId;
    },
  };
}

export interface ConformanceServer {
  /** The MCP endpoint, `http://127.0.0.1:{port}/mcp` (the DNS rebinding scenario needs a loopback URL). */
  url: string;
  close(): Promise<void>;
}

export async function startConformanceServer(): Promise<ConformanceServer> {
  const app = express();
  const state = { subscriptions: new Set<string>() };
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const eventStore = memoryEventStore();
  app.use(localhostHostValidation());
  app.use(express.json());
  app.all('/mcp', async (req, res) => {
    const id = req.get('mcp-session-id');
    let transport = id === undefined ? undefined : sessions.get(id);
    if (!transport) {
      if (id !== undefined)
        return void res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      if (req.method !== 'POST' || (req.body as { method?: string } | undefined)?.method !== 'initialize') {
        return void res
          .status(400)
          .json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' }, id: null });
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore,
        retryInterval: 1_000,
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, created),
        onsessionclosed: (sessionId) => void sessions.delete(sessionId),
      });
      await createServer(state).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      await Promise.allSettled([...sessions.values()].map((transport) => transport.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
