import { MemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import type { Store } from './store.js';

export * from './store.js';
export { MemoryStore } from './memory-store.js';
export { RedisStore, createRedisStore, redactUrl } from './redis-store.js';

/** The store the config asks for: Redis when a URL is given, else one process's memory. */
export async function openStore(options: {
  redisUrl?: string;
  cluster?: boolean;
  keyPrefix?: string;
  connectTimeoutMs?: number;
}): Promise<Store> {
  if (!options.redisUrl) return new MemoryStore();
  return createRedisStore({
    url: options.redisUrl,
    cluster: options.cluster,
    keyPrefix: options.keyPrefix,
    connectTimeoutMs: options.connectTimeoutMs,
  });
}
