import type { UpstreamEra, UpstreamEraCache } from '../../adapters/mcp-upstream.js';
import { sha256 } from '../crypto/hash.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';

/**
 * How long an upstream's era is trusted before it is probed again. A remembered 2026 era that
 * no longer holds fails the next connection and is probed at once; a remembered session-protocol
 * era would go on working after the upstream moved on, so only this bound finds the upgrade.
 */
const ERA_TTL_MS = 60 * 60_000;

/** How long a process trusts what it last read of an era, before it reads the Store again. */
const LOCAL_TTL_MS = 30_000;

/**
 * Each upstream's era in the Store, shared by every portal process; keyed by its id and URL.
 * Reads are kept a few seconds in the process (every stateless request on `/mcp/{id}` asks).
 */
export function createUpstreamEras(store: Store, now: () => number = Date.now): UpstreamEraCache {
  const key = (upstreamId: string, url: string) => storeKey('upstream-era', upstreamId, sha256(url).slice(0, 16));
  const local = new Map<string, { era: UpstreamEra; until: number }>();
  return {
    async get(upstreamId, url) {
      const cacheKey = key(upstreamId, url);
      const known = local.get(cacheKey);
      if (known && known.until > now()) return known.era;
      const era = (await getJson<UpstreamEra>(store, cacheKey)) ?? undefined;
      // An unknown era is not kept: the probe that learns it may come from another process.
      if (era) local.set(cacheKey, { era, until: now() + LOCAL_TTL_MS });
      return era;
    },
    async set(upstreamId, url, era) {
      local.delete(key(upstreamId, url));
      await setJson(store, key(upstreamId, url), era, { ttlMs: ERA_TTL_MS });
    },
    async forget(upstreamId, url) {
      local.delete(key(upstreamId, url));
      await store.delete(key(upstreamId, url));
    },
  };
}
