/**
 * Fuzzing the JSON-RPC endpoints (`/mcp`, the aggregate, and `/mcp/{id}`, relayed) with fast-check.
 *
 * Inputs start from valid MCP messages (initialize, tools/call, list requests, notifications,
 * responses, batches) and edit them: method, id (types, duplicates), `jsonrpc`, params replaced
 * by arbitrary JSON, the 2026 `_meta` envelope, the serialized text itself, and the headers
 * (session id, protocol version, Accept, Content-Type, Origin, the bearer token). Whatever the
 * input: never a 5xx, the portal keeps answering, every answer is JSON-RPC, the agent's token
 * never reaches the upstream, and a message that is not valid JSON-RPC 2.0 is never relayed.
 *
 * Replay a failure with the command its message prints:
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npm test -- test/fuzz/mcp.test.ts -t '<target>:'
 * FUZZ_SEED alone reruns every target with that seed; FUZZ_RUNS=20 runs twenty times as many inputs.
 */
import fc from 'fast-check';
import { authorizedToken } from '../helpers/agent.js';
import { applyEdit, changed, fuzz, FUZZ_TIMEOUT_MS, FuzzTally, headerValue, nastyText, oneIn, stringEdit } from '../helpers/fuzz.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { MCP_HEADERS } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const tally = new FuzzTally('test/fuzz/mcp.test.ts');
const PROTOCOL = '2025-06-18';
const METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'server/discover',
  'subscriptions/listen',
  'tasks/get',
];

/** What a generated message is made of; `params` of `undefined` keeps the method's valid params. */
interface MessagePlan {
  kind: 'request' | 'notification' | 'response';
  method: string;
  id: unknown;
  jsonrpc: unknown;
  params:
    | { kind: 'keep' }
    | { kind: 'drop' }
    | { kind: 'replace'; value: unknown }
    | { kind: 'set'; key: string; value: unknown }
    | { kind: 'meta'; version: string };
  result: unknown;
}

const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nastyText);
const messagePlan: fc.Arbitrary<MessagePlan> = fc.record({
  kind: fc.constantFrom<MessagePlan['kind']>('request', 'request', 'request', 'request', 'notification', 'response'),
  method: fc.oneof(
    { arbitrary: fc.constantFrom(...METHODS), weight: 8 },
    stringEdit.map((edit) => applyEdit('tools/call', edit)),
    nastyText,
  ),
  id: fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 5 }), weight: 12 },
    fc.constantFrom('1', 'a', '', null, undefined, 1.5, -1, 1e300, true, {}, [], [1]),
    nastyText,
  ),
  jsonrpc: fc.oneof({ arbitrary: fc.constant('2.0'), weight: 16 }, fc.constantFrom('1.0', '2', 2, null, undefined, '2.0 ')),
  params: fc.oneof(
    { arbitrary: fc.constant({ kind: 'keep' as const }), weight: 8 },
    fc.constant({ kind: 'drop' as const }),
    fc.record({ kind: fc.constant('replace' as const), value: jsonish }),
    fc.record({
      kind: fc.constant('set' as const),
      key: fc.oneof(fc.constantFrom('name', 'arguments', 'uri', 'cursor', 'protocolVersion', 'requestId', '_meta'), nastyText),
      value: jsonish,
    }),
    fc.record({
      kind: fc.constant('meta' as const),
      version: fc.oneof(fc.constantFrom('2026-07-28', '2025-06-18', '2099-01-01', ''), nastyText),
    }),
  ),
  result: fc.oneof({ arbitrary: fc.constant({}), weight: 3 }, fc.constant({ error: { code: -32603, message: 'x' } }), jsonish),
});

/** A body: one message or a batch, possibly reusing an id, possibly with its text edited. */
const bodyPlan = fc.record({
  messages: fc.array(messagePlan, { minLength: 1, maxLength: 3 }),
  batch: fc.boolean(),
  duplicateId: fc.boolean(),
  text: oneIn(6, stringEdit),
});

