import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { UpstreamConnectRequiredError, UpstreamUnavailableError, type ConnectReason } from '../../adapters/upstream-errors.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';
import type { AuthContext } from '../oauth/bearer.js';
import { mayUseUpstream } from '../policy/access.js';
import { storeKey, type Store } from '../store/store.js';
import type { HeldAccount, NamedAccount, UpstreamAccounts } from './upstream-accounts.js';
import type { ConnectedTokens, TokenOrigin, UpstreamOAuth, UpstreamTokenSet } from './upstream-oauth-types.js';
import { UpstreamOAuthError } from './upstream-oauth-errors.js';
import type { AccountKey, StoredConnection, UpstreamConnectionRecord, UpstreamTokenStore } from './upstream-tokens.js';

/** Who calls an upstream: the person, and through which agent (its client id; `browser` for their own browser). */
export type UpstreamCaller = Pick<AuthContext, 'person' | 'clientId'>;

/** One of the person's accounts at an `oauth` upstream, as the `/connections` page shows it. No token in it. */
export interface AccountSummary {
  accountId: string;
  /** The person's label, else the identity the upstream reported, else "Account N". */
  name: string;
  /** Who the upstream said the account is (ID token `email`, `preferred_username`, `name` or `sub`), when it said. */
  reported?: string;
  status: 'connected' | 'reconnect_required';
  /** Why a re-connect is needed, as a stable code (`invalid_grant`, `upstream_refused_token`, …). */
  reason?: string;
  scope: string[];
  /** ms since the epoch */
  connectedAt: number;
  refreshedAt: number;
  expiresAt?: number;
  /** Where the person re-connects this account: `{issuer}/connect/{id}?account={accountId}`. */
  connectUrl: string;
}

/** A person's accounts at one `oauth` upstream. */
export interface ConnectionSummary {
  upstreamId: string;
  title: string;
  kind: UpstreamConfig['kind'];
  /** In the order they were added: the first is what an agent uses unless the person chose another. */
  accounts: AccountSummary[];
  /** Where the person connects an account (another one, when they hold some): `{issuer}/connect/{id}`. */
  connectUrl: string;
}

/** What disconnecting an account did. */
export type DisconnectOutcome = { disconnected: false } | { disconnected: true; account: NamedAccount; revoked: boolean };

/**
 * Each person's own accounts at `oauth` upstreams, several per upstream if they like: what the
 * `/connections` and `/connect` pages show and change, and the tokens an agent's requests carry
 * (those of the account the person chose for that agent, else of the first).
 */
export interface UpstreamConnections {
  /** Every `oauth` upstream the person may use, and any they still hold accounts at, in config order. */
  listConnections(person: Person): Promise<ConnectionSummary[]>;
  /** The id of the account `clientId` uses at the upstream, when the person holds one there. */
  accountInUse(person: Person, clientId: string, upstreamId: string): Promise<string | undefined>;
  /** Has `clientId` use one of the person's accounts; `undefined` (nothing changes) when it is not theirs. */
  chooseAccount(person: Person, clientId: string, upstreamId: string, accountId: string): Promise<NamedAccount | undefined>;
  /** Names one of the person's accounts; `undefined` (nothing changes) when it is not theirs. */
  renameAccount(person: Person, upstreamId: string, accountId: string, label: string): Promise<NamedAccount | undefined>;
  /**
   * Forgets one account's tokens, then revokes them at the upstream (RFC 7009 §2.1: the refresh
   * token, then the access token) when its AS has a revocation endpoint. The other accounts stay;
   * agents that used this one use the first left. The caller audits `upstream_disconnected`.
   */
  disconnect(person: Person, upstreamId: string, accountId: string): Promise<DisconnectOutcome>;
  /** The access token of the caller's account there, refreshed first when it is about to expire. @throws {UpstreamConnectRequiredError} */
  accessToken(caller: UpstreamCaller, upstream: UpstreamConfig): Promise<string>;
  /**
   * The upstream refused `rejectedToken` with 401: refresh once (single flight across processes)
   * unless another process already did. @throws {UpstreamConnectRequiredError} when only a new connect can help.
   */
  renew(caller: UpstreamCaller, upstream: UpstreamConfig, rejectedToken: string | undefined): Promise<void>;
  /** Marks the caller's account as needing a re-connect (the upstream refused even a fresh token); resolves the error that says where. */
  markReconnect(caller: UpstreamCaller, upstreamId: string, reason: string): Promise<UpstreamConnectRequiredError>;
  /** The error asking the person to approve `scope` for the caller's account (RFC 6750 §3.1 `insufficient_scope`). */
  stepUp(caller: UpstreamCaller, upstreamId: string, scope: string[] | undefined): Promise<UpstreamConnectRequiredError>;
  /**
   * Stores the tokens of a completed connect (in the account they belong to, see
   * {@link UpstreamAccounts.connect}) and tells every process (agents may be waiting).
   */
  save(
    person: Person,
    upstreamId: string,
    tokens: ConnectedTokens,
    origin: TokenOrigin,
    reconnecting?: string,
  ): Promise<{ account: NamedAccount; added: boolean }>;
  /** Resolves `true` once the person completes a connect to the upstream (any account) that started at or after `since`. */
  waitForConnect(
    personId: string,
    upstreamId: string,
    since: number,
    options: { signal?: AbortSignal; timeoutMs: number },
  ): Promise<boolean>;
}

