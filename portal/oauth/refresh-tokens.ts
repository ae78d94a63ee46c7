import { systemClock, type Clock } from '../clock.js';
import { randomToken, sha256 } from '../crypto/hash.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';
import { grantKey, type Grant } from './grant-store.js';

interface RefreshRecord {
  grantId: string;
  clientId: string;
  issuedAt: number;
  /** When the token stops working (ms since the epoch); absent on tokens issued before it was recorded. */
  expiresAt?: number;
  /** Set once the token was exchanged; a later use is reuse (or a benign concurrent refresh within the grace window). */
  spentAt?: number;
}

/**
 * A presented refresh token and its grant as the Store held them, read in one round trip: what a
 * refresh is decided on, and what {@link RefreshTokens.rotate} checks is still there.
 */
export interface PresentedRefreshToken {
  grantId: string;
  clientId: string;
  /** The grant the token belongs to; `undefined` once revoked or expired. */
  grant: Grant | undefined;
  /**
   * `fresh`: never exchanged; `concurrent`: exchanged within the grace window (a benign concurrent
   * refresh, which gets tokens of its own); `reused`: exchanged before that, so the grant must be revoked.
   */
  use: 'fresh' | 'concurrent' | 'reused';
  /** The stored values this decision rests on. */
  readonly stored: { key: string; record: RefreshRecord; raw: string; grantRaw: string | null };
}

/**
 * Opaque refresh tokens, `{grantId}.{random}`: only their hash is stored, under the grant's
 * hash tag (so a token, its successor and its grant are written in one atomic step). Rotated on
 * every use (OAuth 2.1 §4.3.1); a spent one presented again revokes the grant (RFC 9700 §4.14.2).
 */
export interface RefreshTokens {
  issue(grantId: string, clientId: string, ttlMs: number): Promise<string>;
  /** The presented token and its grant, in one round trip; `undefined` for an unknown, malformed or expired token. */
  read(token: string): Promise<PresentedRefreshToken | undefined>;
  /**
   * Rotation in one atomic round trip: marks the presented token spent, stores its successor for
   * `ttlMs` and saves `grant` (as refreshed) for as long, but only while neither the token nor its
   * grant changed since {@link read}. Resolves the successor, or `undefined` when something changed
   * (a concurrent refresh, a revocation): nothing was written, and the caller decides again on a fresh read.
   */
  rotate(presented: PresentedRefreshToken, grant: Grant, ttlMs: number): Promise<string | undefined>;
  /** Looks a token up without spending it (introspection, revocation). */
  peek(token: string): Promise<{ grantId: string; clientId: string; spent: boolean } | undefined>;
}

/** `clock` decides when a spent token was spent and whether the grace window has passed (default the real time). */
export function createRefreshTokens(options: { store: Store; graceMs: number; clock?: Clock }): RefreshTokens {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const keyOf = (token: string): string | undefined => {
    const grantId = token.split('.')[0];
    if (!grantId || token.length > 200 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return undefined;
    return storeKey('refresh', grantId, sha256(token));
  };
  const mint = (grantId: string, clientId: string, ttlMs: number) => {
    const token = `${grantId}.${randomToken()}`;
    const issuedAt = clock.now();
    const record: RefreshRecord = { grantId, clientId, issuedAt, expiresAt: issuedAt + ttlMs };
    return { token, key: keyOf(token)!, record };
  };

  return {
    async issue(grantId, clientId, ttlMs) {
      const { token, key, record } = mint(grantId, clientId, ttlMs);
      await setJson(store, key, record, { ttlMs });
      return token;
    },
    async read(token) {
      const key = keyOf(token);
      if (!key) return undefined;
      const grantId = token.split('.')[0]!;
      // The token's key carries its grant's hash tag: one round trip for both.
      const [raw, grantRaw = null] = await store.getMany([key, grantKey(grantId)]);
      if (!raw) return undefined;
      const record = JSON.parse(raw) as RefreshRecord;
      if (record.grantId !== grantId) return undefined;
      const use = record.spentAt === undefined ? 'fresh' : clock.now() - record.spentAt <= options.graceMs ? 'concurrent' : 'reused';
      const grant = grantRaw ? (JSON.parse(grantRaw) as Grant) : undefined;
      return { grantId, clientId: record.clientId, grant, use, stored: { key, record, raw, grantRaw } };
    },
    async rotate(presented, grant, ttlMs) {
      const { key, record, raw, grantRaw } = presented.stored;
      if (grantRaw === null || grant.id !== presented.grantId) return undefined;
      const next = mint(grant.id, record.clientId, ttlMs);
      const writes = [
        { key: next.key, value: JSON.stringify(next.record), ttlMs },
        { key: grantKey(grant.id), value: JSON.stringify(grant), ttlMs },
      ];
      if (record.spentAt === undefined) {
        // The spent token stays known until it would have expired: presenting it again is reuse.
        const remainingMs = (record.expiresAt ?? clock.now() + ttlMs) - clock.now();
        if (remainingMs <= 0) return undefined;
        writes.push({ key, value: JSON.stringify({ ...record, spentAt: clock.now() }), ttlMs: remainingMs });
      }
      const expected = [
        { key, value: raw },
        { key: grantKey(grant.id), value: grantRaw },
      ];
      return (await store.writeIfUnchanged(expected, writes)) ? next.token : undefined;
    },
    async peek(token) {
      const key = keyOf(token);
      const record = key ? await getJson<RefreshRecord>(store, key) : null;
      return record ? { grantId: record.grantId, clientId: record.clientId, spent: record.spentAt !== undefined } : undefined;
    },
  };
}
