import { setTimeout as sleep } from 'node:timers/promises';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, connectModernAgent, type Agent } from '../helpers/agent.js';
import { toolText } from '../helpers/mcp-wire.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import type { Store } from '../../portal/store/index.js';
import { createTestRedisStore, testKeyPrefix } from '../helpers/redis.js';
import { TestRedisCluster } from '../helpers/redis-cluster.js';

/** Two stores on one shared state (one per portal process), and how to let go of it. */
type SharedState = () => Promise<{ stores: [Store, Store]; cleanup: () => Promise<void> }>;

const onOneRedis: SharedState = async () => {
  const keyPrefix = testKeyPrefix();
  const [a, b] = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
  return { stores: [a.store, b.store], cleanup: async () => void (await Promise.all([a.cleanup(), b.cleanup()])) };
};

const onOneRedisCluster: SharedState = async () => {
  const cluster = await TestRedisCluster.start();
  const keyPrefix = testKeyPrefix();
  const [a, b] = [await cluster.openStore(keyPrefix), await cluster.openStore(keyPrefix)];
  return {
    stores: [a, b],
    cleanup: async () => {
      await Promise.all([a.close(), b.close()]);
      await cluster.stop();
    },
  };
};

describe.each([
  ['Redis', onOneRedis],
  ['Redis Cluster', onOneRedisCluster],
])('two portal processes on one %s serve one MCP session as one portal', (_name, sharedState) => {
  let recorder: RecordingServer;
  let first: TestPortal;
  let second: TestPortal;
  let agent: Agent;
  const cleanups: Array<() => Promise<void>> = [];
  const served: string[] = [];
  const listChanged: number[] = [];

  // A "load balancer" that sends each request of an agent to the other process.
  let turn = 0;
  const roundRobin: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const target = turn++ % 2 === 0 ? first.url : second.url;
    served.push(target);
    return fetch(`${target}${url.pathname}${url.search}`, init);
  };

  beforeAll(async () => {
    recorder = await startRecordingMcpServer({ sample: true });
    const { stores, cleanup } = await sharedState();
    cleanups.push(cleanup);
    // Tools added at runtime are listed (flagged), not held for an administrator.
    const document = {
      login: { accounts: await testAccounts() },
      upstreams: [{ id: 'recorder', kind: 'mcp', url: recorder.url, tools: { pinning: 'warn' } }],
    };
    first = await startTestPortal({ document, store: stores[0] });
    // One issuer for both: they are one portal behind a load balancer.
    second = await startTestPortal({ document, store: stores[1], env: { PUBLIC_URL: first.url } });

    agent = await connectAgent(first.url, ALICE, {
      fetch: roundRobin,
      setup: (client) => client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void listChanged.push(Date.now())),
    });
  });
  afterAll(async () => {
    await agent?.client.close();
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await recorder?.close();
  });

  test('requests of one session alternate between the processes and all succeed', async () => {
    for (let i = 0; i < 4; i++) {
      const { tools } = await agent.client.listTools();
      expect(tools.map((t) => t.name)).toContain('recorder__echo');
      const result = (await agent.client.callTool({ name: 'recorder__echo', arguments: { message: `round ${i}` } })) as CallToolResult;
      expect(result.content[0]).toMatchObject({ text: `round ${i}` });
    }
    expect(new Set(served)).toEqual(new Set([first.url, second.url]));
    // Both processes re-attached to one upstream session rather than each opening its own.
    const upstreamSessions = new Set(recorder.requests.map((r) => r.headers['mcp-session-id']).filter(Boolean));
    expect(upstreamSessions.size).toBe(1);
  });

  test('a transparent /mcp/{id} session is relayed by both processes in one upstream session of its own', async () => {
    const before = recorder.requests.length;
    served.length = 0;
    const direct = await connectAgent(first.url, ALICE, { path: '/mcp/recorder', fetch: roundRobin });
    try {
      for (let i = 0; i < 4; i++) {
        expect((await direct.client.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'wait']));
        const result = (await direct.client.callTool({ name: 'echo', arguments: { message: `relayed ${i}` } })) as CallToolResult;
        expect(result.content[0]).toMatchObject({ text: `relayed ${i}` });
      }
      expect(new Set(served)).toEqual(new Set([first.url, second.url]));
      const requests = recorder.requests.slice(before);
      expect(requests.filter((r) => r.method === 'POST' && !r.headers['mcp-session-id'])).toHaveLength(1);
      const upstreamSessions = new Set(requests.map((r) => r.headers['mcp-session-id']).filter(Boolean));
      expect(upstreamSessions.size).toBe(1);
      expect(upstreamSessions.has(direct.transport.sessionId!)).toBe(false);
    } finally {
      await direct.client.close();
    }
  });

  test('an upstream notification reaches the agent through whichever process holds its GET stream', async () => {
    await agent.client.callTool({ name: 'recorder__grow', arguments: {} });
    for (let i = 0; i < 100 && listChanged.length === 0; i++) await sleep(50);
    expect(listChanged.length).toBeGreaterThan(0);
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toContain('recorder__grown-1');
  });

  test('a 2026 agent: stateless requests alternate between the processes; an input_required round started at one completes at the other', async () => {
    const modern = await connectModernAgent(first.url, ALICE, {
      fetch: roundRobin,
      capabilities: { sampling: {} },
      setup: (client) =>
        client.setRequestHandler('sampling/createMessage', async () => ({
          role: 'assistant' as const,
          content: { type: 'text' as const, text: 'from the agent' },
          model: 'm',
        })),
    });
    try {
      const before = served.length;
      for (let i = 0; i < 4; i++) {
        expect(toolText(await modern.client.callTool({ name: 'recorder__echo', arguments: { message: `stateless ${i}` } }))).toBe(
          `stateless ${i}`,
        );
      }
      // The call asks, is answered input_required by one process, and the retry lands on the other.
      expect(toolText(await modern.client.callTool({ name: 'recorder__sample', arguments: { prompt: 'hi' } }))).toBe(
        'sampled: from the agent',
      );
      expect(new Set(served.slice(before))).toEqual(new Set([first.url, second.url]));
    } finally {
      await modern.client.close();
    }
  });
});
