import type { Clock } from '../../portal/clock.js';
import { mcpInitialize } from './oauth-flow.js';
import { startTestPortal, type TestPortal } from './portal.js';
import { createTestRedisStore, testKeyPrefix } from './redis.js';

/** Two portal processes on one Redis (their keys under one prefix of the test's own). */
export interface TwoPortals {
  first: TestPortal;
  second: TestPortal;
  keyPrefix: string;
  close(): Promise<void>;
}

/**
 * Starts two portals from one config document, each with its own connection to one Redis, and
 * one issuer for both: they are one portal behind a load balancer. Given a `clock`, both read it
 * (keys in Redis still expire by Redis's own clock).
 */
export async function startTwoPortals(document: Record<string, unknown>, clock?: Clock): Promise<TwoPortals> {
  const keyPrefix = testKeyPrefix();
  const [a, b] = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
  const first = await startTestPortal({ document, store: a.store, clock });
  const second = await startTestPortal({ document, store: b.store, env: { PUBLIC_URL: first.url }, clock });
  return {
    first,
    second,
    keyPrefix,
    close: async () => {
      await second.close();
      await first.close();
      await a.cleanup();
      await b.cleanup();
    },
  };
}

/** The HTTP status of an MCP `initialize` at `portal`'s `/mcp` with `token`. */
export async function mcpStatus(portal: TestPortal, token: string): Promise<number> {
  const res = await mcpInitialize(`${portal.url}/mcp`, token);
  await res.text();
  return res.status;
}
