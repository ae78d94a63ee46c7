import { authorizedToken, connectModernAgent, type ModernAgent } from '../helpers/agent.js';
import { startEverythingServer, type ChildServer } from '../helpers/child-server.js';
import { lastMessage, MCP_HEADERS, toolText } from '../helpers/mcp-wire.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

const SAMPLING_TOOL = 'everything__trigger-sampling-request';

/** A 2026 agent's envelope: the capabilities are what the portal checks an upstream's request against. */
const envelope = (capabilities: Record<string, unknown>) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': capabilities,
});

interface Answer {
  status: number;
  result?: {
    resultType?: string;
    inputRequests?: Record<string, { method: string; params: Record<string, unknown> }>;
    requestState?: string;
    content?: { text?: string }[];
    isError?: boolean;
  };
  error?: { code: number; message: string };
}

/**
 * A 2025-era upstream (`server-everything`) that asks for sampling mid-call, behind `/mcp`, for
 * a 2026 agent: the request becomes an `input_required` round, the retry completes the call.
 */
describe('input_required rounds for 2026 agents over 2025 upstreams', () => {
  let everything: ChildServer & { url: string };
  let portal: TestPortal;
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    everything = await startEverythingServer();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'everything', kind: 'mcp', url: everything.url, credentials: { type: 'none' } }],
      },
    });
    aliceToken = await authorizedToken(portal.url, ALICE);
    bobToken = await authorizedToken(portal.url, BOB);
  });
  afterAll(async () => {
    await portal?.close();
    await everything?.close();
  });

  let nextId = 1;
  async function call(token: string, params: Record<string, unknown>): Promise<Answer> {
    const response = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': String(params.name),
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params }),
    });
    return { status: response.status, ...(await lastMessage<Omit<Answer, 'status'>>(response)) };
  }

  const sampling = (prompt: string, extra: Record<string, unknown> = {}) => ({
    name: SAMPLING_TOOL,
    arguments: { prompt, maxTokens: 10 },
    _meta: envelope({ sampling: {} }),
    ...extra,
  });
  const sampled = (text: string) => ({ role: 'assistant' as const, content: { type: 'text' as const, text }, model: 'test-model' });

  async function firstRound(token = aliceToken, prompt = 'hello') {
    const answer = await call(token, sampling(prompt));
    expect(answer.result?.resultType).toBe('input_required');
    const [key, request] = Object.entries(answer.result!.inputRequests!)[0]!;
    return { key, request, state: answer.result!.requestState! };
  }

  test("the v2 SDK client answers the upstream's sampling request through input_required and gets the tool's result", async () => {
    let asked: unknown;
    const agent: ModernAgent = await connectModernAgent(portal.url, ALICE, {
      token: aliceToken,
      capabilities: { sampling: {} },
      setup: (client) =>
        client.setRequestHandler('sampling/createMessage', async (request) => {
          asked = request.params;
          return sampled('sampled by the 2026 agent');
        }),
    });
    try {
      const result = await agent.client.callTool({ name: SAMPLING_TOOL, arguments: { prompt: 'ping', maxTokens: 10 } });
      expect(toolText(result)).toContain('sampled by the 2026 agent');
      expect(JSON.stringify(asked)).toContain('ping');
    } finally {
      await agent.client.close();
    }
  });

  test('a raw round: inputRequests carry the upstream request; the retry with its answer completes the call', async () => {
    const { key, request, state } = await firstRound();
    expect(request.method).toBe('sampling/createMessage');
    const done = await call(aliceToken, sampling('hello', { inputResponses: { [key]: sampled('Paris') }, requestState: state }));
    expect(done.result?.resultType).toBe('complete');
    expect(JSON.stringify(done.result?.content)).toContain('Paris');
  });

  test('a replayed requestState is refused (-32602)', async () => {
    const { key, state } = await firstRound();
    const retry = sampling('hello', { inputResponses: { [key]: sampled('once') }, requestState: state });
    expect((await call(aliceToken, retry)).result?.resultType).toBe('complete');
    expect(await call(aliceToken, retry)).toMatchObject({ error: { code: -32602 } });
  });

  test('a tampered requestState, or one of another person, or of another request, is refused (-32602)', async () => {
    const { key, state } = await firstRound();
    const responses = { [key]: sampled('x') };
    const tampered = `${state.slice(0, -4)}${state.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    expect(await call(aliceToken, sampling('hello', { inputResponses: responses, requestState: tampered }))).toMatchObject({
      error: { code: -32602 },
    });
    expect(await call(bobToken, sampling('hello', { inputResponses: responses, requestState: state }))).toMatchObject({
      error: { code: -32602 },
    });
    expect(await call(aliceToken, sampling('other arguments', { inputResponses: responses, requestState: state }))).toMatchObject({
      error: { code: -32602 },
    });
    // None of that spent the round: the rightful retry still completes.
    expect((await call(aliceToken, sampling('hello', { inputResponses: responses, requestState: state }))).result?.resultType).toBe(
      'complete',
    );
  });

  test('inputResponses for requests never asked are ignored and what was asked is asked again', async () => {
    const { key, state } = await firstRound();
    const again = await call(aliceToken, sampling('hello', { inputResponses: { 'never-asked': sampled('nope') }, requestState: state }));
    expect(again.result?.resultType).toBe('input_required');
    expect(Object.keys(again.result!.inputRequests!)).toEqual([key]);
    const done = await call(
      aliceToken,
      sampling('hello', { inputResponses: { [key]: sampled('second time') }, requestState: again.result!.requestState }),
    );
    expect(JSON.stringify(done.result?.content)).toContain('second time');
  });

  test('an agent that did not declare sampling is not asked: the upstream is refused and the call ends', async () => {
    const answer = await call(aliceToken, { ...sampling('hello'), _meta: envelope({}) });
    expect(answer.result?.resultType).not.toBe('input_required');
    expect(answer.error ?? answer.result?.isError).toBeTruthy();
  });
});
