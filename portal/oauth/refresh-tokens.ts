import { randomToken, sha256 } from '../crypto/hash.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';

interface RefreshRecord {
  grantId: string;
  clientId: string;
  issuedAt: number;
  /** Set once the token was exchanged; a later use is reuse (or a benign concurrent refresh within the grace window). */
  spentAt?: number;
}

/** The outcome of presenting a refresh token. */
export type RefreshOutcome =
  | { status: 'ok'; grantId: string; clientId: string }
  | { status: 'unknown' }
  /** Presented again after it was spent and outside the grace window: the grant must be revoked. */
  | { status: 'reused'; grantId: string; clientId: string };

/**
 * Opaque refresh tokens, `{grantId}.{random}`: only their hash is stored, under the grant's
 * hash tag. Rotated on every use (OAuth 2.1 §4.3.1).
 */
export interface RefreshTokens {
  issue(grantId: string, clientId: string, ttlMs: number): Promise<string>;
  /** Spends the token. Of concurrent spenders one gets `ok`; the others get `ok` within `graceMs`, else `reused`. */
  spend(token: string): Promise<RefreshOutcome>;
  /** Looks a token up without spending it (introspection, revocation). */
  peek(token: string): Promise<{ grantId: string; clientId: string; spent: boolean } | undefined>;
}

export function createRefreshTokens(options: { store: Store; graceMs: number }): RefreshTokens {
  const { store } = options;
  const keyOf = (token: string): string | undefined => {
    const grantId = token.split('.')[0];
    if (!grantId || token.length > 200 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return undefined;
    return storeKey('refresh', grantId, sha256(token));
  };

  return {
    async issue(grantId, clientId, ttlMs) {
      const token = `${grantId}.${randomToken()}`;
      const record: RefreshRecord = { grantId, clientId, issuedAt: Date.now() };
      await setJson(store, keyOf(token)!, record, { ttlMs });
      return token;
    },
    async spend(token) {
      const key = keyOf(token);
      if (!key) return { status: 'unknown' };
      const raw = await store.get(key);
      if (raw === null) return { status: 'unknown' };
      const record = JSON.parse(raw) as RefreshRecord;
      const { grantId, clientId } = record;
      if (record.spentAt === undefined) {
        const ttlMs = (await store.ttl(key)) ?? undefined;
        const spent = JSON.stringify({ ...record, spentAt: Date.now() });
        if (await store.compareAndSet(key, raw, spent, { ttlMs })) return { status: 'ok', grantId, clientId };
        const now = await getJson<RefreshRecord>(store, key);
        if (!now?.spentAt) return { status: 'unknown' };
        record.spentAt = now.spentAt;
      }
      return Date.now() - record.spentAt <= options.graceMs ? { status: 'ok', grantId, clientId } : { status: 'reused', grantId, clientId };
    },
    async peek(token) {
      const key = keyOf(token);
      const record = key ? await getJson<RefreshRecord>(store, key) : null;
      return record ? { grantId: record.grantId, clientId: record.clientId, spent: record.spentAt !== undefined } : undefined;
    },
  };
}
