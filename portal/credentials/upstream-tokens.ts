import { randomBytes } from 'node:crypto';
import type { Sealer } from '../crypto/seal.js';
import { storeKey, type Store } from '../store/store.js';
import type { UpstreamIdentity } from './upstream-identity.js';
import type { TokenOrigin, UpstreamTokenSet } from './upstream-oauth-types.js';

/** One account of a person at one `oauth` upstream: their tokens there, whose they are, and whether they still work. */
export interface UpstreamConnectionRecord extends UpstreamTokenSet, TokenOrigin {
  /** `reconnect_required` after a refresh failed or the upstream refused a fresh token: only a new connect helps. */
  status: 'connected' | 'reconnect_required';
  /** When the person last connected this account (ms since the epoch). */
  connectedAt: number;
  /** When the tokens were last obtained or refreshed. */
  refreshedAt: number;
  /** Why it needs a re-connect (a stable code, for the connections page and the log). */
  reason?: string;
  /**
   * The account's place among the person's accounts at the upstream, from 1 in the order they were
   * added (the first is what an agent uses unless the person chose another). Absent: 1 (a record
   * written when a person could hold one account per upstream).
   */
  ordinal?: number;
  /** Whose account it is, as the upstream's authorization server said at the last connect. */
  identity?: UpstreamIdentity;
  /** The person's own name for the account. */
  label?: string;
}

/** A record as read, with its stored form, for compare-and-set updates. */
export interface StoredConnection {
  record: UpstreamConnectionRecord;
  raw: string;
}

/** Names one account of a person at one upstream. */
export interface AccountKey {
  personId: string;
  upstreamId: string;
  accountId: string;
}

/**
 * The id of a person's first account at an upstream. It lives where the one connection per
 * person and upstream lived before a person could connect several, so such a connection is this
 * account as it is. It is given again only when the person holds no account there: present, it is
 * always the first account, so a choice of it that outlived its account means what no choice means.
 */
export const FIRST_ACCOUNT_ID = '1';

/** An account id as the portal makes them ({@link newAccountId}, {@link FIRST_ACCOUNT_ID}). */
const ACCOUNT_ID = /^(?:1|[A-Za-z0-9_-]{12})$/;

export function isAccountId(value: unknown): value is string {
  return typeof value === 'string' && ACCOUNT_ID.test(value);
}

/** A fresh id for a person's second or later account at an upstream (72 random bits: never reused). */
export function newAccountId(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * Upstream tokens at rest: one value per (person, upstream, account), sealed with
 * AES-256-GCM under a key derived from `GATEHOUSE_SECRET`, with person, upstream and account as
 * associated data so a value copied under another key does not open. A per-person set indexes the
 * accounts. Every key of a person shares their hash tag (one Redis Cluster slot).
 */
export interface UpstreamTokenStore {
  read(account: AccountKey): Promise<StoredConnection | undefined>;
  write(account: AccountKey, record: UpstreamConnectionRecord): Promise<void>;
  /** Replaces the record only if it is still `expected` (another process may have refreshed it). */
  replace(account: AccountKey, expected: StoredConnection, record: UpstreamConnectionRecord): Promise<boolean>;
  remove(account: AccountKey): Promise<void>;
  /** Every account the person holds tokens for, in no particular order. */
  accounts(personId: string): Promise<AccountKey[]>;
  /** The lock under which one process refreshes the account's tokens (single flight across processes). */
  refreshLockKey(account: AccountKey): string;
}

export function createUpstreamTokenStore(store: Store, sealer: Sealer): UpstreamTokenStore {
  // The first account keeps the key, associated data and index entry of a person's one connection of old.
  const first = (a: AccountKey) => a.accountId === FIRST_ACCOUNT_ID;
  const key = (a: AccountKey) =>
    first(a)
      ? storeKey('upstream-token', a.personId, a.upstreamId)
      : storeKey('upstream-token', a.personId, a.upstreamId, 'account', a.accountId);
  const aad = (a: AccountKey) => `upstream-token\n${a.personId}\n${a.upstreamId}${first(a) ? '' : `\n${a.accountId}`}`;
  // The list of a person's accounts has a key of its own: an upstream may be called `index`.
  const indexKey = (personId: string) => storeKey('upstream-token-index', personId);
  // Where the list was kept before, beside the tokens (a set there is a list; an upstream's tokens are not a set).
  const legacyIndexKey = (personId: string) => storeKey('upstream-token', personId, 'index');
  const indexEntry = (a: AccountKey) => (first(a) ? a.upstreamId : `${a.upstreamId}/${a.accountId}`);
  const seal = (a: AccountKey, record: UpstreamConnectionRecord) => sealer.seal(JSON.stringify(record), aad(a));

  return {
    async read(account) {
      const raw = await store.get(key(account));
      if (raw === null) return undefined;
      try {
        return { record: JSON.parse(sealer.open(raw, aad(account))) as UpstreamConnectionRecord, raw };
      } catch {
        // Sealed under another secret, or moved: as good as absent (the person connects again).
        return undefined;
      }
    },
    async write(account, record) {
      await store.set(key(account), seal(account, record));
      await store.addToSet(indexKey(account.personId), indexEntry(account));
    },
    replace(account, expected, record) {
      return store.compareAndSet(key(account), expected.raw, seal(account, record));
    },
    async remove(account) {
      await store.delete(key(account));
      await store.removeFromSet(indexKey(account.personId), indexEntry(account));
    },
    async accounts(personId) {
      const legacy = await store.setMembers(legacyIndexKey(personId)).catch(() => []);
      for (const entry of legacy) await store.addToSet(indexKey(personId), entry);
      if (legacy.length) await store.delete(legacyIndexKey(personId));
      return (await store.setMembers(indexKey(personId))).map((entry) => {
        const [upstreamId, accountId = FIRST_ACCOUNT_ID] = entry.split('/');
        return { personId, upstreamId: upstreamId!, accountId };
      });
    },
    refreshLockKey(account) {
      return `${key(account)}:refreshing`;
    },
  };
}
