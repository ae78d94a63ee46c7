import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { CallToolResultSchema, CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { startEverythingServer, type ChildServer } from '../helpers/child-server.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { toolText } from '../helpers/mcp-wire.js';

const MEMORY_SERVER = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-memory/dist/index.js', import.meta.url));

describe('the aggregated MCP endpoint, against real upstreams', () => {
  let everything: ChildServer & { url: string };
  let recorder: RecordingServer;
  let portal: TestPortal;
  let alice: Agent;

  beforeAll(async () => {
    everything = await startEverythingServer();
    recorder = await startRecordingMcpServer();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'gh-memory-'));
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'everything', kind: 'mcp', url: everything.url, credentials: { type: 'none' }, tools: { deny: ['get-env'] } },
          {
            id: 'memory',
            kind: 'mcp',
            command: [process.execPath, MEMORY_SERVER],
            env: { MEMORY_FILE_PATH: path.join(dataDir, '{owner}.jsonl') },
          },
          { id: 'recorder', kind: 'mcp', url: recorder.url, tools: { rename: { echo: 'say' }, describe: { say: 'Says it back.' } } },
        ],
      },
    });
    alice = await connectAgent(portal.url, ALICE, {
      capabilities: { sampling: {} },
      setup: (client) =>
        client.setRequestHandler(CreateMessageRequestSchema, async () => ({
          role: 'assistant',
          content: { type: 'text', text: 'sampled by the agent' },
          model: 'test-model',
        })),
    });
  });
  afterAll(async () => {
    await alice?.client.close();
    await portal?.close();
    await recorder?.close();
    await everything?.close();
  });

  test('lists the tools of every upstream, prefixed, filtered, renamed, in a stable order', async () => {
    const { tools } = await alice.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'memory__create_entities', 'recorder__say', 'recorder__wait']));
    expect(names).not.toContain('everything__get-env');
    expect(names.every((n) => n.length <= 64)).toBe(true);
    expect(tools.find((t) => t.name === 'recorder__say')?.description).toBe('Says it back.');
    // Grouped by upstream in config order.
    const firstOf = (prefix: string) => names.findIndex((n) => n.startsWith(prefix));
    expect(firstOf('everything__')).toBeLessThan(firstOf('memory__'));
    expect(firstOf('memory__')).toBeLessThan(firstOf('recorder__'));
    expect((await alice.client.listTools()).tools.map((t) => t.name)).toEqual(names);
  });

  test('calls a tool on the right upstream, and a renamed one by its new name', async () => {
    expect(toolText(await alice.client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }))).toBe('Echo: hi');
    expect(toolText(await alice.client.callTool({ name: 'recorder__say', arguments: { message: 'hello' } }))).toBe('hello');
  });

  test('a denied tool, an unknown upstream prefix or no prefix is a JSON-RPC error from the portal', async () => {
    for (const name of ['everything__get-env', 'nowhere__echo', 'echo']) {
      await expect(alice.client.callTool({ name, arguments: {} })).rejects.toMatchObject({ code: -32602 });
    }
    // A name the upstream does not know is the upstream's to answer, and it says so.
    expect(await alice.client.callTool({ name: 'everything__nope', arguments: {} })).toMatchObject({ isError: true });
  });

  test('the upstream sees a portal assertion for the person, never the agent token', async () => {
    await alice.client.callTool({ name: 'recorder__say', arguments: { message: 'who am I' } });
    const seen = recorder.requests.filter((r) => r.method === 'POST').map((r) => r.headers.authorization ?? '');
    expect(seen.length).toBeGreaterThan(0);
    for (const header of seen) {
      expect(header).not.toContain(alice.accessToken());
      const { payload, protectedHeader } = await jwtVerify(
        header.replace(/^Bearer /, ''),
        createRemoteJWKSet(new URL(`${portal.url}/.well-known/jwks.json`)),
        {
          issuer: portal.url,
          audience: recorder.url,
        },
      );
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload).toMatchObject({
        sub: 'local:alice',
        email: 'alice@example.com',
        groups: ['eng'],
        act: { sub: alice.provider.clientInformation()!.client_id },
      });
    }
  });

  test('resources and templates are prefixed and readable through the aggregate', async () => {
    const { resources } = await alice.client.listResources();
    const resource = resources.find((r) => r.uri.startsWith('gatehouse+everything+'));
    expect(resource).toBeDefined();
    const read = await alice.client.readResource({ uri: resource!.uri });
    expect(read.contents[0]!.uri).toBe(resource!.uri);
    const { resourceTemplates } = await alice.client.listResourceTemplates();
    expect(resourceTemplates.every((t) => t.uriTemplate.startsWith('gatehouse+'))).toBe(true);
  });

  test('prompts are prefixed and fetched from their upstream', async () => {
    const { prompts } = await alice.client.listPrompts();
    const prompt = prompts.find((p) => p.name.startsWith('everything__') && !(p.arguments ?? []).some((a) => a.required));
    expect(prompt).toBeDefined();
    const result = await alice.client.getPrompt({ name: prompt!.name });
    expect(result.messages.length).toBeGreaterThan(0);
  });

  test('progress from the upstream reaches the agent', async () => {
    const progress: number[] = [];
    await alice.client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      CallToolResultSchema,
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    expect(progress.length).toBeGreaterThanOrEqual(2);
  });

  test('a sampling request from the upstream is relayed to the agent and its answer goes back', async () => {
    const result = await alice.client.callTool({
      name: 'everything__trigger-sampling-request',
      arguments: { prompt: 'hello', maxTokens: 5 },
    });
    expect(JSON.stringify(result)).toContain('sampled by the agent');
  });

  test('cancelling a call cancels it at the upstream', async () => {
    const controller = new AbortController();
    const call = alice.client.callTool({ name: 'recorder__wait', arguments: { label: 'cancel-me' } }, CallToolResultSchema, {
      signal: controller.signal,
    });
    for (let i = 0; i < 100 && !recorder.waits.started.includes('cancel-me'); i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort('changed my mind');
    await expect(call).rejects.toThrow();
    for (let i = 0; i < 100 && !recorder.waits.cancelled.includes('cancel-me'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(recorder.waits.cancelled).toContain('cancel-me');
  });

  test('each person gets their own stdio process: what Alice stores, Bob does not see', async () => {
    await alice.client.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'alice-secret', entityType: 'note', observations: ['only alice'] }] },
    });
    expect(toolText(await alice.client.callTool({ name: 'memory__read_graph', arguments: {} }))).toContain('alice-secret');
    const bob = await connectAgent(portal.url, BOB);
    try {
      expect(toolText(await bob.client.callTool({ name: 'memory__read_graph', arguments: {} }))).not.toContain('alice-secret');
    } finally {
      await bob.client.close();
    }
  });
});
