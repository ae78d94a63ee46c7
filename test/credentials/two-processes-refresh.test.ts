import { Redis } from 'ioredis';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { connectInBrowser, startOAuthUpstream, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, testKeyPrefix, testRedisUrl } from '../helpers/redis.js';
import { testClock } from '../helpers/test-clock.js';

describe('oauth upstream tokens with two portal processes on one Redis', () => {
  let upstream: OAuthUpstream;
  let first: TestPortal;
  let second: TestPortal;
  let agentOnFirst: Agent;
  let agentOnSecond: Agent;
  let keyPrefix: string;
  const cleanups: Array<() => Promise<void>> = [];
  const clock = testClock();

  beforeAll(async () => {
    // Tokens issued at connect live 1 s, so the next use finds them expired.
    upstream = await startOAuthUpstream({ accessTtlSeconds: 1 });
    keyPrefix = testKeyPrefix();
    const stores = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(...stores.map((s) => s.cleanup));
    const document = {
      login: { accounts: await testAccounts() },
      upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth' } }],
    };
    first = await startTestPortal({ document, store: stores[0]!.store, clock });
    second = await startTestPortal({ document, store: stores[1]!.store, env: { PUBLIC_URL: first.url }, clock });
    // One agent session per process (each process serves its own agent), one person behind both.
    agentOnFirst = await connectAgent(first.url, ALICE);
    const toSecond: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      return fetch(`${second.url}${url.pathname}${url.search}`, init);
    };
    agentOnSecond = await connectAgent(first.url, ALICE, { fetch: toSecond });
  });
  afterAll(async () => {
    await agentOnFirst?.client.close();
    await agentOnSecond?.client.close();
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await upstream?.close();
  });

  test('an expired upstream token is refreshed exactly once while both processes race for it', async () => {
    expect((await connectInBrowser(agentOnFirst.provider.browser, 'notes')).status).toBe(200);
    // Refreshed tokens live an hour: one refresh is all the race should need.
    upstream.controls.accessTtlSeconds = 3600;
    clock.advance(1_100);
    const before = upstream.tokenCalls.refresh_token;
    const calls = [agentOnFirst, agentOnSecond, agentOnFirst, agentOnSecond].map(
      (agent, i) => agent.client.callTool({ name: 'notes__echo', arguments: { message: `call ${i}` } }) as Promise<CallToolResult>,
    );
    const results = await Promise.all(calls);
    for (const [i, result] of results.entries()) expect(result).toMatchObject({ content: [{ text: `call ${i}` }] });
    expect(upstream.tokenCalls.refresh_token - before).toBe(1);
    // Every call after the refresh carried the new token.
    const newest = upstream.issued.accessTokens.at(-1)!;
    const tools = upstream.requests.filter((r) => r.path === '/mcp' && r.method === 'POST').slice(-4);
    for (const request of tools) expect(request.headers.authorization).toBe(`Bearer ${newest}`);
  });

  test('upstream tokens in Redis are sealed: no key or value holds a plaintext token', async () => {
    const redis = new Redis(testRedisUrl());
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      expect(keys.some((k) => k.includes('upstream-token'))).toBe(true);
      const secrets = [...upstream.issued.accessTokens, ...upstream.issued.refreshTokens];
      for (const key of keys) {
        const type = await redis.type(key);
        const values =
          type === 'string'
            ? [await redis.get(key)]
            : type === 'set'
              ? await redis.smembers(key)
              : type === 'hash'
                ? Object.values(await redis.hgetall(key))
                : [];
        for (const value of values) for (const secret of secrets) expect(`${key} ${value}`).not.toContain(secret);
      }
    } finally {
      redis.disconnect();
    }
  });
});
