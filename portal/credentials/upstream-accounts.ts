import { systemClock, type Clock } from '../clock.js';
import { sha256 } from '../crypto/hash.js';
import { storeKey, type Store } from '../store/store.js';
import { sameIdentity } from './upstream-identity.js';
import type { ConnectedTokens, TokenOrigin } from './upstream-oauth-types.js';
import {
  FIRST_ACCOUNT_ID,
  isAccountId,
  newAccountId,
  type AccountKey,
  type StoredConnection,
  type UpstreamConnectionRecord,
  type UpstreamTokenStore,
} from './upstream-tokens.js';

/** One of a person's accounts at an upstream, with the name the person knows it by. */
export interface NamedAccount {
  key: AccountKey;
  /** The person's label, else the identity the upstream reported, else "Account N". */
  name: string;
}

/** An account as stored (for compare-and-set updates). */
export interface HeldAccount extends NamedAccount {
  stored: StoredConnection;
}

/**
 * A person's accounts at `oauth` upstreams (work and personal, say), and which one each of their
 * agents uses: the one the person chose for that agent (client), else the first they connected.
 */
export interface UpstreamAccounts {
  /** The person's accounts, by upstream id, each list in the order they were added. */
  all(personId: string): Promise<Map<string, HeldAccount[]>>;
  /** The person's accounts at the upstream, in the order they were added. */
  at(personId: string, upstreamId: string): Promise<HeldAccount[]>;
  /** The account `clientId` uses at the upstream; `undefined` when the person holds none there. */
  inUse(personId: string, clientId: string, upstreamId: string): Promise<HeldAccount | undefined>;
  /** Has `clientId` use that account of the person's; `undefined` (nothing changes) when they hold no such account. */
  choose(personId: string, clientId: string, upstreamId: string, accountId: string): Promise<HeldAccount | undefined>;
  /** Names the account; `undefined` (nothing changes) when the person holds no such account. */
  rename(personId: string, upstreamId: string, accountId: string, label: string): Promise<NamedAccount | undefined>;
  /**
   * Stores the tokens of a completed connect in the account they belong to: the account with the
   * identity the upstream reported; else `reconnecting` (the account the person set out to
   * re-connect) unless both it and the new tokens name someone, who differ; else a new account.
   */
  connect(
    personId: string,
    upstreamId: string,
    tokens: ConnectedTokens,
    origin: TokenOrigin,
    reconnecting?: string,
  ): Promise<{ account: NamedAccount; added: boolean }>;
}

/** How often a rename retries when a refresh replaced the record in between. */
const RENAME_ATTEMPTS = 5;

/** The name the pages give an account: the person's label, else who the upstream said it is, else its place. */
export function accountName(record: UpstreamConnectionRecord): string {
  return record.label ?? record.identity?.name ?? `Account ${record.ordinal ?? 1}`;
}

export function createUpstreamAccounts(store: Store, tokens: UpstreamTokenStore, clock: Clock = systemClock): UpstreamAccounts {
  // Client ids may be URLs (client ID metadata documents): hashed, they make keys of one size.
  const choiceKey = (personId: string, upstreamId: string, clientId: string) =>
    storeKey('upstream-account-choice', personId, upstreamId, sha256(clientId));

  async function held(key: AccountKey): Promise<HeldAccount | undefined> {
    const stored = await tokens.read(key);
    return stored && { key, stored, name: accountName(stored.record) };
  }

  async function all(personId: string): Promise<Map<string, HeldAccount[]>> {
    const found = (await Promise.all((await tokens.accounts(personId)).map(held))).filter((a): a is HeldAccount => a !== undefined);
    found.sort((a, b) => (a.stored.record.ordinal ?? 1) - (b.stored.record.ordinal ?? 1));
    const byUpstream = new Map<string, HeldAccount[]>();
    for (const account of found) byUpstream.set(account.key.upstreamId, [...(byUpstream.get(account.key.upstreamId) ?? []), account]);
    return byUpstream;
  }

  async function at(personId: string, upstreamId: string): Promise<HeldAccount[]> {
    return (await all(personId)).get(upstreamId) ?? [];
  }

  async function find(personId: string, upstreamId: string, accountId: string): Promise<HeldAccount | undefined> {
    return isAccountId(accountId) ? held({ personId, upstreamId, accountId }) : undefined;
  }

  return {
    all,
    at,

    async inUse(personId, clientId, upstreamId) {
      const chosen = await store.get(choiceKey(personId, upstreamId, clientId));
      const account =
        (chosen !== null ? await find(personId, upstreamId, chosen) : undefined) ?? (await find(personId, upstreamId, FIRST_ACCOUNT_ID));
      // Without the first account (disconnected), the first of those left.
      return account ?? (await at(personId, upstreamId))[0];
    },

    async choose(personId, clientId, upstreamId, accountId) {
      const account = await find(personId, upstreamId, accountId);
      if (account) await store.set(choiceKey(personId, upstreamId, clientId), accountId);
      return account;
    },

    async rename(personId, upstreamId, accountId, label) {
      for (let attempt = 0; attempt < RENAME_ATTEMPTS; attempt++) {
        const account = await find(personId, upstreamId, accountId);
        if (!account) return undefined;
        const record = { ...account.stored.record, label };
        if (await tokens.replace(account.key, account.stored, record)) return { key: account.key, name: accountName(record) };
      }
      throw new Error('the account kept changing while it was renamed');
    },

    async connect(personId, upstreamId, { identity, ...tokenSet }, origin, reconnecting) {
      const accounts = await at(personId, upstreamId);
      const wanted = accounts.find((a) => a.key.accountId === reconnecting);
      const existing =
        (identity && accounts.find((a) => sameIdentity(a.stored.record.identity, identity))) ??
        (wanted && !(identity && wanted.stored.record.identity) ? wanted : undefined);
      const previous = existing?.stored.record;
      const key: AccountKey = existing?.key ?? { personId, upstreamId, accountId: accounts.length ? newAccountId() : FIRST_ACCOUNT_ID };
      const now = clock.now();
      const record: UpstreamConnectionRecord = {
        ...tokenSet,
        ...origin,
        status: 'connected',
        connectedAt: now,
        refreshedAt: now,
        ordinal: previous ? (previous.ordinal ?? 1) : Math.max(0, ...accounts.map((a) => a.stored.record.ordinal ?? 1)) + 1,
        ...((identity ?? previous?.identity) ? { identity: identity ?? previous?.identity } : {}),
        ...(previous?.label ? { label: previous.label } : {}),
      };
      await tokens.write(key, record);
      return { account: { key, name: accountName(record) }, added: !existing };
    },
  };
}
