import { systemClock, type Clock } from '../clock.js';
import type { CodeFlowServer } from './discovery.js';

/** Discovered authorization server metadata, reused for a while. */
export interface MetadataCache {
  /**
   * The metadata kept under `key` while younger than the TTL, else what `discover` resolves to.
   * Only answers are kept: a failure is tried again at the next call. Concurrent discoveries of
   * the same URL share one request in the guarded fetcher, so nothing in flight is kept here.
   */
  get(key: string, discover: () => Promise<CodeFlowServer>): Promise<CodeFlowServer>;
}

export interface MetadataCacheOptions {
  /** How long discovered metadata is reused before it is fetched again. */
  ttlMs: number;
  /** Documents kept at once; the oldest goes first, so a peer naming a new issuer each time cannot grow it without end. */
  maxEntries: number;
  /** Where the metadata's age is read (default the real time). */
  clock?: Clock;
}

/** The one cache of authorization server metadata (RFC 8414, OpenID Connect Discovery) behind each OAuth client of the portal. */
export function createMetadataCache(options: MetadataCacheOptions): MetadataCache {
  const entries = new Map<string, { value: CodeFlowServer; at: number }>();
  const clock = options.clock ?? systemClock;
  return {
    async get(key, discover) {
      const hit = entries.get(key);
      if (hit && clock.now() - hit.at < options.ttlMs) return hit.value;
      const value = await discover();
      entries.delete(key);
      entries.set(key, { value, at: clock.now() });
      if (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
      return value;
    },
  };
}