/** Header edits: which session, protocol version, Accept, Content-Type, Origin and token to send. */
const headerPlan = fc.record({
  session: fc.oneof(
    { arbitrary: fc.constant('own' as const), weight: 12 },
    fc.constantFrom('none' as const, 'other-endpoint' as const, 'unknown' as const),
  ),
  version: fc.oneof({ arbitrary: fc.constant(PROTOCOL), weight: 12 }, fc.constantFrom(undefined, '2026-07-28', '2024-11-05', 'garbage')),
  accept: fc.oneof(
    { arbitrary: fc.constant(MCP_HEADERS.accept), weight: 12 },
    fc.constantFrom(undefined, 'application/json', 'text/event-stream', '*/*', 'text/html'),
  ),
  contentType: fc.oneof(
    { arbitrary: fc.constant('application/json'), weight: 12 },
    fc.constantFrom(
      undefined,
      'text/plain',
      'application/json; charset=latin1',
      'application/x-www-form-urlencoded',
      'application/merge-patch+json',
    ),
  ),
  origin: oneIn(12, fc.constantFrom('https://evil.example', 'null', 'http://127.0.0.1')),
  token: oneIn(12, stringEdit),
  mcpHeaders: oneIn(8, fc.record({ method: fc.oneof(fc.constantFrom(...METHODS), nastyText), name: fc.option(nastyText) })),
});

describe('fuzzing the JSON-RPC endpoints', () => {
  let recorder: RecordingServer;
  let portal: TestPortal;
  const endpoints: Record<string, { token: string; session: string; tool: string }> = {};

  beforeAll(async () => {
    recorder = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'recorder', kind: 'mcp', url: recorder.url, connect_timeout: '2s', call_timeout: '2s' }],
      },
    });
    for (const [path, tool] of [
      ['/mcp', 'recorder__echo'],
      ['/mcp/recorder', 'echo'],
    ] as const) {
      const token = await authorizedToken(portal.url, ALICE, path);
      endpoints[path] = { token, session: await openSession(path, token), tool };
    }
  });
  afterEach(async () => {
    expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
  });
  afterAll(async () => {
    tally.print();
    await portal?.close();
    await recorder?.close();
  });

  async function openSession(path: string, token: string): Promise<string> {
    const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } },
    };
    const res = await fetch(`${portal.url}${path}`, { method: 'POST', headers, body: JSON.stringify(init) });
    const session = res.headers.get('mcp-session-id')!;
    await res.text();
    const initialized = await fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': PROTOCOL },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    await initialized.text();
    return session;
  }

  /** The message `plan` describes, for the endpoint whose tool is named `tool`. */
  function message(plan: MessagePlan, tool: string): Record<string, unknown> {
    const validParams: Record<string, Record<string, unknown>> = {
      initialize: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } },
      'tools/call': { name: tool, arguments: { message: 'fuzz' } },
      'resources/read': { uri: 'gatehouse+recorder+test://x' },
      'prompts/get': { name: 'p' },
      'notifications/cancelled': { requestId: 1 },
      'subscriptions/listen': { notifications: { toolsListChanged: true } },
    };
    let params: unknown = validParams[plan.method] ?? {};
    const edit = plan.params;
    if (edit.kind === 'drop') params = undefined;
    else if (edit.kind === 'replace') params = edit.value;
    else if (edit.kind === 'set') params = { ...(params as object), [edit.key]: edit.value };
    else if (edit.kind === 'meta')
      params = {
        ...(params as object),
        _meta: {
          'io.modelcontextprotocol/protocolVersion': edit.version,
          'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      };
    const out: Record<string, unknown> = { jsonrpc: plan.jsonrpc };
    if (plan.kind === 'response') {
      out.id = plan.id;
      Object.assign(
        out,
        typeof plan.result === 'object' && plan.result !== null && 'error' in plan.result ? plan.result : { result: plan.result },
      );
    } else {
      out.method = plan.method;
      if (params !== undefined) out.params = params;
      if (plan.kind === 'request') out.id = plan.id;
    }
    return out;
  }

  /** Reads an answer: a JSON body, or an event stream's events until it ends or goes quiet. */
  async function answerOf(res: Response): Promise<unknown[]> {
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('text/event-stream')) {
      const reader = res.body!.getReader();
      let text = '';
      const deadline = Date.now() + 500;
      while (Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100))]);
        if (chunk === undefined) continue;
        if (chunk.done) break;
        text += Buffer.from(chunk.value).toString();
      }
      await reader.cancel().catch(() => {});
      return [...text.matchAll(/^data: (.*)$/gm)].map((match) => JSON.parse(match[1]!) as unknown);
    }
    const text = await res.text();
    if (!text) return [];
    expect(type).toMatch(/^application\/json/);
    return ([] as unknown[]).concat(JSON.parse(text));
  }

  for (const path of ['/mcp', '/mcp/recorder']) {
    test(
      `${path}: never a 5xx, always JSON-RPC, nothing invalid relayed, the agent's token never forwarded`,
      async () => {
        const own = endpoints[path]!;
        const other = endpoints[path === '/mcp' ? '/mcp/recorder' : '/mcp']!;
        await fuzz(
          tally,
          path,
          fc.record({ body: bodyPlan, headers: headerPlan }),
          async ({ body, headers }) => {
            const messages = body.messages.map((plan) => message(plan, own.tool));
            if (body.duplicateId && messages.length > 1) messages[1]!.id = messages[0]!.id;
            const envelope = body.batch ? messages : messages[0];
            const text = body.text ? changed(JSON.stringify(envelope), body.text) : JSON.stringify(envelope);
            const token = headers.token === null ? own.token : headerValue(changed(own.token, headers.token));
            const sent: Record<string, string> = { authorization: `Bearer ${token}` };
            const session = {
              own: own.session,
              none: undefined,
              'other-endpoint': other.session,
              unknown: '00000000-0000-4000-8000-000000000000',
            }[headers.session];
            if (session) sent['mcp-session-id'] = session;
            if (headers.version) sent['mcp-protocol-version'] = headers.version;
            if (headers.accept) sent.accept = headers.accept;
            if (headers.contentType) sent['content-type'] = headers.contentType;
            if (headers.origin !== null) sent.origin = headers.origin;
            if (headers.mcpHeaders) {
              sent['mcp-method'] = headerValue(headers.mcpHeaders.method);
              if (headers.mcpHeaders.name !== null) sent['mcp-name'] = headerValue(headers.mcpHeaders.name);
            }

            const requestsBefore = recorder.requests.length;
            const postsBefore = upstreamPosts(requestsBefore);
            const res = await fetch(`${portal.url}${path}`, { method: 'POST', headers: sent, body: text });
            expect(res.status).toBeLessThan(500);
            const answers = await answerOf(res);
            if (res.status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
            else for (const answer of answers) expect(answer).toMatchObject({ jsonrpc: '2.0' });

            for (const request of recorder.requests.slice(requestsBefore))
              expect(request.headers.authorization).not.toBe(`Bearer ${token}`);
            if (path === '/mcp/recorder' && !validJsonRpc(text)) {
              expect(res.status).toBeGreaterThanOrEqual(400);
              expect(upstreamPosts(requestsBefore)).toBe(postsBefore);
            }
          },
          300,
        );
      },
      FUZZ_TIMEOUT_MS,
    );
  }

  /** Message-carrying requests the upstream received since `from` (its GET streams come and go on their own). */
  function upstreamPosts(from: number): number {
    return recorder.requests.slice(from).filter((request) => request.method === 'POST').length;
  }
});

