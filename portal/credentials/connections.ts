import type { Logger } from 'pino';
import { UpstreamConnectRequiredError, UpstreamUnavailableError, type ConnectReason } from '../../adapters/upstream-errors.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';
import { mayUseUpstream } from '../policy/access.js';
import { storeKey, type Store } from '../store/store.js';
import type { TokenOrigin, UpstreamOAuth, UpstreamTokenSet } from './upstream-oauth.js';
import { UpstreamOAuthError } from './upstream-oauth-errors.js';
import type { StoredConnection, UpstreamConnectionRecord, UpstreamTokenStore } from './upstream-tokens.js';

/** A person's connection to an `oauth` upstream, as the `/connections` page shows it. No token in it. */
export interface ConnectionSummary {
  upstreamId: string;
  title: string;
  status: 'connected' | 'reconnect_required' | 'not_connected';
  /** Why a re-connect is needed, as a stable code (`invalid_grant`, `upstream_refused_token`, …). */
  reason?: string;
  scope: string[];
  /** ms since the epoch */
  connectedAt?: number;
  refreshedAt?: number;
  expiresAt?: number;
  /** Where the person (re)connects: `{issuer}/connect/{id}`. */
  connectUrl: string;
}

/**
 * Each person's own accounts at `oauth` upstreams (issue 6). This is the API of the
 * `/connections` page: {@link listConnections} and {@link disconnect}.
 */
export interface UpstreamConnections {
  /** Every `oauth` upstream the person may use, and any they still hold tokens for, in config order. */
  listConnections(person: Person): Promise<ConnectionSummary[]>;
  /**
   * Forgets the person's tokens at the upstream, then revokes them there (RFC 7009 §2.1: the
   * refresh token, then the access token) when its AS has a revocation endpoint. Resolves
   * whether there was a connection and whether the AS confirmed revocation.
   */
  disconnect(person: Person, upstreamId: string): Promise<{ disconnected: boolean; revoked: boolean }>;
  /** The person's access token there, refreshed first when it is about to expire. @throws {UpstreamConnectRequiredError} */
  accessToken(person: Person, upstream: UpstreamConfig): Promise<string>;
  /**
   * The upstream refused `rejectedToken` with 401: refresh once (single flight across processes)
   * unless another process already did. @throws {UpstreamConnectRequiredError} when only a new connect can help.
   */
  renew(person: Person, upstream: UpstreamConfig, rejectedToken: string | undefined): Promise<void>;
  /** Marks the connection as needing a re-connect (the upstream refused even a fresh token). */
  markReconnect(personId: string, upstreamId: string, reason: string): Promise<void>;
  /** Stores the tokens of a completed connect and tells every process (agents may be waiting). */
  save(person: Person, upstreamId: string, tokens: UpstreamTokenSet, origin: TokenOrigin): Promise<void>;
  /** Resolves `true` once the person completes a connect to the upstream that started at or after `since`. */
  waitForConnect(personId: string, upstreamId: string, since: number, options: { signal?: AbortSignal; timeoutMs: number }): Promise<boolean>;
  connectUrl(upstreamId: string, scope?: string[]): string;
  connectRequired(upstreamId: string, reason: ConnectReason, options?: { scope?: string[]; internal?: string }): UpstreamConnectRequiredError;
}

export interface UpstreamConnectionsOptions {
  issuer: string;
  store: Store;
  tokens: UpstreamTokenStore;
  oauth: UpstreamOAuth;
  logger: Logger;
  upstreams: () => UpstreamConfig[];
  /** Refresh at most this long before expiry (default 60 s; half the lifetime for shorter tokens). */
  refreshAheadMs?: number;
  /** How long a process waits for another's refresh before giving up on this request (default 15 s). */
  refreshWaitMs?: number;
}

/** How long the refresh lock lives if its holder dies mid-refresh. */
const REFRESH_LOCK_MS = 30_000;

