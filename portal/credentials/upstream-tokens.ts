import type { Sealer } from '../crypto/seal.js';
import { storeKey, type Store } from '../store/store.js';
import type { TokenOrigin, UpstreamTokenSet } from './upstream-oauth.js';

/** A person's connection to one `oauth` upstream: their tokens there, and whether they still work. */
export interface UpstreamConnectionRecord extends UpstreamTokenSet, TokenOrigin {
  /** `reconnect_required` after a refresh failed or the upstream refused a fresh token: only a new connect helps. */
  status: 'connected' | 'reconnect_required';
  /** When the person connected (ms since the epoch). */
  connectedAt: number;
  /** When the tokens were last obtained or refreshed. */
  refreshedAt: number;
  /** Why it needs a re-connect (a stable code, for the connections page and the log). */
  reason?: string;
}

/** A record as read, with its stored form, for compare-and-set updates. */
export interface StoredConnection {
  record: UpstreamConnectionRecord;
  raw: string;
}

/**
 * Upstream tokens at rest (issue 6): one value per (person, upstream), sealed with AES-256-GCM
 * under a key derived from `GATEHOUSE_SECRET`, with `person \n upstream` as associated data so a
 * value copied under another person's key does not open. A per-person set indexes the upstreams.
 * Every key of a person shares their hash tag (one Redis Cluster slot).
 */
export interface UpstreamTokenStore {
  read(personId: string, upstreamId: string): Promise<StoredConnection | undefined>;
  write(personId: string, upstreamId: string, record: UpstreamConnectionRecord): Promise<void>;
  /** Replaces the record only if it is still `expected` (another process may have refreshed it). */
  replace(personId: string, upstreamId: string, expected: StoredConnection, record: UpstreamConnectionRecord): Promise<boolean>;
  remove(personId: string, upstreamId: string): Promise<void>;
  upstreamIds(personId: string): Promise<string[]>;
  /** The lock under which one process refreshes (single flight across processes). */
  refreshLockKey(personId: string, upstreamId: string): string;
}

export function createUpstreamTokenStore(store: Store, sealer: Sealer): UpstreamTokenStore {
  const key = (personId: string, upstreamId: string) => storeKey('upstream-token', personId, upstreamId);
  const indexKey = (personId: string) => storeKey('upstream-token', personId, 'index');
  const aad = (personId: string, upstreamId: string) => `upstream-token\n${personId}\n${upstreamId}`;

  return {
    async read(personId, upstreamId) {
      const raw = await store.get(key(personId, upstreamId));
      if (raw === null) return undefined;
      try {
        return { record: JSON.parse(sealer.open(raw, aad(personId, upstreamId))) as UpstreamConnectionRecord, raw };
      } catch {
        // Sealed under another secret, or moved: as good as absent (the person connects again).
        return undefined;
      }
    },
    async write(personId, upstreamId, record) {
      await store.set(key(personId, upstreamId), sealer.seal(JSON.stringify(record), aad(personId, upstreamId)));
      await store.addToSet(indexKey(personId), upstreamId);
    },
    replace(personId, upstreamId, expected, record) {
      return store.compareAndSet(key(personId, upstreamId), expected.raw, sealer.seal(JSON.stringify(record), aad(personId, upstreamId)));
    },
    async remove(personId, upstreamId) {
      await store.delete(key(personId, upstreamId));
      await store.removeFromSet(indexKey(personId), upstreamId);
    },
    upstreamIds(personId) {
      return store.setMembers(indexKey(personId));
    },
    refreshLockKey(personId, upstreamId) {
      return storeKey('upstream-token', personId, upstreamId, 'refreshing');
    },
  };
}
