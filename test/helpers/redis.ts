import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisStore, type RedisStore } from '../../portal/store/index.js';

/** The Redis that global-setup.js found or started for this run. */
export function testRedisUrl(): string {
  const url = process.env.GATEHOUSE_TEST_REDIS_URL;
  if (!url) throw new Error('GATEHOUSE_TEST_REDIS_URL is unset: run the tests with `npm test` (jest global setup finds a Redis)');
  return url;
}

/** A key prefix of this test's own, so that runs and files never collide. */
export function testKeyPrefix(): string {
  return `gatehouse-test:${randomUUID()}:`;
}

/** A Redis store under a fresh prefix; `cleanup` deletes every key under it and closes the store. */
export async function createTestRedisStore(
  keyPrefix = testKeyPrefix(),
): Promise<{ store: RedisStore; keyPrefix: string; cleanup: () => Promise<void> }> {
  const store = await createRedisStore({ url: testRedisUrl(), keyPrefix });
  return {
    store,
    keyPrefix,
    cleanup: async () => {
      await store.close();
      await deleteKeysWithPrefix(keyPrefix);
    },
  };
}

/** How many connections of any process are subscribed to `channel` (for a test's failure message). */
export async function subscriberCount(channel: string): Promise<number> {
  const redis = new Redis(testRedisUrl());
  try {
    const [, count] = (await redis.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
    return count;
  } finally {
    redis.disconnect();
  }
}

export async function deleteKeysWithPrefix(keyPrefix: string): Promise<void> {
  const redis = new Redis(testRedisUrl());
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