export function createUpstreamConnections(options: UpstreamConnectionsOptions): UpstreamConnections {
  const { store, tokens, oauth, logger } = options;
  const refreshAheadMs = options.refreshAheadMs ?? 60_000;
  const refreshWaitMs = options.refreshWaitMs ?? 15_000;
  const channel = (personId: string) => storeKey('upstream-connect', personId, 'events');

  const connectUrl = (upstreamId: string, scope?: string[]) =>
    `${options.issuer}/connect/${upstreamId}${scope?.length ? `?${new URLSearchParams({ scope: scope.join(' ') })}` : ''}`;
  const connectRequired: UpstreamConnections['connectRequired'] = (upstreamId, reason, extra = {}) =>
    new UpstreamConnectRequiredError(upstreamId, reason, connectUrl(upstreamId, reason === 'insufficient_scope' ? extra.scope : undefined), extra);

  const expired = (record: UpstreamConnectionRecord) => record.expiresAt !== undefined && record.expiresAt <= Date.now();
  function dueForRefresh(record: UpstreamConnectionRecord): boolean {
    if (record.expiresAt === undefined) return false;
    const ahead = Math.min(refreshAheadMs, (record.expiresAt - record.refreshedAt) / 2);
    return record.expiresAt - ahead <= Date.now();
  }

  /** The record, usable as is or about to be refreshed; anything else is a connect the person must do. */
  async function usable(person: Person, upstreamId: string): Promise<StoredConnection> {
    const stored = await tokens.read(person.id, upstreamId);
    if (!stored) throw connectRequired(upstreamId, 'not_connected');
    if (stored.record.status !== 'connected') throw connectRequired(upstreamId, 'reconnect_required', { internal: stored.record.reason });
    return stored;
  }

  /**
   * Single flight across processes (DESIGN.md "State": locks): one process holds the refresh lock
   * and refreshes; the others poll until the record carries a token other than the one they saw.
   */
  async function refreshed(person: Person, upstream: UpstreamConfig, seen: string): Promise<string> {
    const deadline = Date.now() + refreshWaitMs;
    for (;;) {
      const lock = await store.acquireLock(tokens.refreshLockKey(person.id, upstream.id), REFRESH_LOCK_MS);
      if (lock) {
        try {
          const current = await usable(person, upstream.id);
          if (current.record.accessToken !== seen && !expired(current.record)) return current.record.accessToken;
          return await refreshNow(person, upstream, current);
        } finally {
          await lock.release();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      const current = await usable(person, upstream.id);
      if (current.record.accessToken !== seen && !expired(current.record)) return current.record.accessToken;
      if (Date.now() > deadline) throw new UpstreamUnavailableError(upstream.id, { internal: 'another process is still refreshing the upstream token' });
    }
  }

  async function refreshNow(person: Person, upstream: UpstreamConfig, current: StoredConnection): Promise<string> {
    const { record } = current;
    if (!record.refreshToken) {
      await markReconnect(person.id, upstream.id, 'no_refresh_token');
      throw connectRequired(upstream.id, 'reconnect_required', { internal: 'the token expired and there is no refresh token' });
    }
    let next: UpstreamTokenSet;
    try {
      next = await oauth.refresh(upstream, record, record.refreshToken);
    } catch (error) {
      const failure = error instanceof UpstreamOAuthError ? error : new UpstreamOAuthError('as_invalid_response', String(error));
      // An outage is not the person's problem to fix: keep the connection, fail this request.
      if (failure.code === 'as_unavailable') throw new UpstreamUnavailableError(upstream.id, { internal: `token refresh: ${failure.internal}` });
      const reason = failure.oauthError ?? failure.code;
      logger.warn({ event: 'upstream_token_refresh_failed', person: person.id, upstream: upstream.id, reason, internal: failure.internal }, 'upstream token refresh failed; re-connect needed');
      await markReconnect(person.id, upstream.id, reason);
      throw connectRequired(upstream.id, 'reconnect_required', { internal: failure.internal });
    }
    const updated: UpstreamConnectionRecord = { ...record, ...next, refreshToken: next.refreshToken ?? record.refreshToken, scope: next.scope.length ? next.scope : record.scope, refreshedAt: Date.now(), status: 'connected', reason: undefined };
    if (!(await tokens.replace(person.id, upstream.id, current, updated))) {
      // The person connected again (or disconnected) meanwhile: theirs is the newer truth.
      return (await usable(person, upstream.id)).record.accessToken;
    }
    logger.info({ event: 'upstream_token_refreshed', person: person.id, upstream: upstream.id }, 'upstream token refreshed');
    return updated.accessToken;
  }

  async function markReconnect(personId: string, upstreamId: string, reason: string): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await tokens.read(personId, upstreamId);
      if (!stored || stored.record.status === 'reconnect_required') return;
      if (await tokens.replace(personId, upstreamId, stored, { ...stored.record, status: 'reconnect_required', reason })) return;
    }
  }

  return {
    connectUrl,
    connectRequired,
    markReconnect,

    async accessToken(person, upstream) {
      const current = await usable(person, upstream.id);
      if (!dueForRefresh(current.record)) return current.record.accessToken;
      return refreshed(person, upstream, current.record.accessToken);
    },

    async renew(person, upstream, rejectedToken) {
      const current = await usable(person, upstream.id);
      await refreshed(person, upstream, rejectedToken ?? current.record.accessToken);
    },

    async save(person, upstreamId, tokenSet, origin) {
      const now = Date.now();
      await tokens.write(person.id, upstreamId, { ...tokenSet, ...origin, status: 'connected', connectedAt: now, refreshedAt: now });
      await store.publish(channel(person.id), upstreamId);
    },

    async waitForConnect(personId, upstreamId, since, { signal, timeoutMs }) {
      const connected = async () => {
        const stored = await tokens.read(personId, upstreamId);
        return stored?.record.status === 'connected' && stored.record.connectedAt >= since;
      };
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
      const held = new Set(await tokens.upstreamIds(person.id));
      const upstreams = options.upstreams().filter((u) => u.credentials.type === 'oauth' && (held.has(u.id) || mayUseUpstream(person, u)));
      const summaries: ConnectionSummary[] = [];
      for (const upstream of upstreams) {
        const stored = held.has(upstream.id) ? await tokens.read(person.id, upstream.id) : undefined;
        const record = stored?.record;
        summaries.push({
          upstreamId: upstream.id,
          title: upstream.title ?? upstream.id,
          status: record?.status ?? 'not_connected',
          ...(record?.reason ? { reason: record.reason } : {}),
          scope: record?.scope ?? [],
          ...(record ? { connectedAt: record.connectedAt, refreshedAt: record.refreshedAt, expiresAt: record.expiresAt } : {}),
          connectUrl: connectUrl(upstream.id),
        });
      }
      return summaries;
    },

    async disconnect(person, upstreamId) {
      const stored = await tokens.read(person.id, upstreamId);
      await tokens.remove(person.id, upstreamId);
      if (!stored) return { disconnected: false, revoked: false };
      logger.info({ event: 'upstream_disconnected', person: person.id, upstream: upstreamId }, 'upstream disconnected');
      const upstream = options.upstreams().find((u) => u.id === upstreamId && u.credentials.type === 'oauth');
      if (!upstream) return { disconnected: true, revoked: false };
      const { record } = stored;
      try {
        // Revoking the refresh token ends the grant at most ASes (RFC 7009 §2.1); the access token may live on otherwise.
        let revoked = record.refreshToken ? await oauth.revoke(upstream, record, record.refreshToken, 'refresh_token') : false;
        revoked = (await oauth.revoke(upstream, record, record.accessToken, 'access_token')) || revoked;
        return { disconnected: true, revoked };
      } catch (error) {
        logger.warn({ event: 'upstream_revoke_failed', person: person.id, upstream: upstreamId, internal: (error as UpstreamOAuthError).internal ?? String(error) }, 'revoking at the upstream failed');
        return { disconnected: true, revoked: false };
      }
    },
  };
}