export interface UpstreamConnectionsOptions {
  issuer: string;
  store: Store;
  tokens: UpstreamTokenStore;
  accounts: UpstreamAccounts;
  oauth: UpstreamOAuth;
  logger: Logger;
  upstreams: () => UpstreamConfig[];
  /** Refresh at most this long before expiry (default 60 s; half the lifetime for shorter tokens). */
  refreshAheadMs?: number;
  /** How long a process waits for another's refresh before giving up on this request (default 15 s). */
  refreshWaitMs?: number;
  /** When a token is expired or due for refresh (default the real time). */
  clock?: Clock;
}

/** How long the refresh lock lives if its holder dies mid-refresh. */
const REFRESH_LOCK_MS = 30_000;

export function createUpstreamConnections(options: UpstreamConnectionsOptions): UpstreamConnections {
  const { store, tokens, accounts, oauth, logger } = options;
  const refreshAheadMs = options.refreshAheadMs ?? 60_000;
  const refreshWaitMs = options.refreshWaitMs ?? 15_000;
  const clock = options.clock ?? systemClock;
  const channel = (personId: string) => storeKey('upstream-connect', personId, 'events');

  function connectUrl(upstreamId: string, query: { scope?: string[]; accountId?: string } = {}): string {
    const params = new URLSearchParams();
    if (query.scope?.length) params.set('scope', query.scope.join(' '));
    if (query.accountId) params.set('account', query.accountId);
    return `${options.issuer}/connect/${upstreamId}${params.size ? `?${params}` : ''}`;
  }
  const connectRequired = (
    upstreamId: string,
    reason: ConnectReason,
    extra: { scope?: string[]; internal?: string; accountId?: string } = {},
  ) =>
    new UpstreamConnectRequiredError(
      upstreamId,
      reason,
      connectUrl(upstreamId, { scope: reason === 'insufficient_scope' ? extra.scope : undefined, accountId: extra.accountId }),
      extra,
    );

  const expired = (record: UpstreamConnectionRecord) => record.expiresAt !== undefined && record.expiresAt <= clock.now();
  function dueForRefresh(record: UpstreamConnectionRecord): boolean {
    if (record.expiresAt === undefined) return false;
    const ahead = Math.min(refreshAheadMs, (record.expiresAt - record.refreshedAt) / 2);
    return record.expiresAt - ahead <= clock.now();
  }

  /** The account the caller's agent uses; none is a connect the person must do. */
  async function inUse(caller: UpstreamCaller, upstreamId: string): Promise<HeldAccount> {
    const account = await accounts.inUse(caller.person.id, caller.clientId, upstreamId);
    if (!account) throw connectRequired(upstreamId, 'not_connected');
    return account;
  }

  /** The account's record, usable as is or about to be refreshed; anything else is a connect the person must do. */
  async function usable(key: AccountKey): Promise<StoredConnection> {
    const stored = await tokens.read(key);
    // Disconnected meanwhile: the person connects again (an agent's next request finds the account now in use).
    if (!stored) throw connectRequired(key.upstreamId, 'not_connected');
    if (stored.record.status !== 'connected')
      throw connectRequired(key.upstreamId, 'reconnect_required', { internal: stored.record.reason, accountId: key.accountId });
    return stored;
  }

  /**
   * Single flight across processes (DESIGN.md "State": locks): one process holds the account's
   * refresh lock and refreshes; the others poll until the record carries a token other than the one they saw.
   */
  async function refreshed(key: AccountKey, upstream: UpstreamConfig, seen: string): Promise<string> {
    // A real wait for another process: measured in real time, whatever the clock says.
    const deadline = Date.now() + refreshWaitMs;
    for (;;) {
      const lock = await store.acquireLock(tokens.refreshLockKey(key), REFRESH_LOCK_MS);
      if (lock) {
        try {
          const current = await usable(key);
          if (current.record.accessToken !== seen && !expired(current.record)) return current.record.accessToken;
          return await refreshNow(key, upstream, current);
        } finally {
          await lock.release();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      const current = await usable(key);
      if (current.record.accessToken !== seen && !expired(current.record)) return current.record.accessToken;
      if (Date.now() > deadline)
        throw new UpstreamUnavailableError(upstream.id, { internal: 'another process is still refreshing the upstream token' });
    }
  }

  async function refreshNow(key: AccountKey, upstream: UpstreamConfig, current: StoredConnection): Promise<string> {
    const { record } = current;
    const log = { person: key.personId, upstream: upstream.id, account: key.accountId };
    if (!record.refreshToken) {
      await markAccount(key, 'no_refresh_token');
      throw connectRequired(upstream.id, 'reconnect_required', {
        internal: 'the token expired and there is no refresh token',
        accountId: key.accountId,
      });
    }
    let next: UpstreamTokenSet;
    try {
      next = await oauth.refresh(upstream, record, record.refreshToken);
    } catch (error) {
      const failure = error instanceof UpstreamOAuthError ? error : new UpstreamOAuthError('as_invalid_response', String(error));
      // An outage is not the person's problem to fix: keep the connection, fail this request.
      if (failure.code === 'as_unavailable')
        throw new UpstreamUnavailableError(upstream.id, { internal: `token refresh: ${failure.internal}` });
      const reason = failure.oauthError ?? failure.code;
      logger.warn(
        { event: 'upstream_token_refresh_failed', ...log, reason, internal: failure.internal },
        'upstream token refresh failed; re-connect needed',
      );
      await markAccount(key, reason);
      throw connectRequired(upstream.id, 'reconnect_required', { internal: failure.internal, accountId: key.accountId });
    }
    const updated: UpstreamConnectionRecord = {
      ...record,
      ...next,
      refreshToken: next.refreshToken ?? record.refreshToken,
      scope: next.scope.length ? next.scope : record.scope,
      refreshedAt: clock.now(),
      status: 'connected',
      reason: undefined,
    };
    if (!(await tokens.replace(key, current, updated))) {
      // The person connected again (or disconnected) meanwhile: theirs is the newer truth.
      return (await usable(key)).record.accessToken;
    }
    logger.info({ event: 'upstream_token_refreshed', ...log }, 'upstream token refreshed');
    return updated.accessToken;
  }

  async function markAccount(key: AccountKey, reason: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await tokens.read(key);
      if (!stored || stored.record.status === 'reconnect_required') return;
      if (await tokens.replace(key, stored, { ...stored.record, status: 'reconnect_required', reason })) return;
    }
  }

  function summary(account: HeldAccount): AccountSummary {
    const { record } = account.stored;
    return {
      accountId: account.key.accountId,
      name: account.name,
      ...(record.identity?.name ? { reported: record.identity.name } : {}),
      status: record.status,
      ...(record.reason ? { reason: record.reason } : {}),
      scope: record.scope,
      connectedAt: record.connectedAt,
      refreshedAt: record.refreshedAt,
      ...(record.expiresAt !== undefined ? { expiresAt: record.expiresAt } : {}),
      connectUrl: connectUrl(account.key.upstreamId, { accountId: account.key.accountId }),
    };
  }

  return {
    async accessToken(caller, upstream) {
      const { key } = await inUse(caller, upstream.id);
      const current = await usable(key);
      if (!dueForRefresh(current.record)) return current.record.accessToken;
      return refreshed(key, upstream, current.record.accessToken);
    },

    async renew(caller, upstream, rejectedToken) {
      const { key } = await inUse(caller, upstream.id);
      const current = await usable(key);
      await refreshed(key, upstream, rejectedToken ?? current.record.accessToken);
    },

    async markReconnect(caller, upstreamId, reason) {
      const { key } = await inUse(caller, upstreamId);
      await markAccount(key, reason);
      return connectRequired(upstreamId, 'reconnect_required', { accountId: key.accountId });
    },

    async stepUp(caller, upstreamId, scope) {
      const account = await accounts.inUse(caller.person.id, caller.clientId, upstreamId);
      return connectRequired(upstreamId, 'insufficient_scope', { scope, accountId: account?.key.accountId });
    },

    async save(person, upstreamId, tokenSet, origin, reconnecting) {
      const saved = await accounts.connect(person.id, upstreamId, tokenSet, origin, reconnecting);
      await store.publish(channel(person.id), upstreamId);
      return saved;
    },

    async waitForConnect(personId, upstreamId, since, { signal, timeoutMs }) {
      const connected = async () =>
        (await accounts.at(personId, upstreamId)).some(
          ({ stored: { record } }) => record.status === 'connected' && record.connectedAt >= since,
        );
      let wake: () => void = () => {};
      const woken = new Promise<void>((resolve) => (wake = resolve));
      // Subscribe before looking, so a connect that completes in between is not missed.
      const unsubscribe = await store.subscribe(channel(personId), (message) => message === upstreamId && wake());
      const timer = setTimeout(wake, timeoutMs);
      signal?.addEventListener('abort', wake, { once: true });
      try {
        if (await connected()) return true;
        await woken;
        return await connected();
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        await unsubscribe().catch(() => {});
      }
    },

    async listConnections(person) {
      const held = await accounts.all(person.id);
      return options
        .upstreams()
        .filter((u) => u.credentials.type === 'oauth' && (held.has(u.id) || mayUseUpstream(person, u)))
        .map((upstream) => ({
          upstreamId: upstream.id,
          title: upstream.title ?? upstream.id,
          kind: upstream.kind,
          accounts: (held.get(upstream.id) ?? []).map(summary),
          connectUrl: connectUrl(upstream.id),
        }));
    },

    async accountInUse(person, clientId, upstreamId) {
      return (await accounts.inUse(person.id, clientId, upstreamId))?.key.accountId;
    },

    chooseAccount: (person, clientId, upstreamId, accountId) => accounts.choose(person.id, clientId, upstreamId, accountId),
    renameAccount: (person, upstreamId, accountId, label) => accounts.rename(person.id, upstreamId, accountId, label),

    async disconnect(person, upstreamId, accountId) {
      const account = (await accounts.at(person.id, upstreamId)).find((a) => a.key.accountId === accountId);
      if (!account) return { disconnected: false };
      await tokens.remove(account.key);
      const log = { person: person.id, upstream: upstreamId, account: accountId };
      const named = { key: account.key, name: account.name };
      const upstream = options.upstreams().find((u) => u.id === upstreamId && u.credentials.type === 'oauth');
      if (!upstream) return { disconnected: true, account: named, revoked: false };
      const { record } = account.stored;
      try {
        // Revoking the refresh token ends the grant at most ASes (RFC 7009 §2.1); the access token may live on otherwise.
        let revoked = record.refreshToken ? await oauth.revoke(upstream, record, record.refreshToken, 'refresh_token') : false;
        revoked = (await oauth.revoke(upstream, record, record.accessToken, 'access_token')) || revoked;
        return { disconnected: true, account: named, revoked };
      } catch (error) {
        logger.warn(
          { event: 'upstream_revoke_failed', ...log, internal: (error as UpstreamOAuthError).internal ?? String(error) },
          'revoking at the upstream failed',
        );
        return { disconnected: true, account: named, revoked: false };
      }
    },
  };
}
