import type { UpstreamEra, UpstreamEraCache } from '../../adapters/mcp-upstream.js';
import { sha256 } from '../crypto/hash.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';

/**
 * How long an upstream's era is trusted before it is probed again. A remembered 2026 era that
 * no longer holds fails the next connection and is probed at once; a remembered session-protocol
 * era would go on working after the upstream moved on, so only this bound finds the upgrade.
 */
const ERA_TTL_MS = 60 * 60_000;

/** Each upstream's era in the Store, shared by every portal process; keyed by its id and URL. */
export function createUpstreamEras(store: Store): UpstreamEraCache {
  const key = (upstreamId: string, url: string) => storeKey('upstream-era', upstreamId, sha256(url).slice(0, 16));
  return {
    async get(upstreamId, url) {
      return (await getJson<UpstreamEra>(store, key(upstreamId, url))) ?? undefined;
    },
    set: (upstreamId, url, era) => setJson(store, key(upstreamId, url), era, { ttlMs: ERA_TTL_MS }),
    async forget(upstreamId, url) {
      await store.delete(key(upstreamId, url));
    },
  };
}