/**
 * Whether `text` is valid JSON-RPC 2.0 as MCP uses it: one message or a non-empty batch of them,
 * whose requests have a string method and a string or number id (never null in MCP), params an
 * object or array, responses exactly one of result and error, and no request id used twice.
 */
function validJsonRpc(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  if (messages.length === 0 || !messages.every(validMessage)) return false;
  const ids = messages.filter((m) => 'method' in m && 'id' in m).map((m) => `${typeof m.id}:${String(m.id)}`);
  return new Set(ids).size === ids.length;
}

function validMessage(message: unknown): message is Record<string, unknown> {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return false;
  const m = message as Record<string, unknown>;
  const id = (value: unknown) => typeof value === 'string' || typeof value === 'number';
  if (m.jsonrpc !== '2.0') return false;
  if ('method' in m) {
    if (typeof m.method !== 'string') return false;
    if ('params' in m && (typeof m.params !== 'object' || m.params === null)) return false;
    return !('id' in m) || id(m.id);
  }
  if (!('id' in m) || !(id(m.id) || m.id === null)) return false;
  if ('result' in m === 'error' in m) return false;
  if ('error' in m) {
    const error = m.error as { code?: unknown; message?: unknown } | null;
    return typeof error === 'object' && error !== null && Number.isInteger(error.code) && typeof error.message === 'string';
  }
  return true;
}
