import { systemClock, type Clock } from '../clock.js';
import type { Sealer } from '../crypto/seal.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import { createMetadataCache } from '../oauth-client/metadata-cache.js';
import type { Store } from '../store/store.js';
import { createUpstreamDiscovery } from './upstream-discovery.js';
import { createUpstreamGrants } from './upstream-grants.js';
import type { UpstreamOAuth } from './upstream-oauth-types.js';
import { createUpstreamRegistration } from './upstream-registration.js';
import { createUpstreamTransport } from './upstream-transport.js';

export interface UpstreamOAuthOptions {
  store: Store;
  /** Seals dynamically registered client credentials at rest. */
  sealer: Sealer;
  /** The portal's issuer: its name at the upstream's AS. */
  portalIssuer: string;
  /**
   * Let what an upstream publishes (its RFC 9728 metadata, the authorization servers and endpoints
   * it names) lead to private, loopback and link-local addresses. The upstream's own configured
   * origin and a configured `credentials.authorization_server` are always allowed.
   */
  allowPrivateAddresses: boolean;
  /** When tokens expire, registrations lapse and cached metadata is stale (default the real time). */
  clock?: Clock;
  /** How long one HTTP exchange with an upstream or its AS may take in all, body included. */
  timeoutMs?: number;
  /** How long an authorization server's metadata (RFC 8414) is reused. */
  metadataTtlMs?: number;
}

/** Authorization server metadata documents kept at once. */
const MAX_SERVERS = 1_000;

/**
 * The portal as an OAuth 2.1 client of an upstream's own authorization server, with
 * oauth4webapi: RFC 9728 protected resource metadata from the upstream's `401` (read afresh at
 * every connect, so a move to another AS is seen), then RFC 8414 (or OpenID Connect Discovery)
 * metadata of its AS, a configured client or one registered dynamically (RFC 7591, kept per
 * issuer and redirect URI and never used with another AS: MCP 2026-07-28 "Authorization Server
 * Binding"), PKCE S256, the `resource` parameter (RFC 8707) on every authorization and token
 * request, and the `iss` of the authorization response checked (RFC 9207).
 */
export function createUpstreamOAuth(options: UpstreamOAuthOptions): UpstreamOAuth {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const guardedFetch = createGuardedFetch({ allowPrivateAddresses: options.allowPrivateAddresses, deadlineMs: timeoutMs });
  const transport = createUpstreamTransport(guardedFetch);
  const clock = options.clock ?? systemClock;
  const metadata = createMetadataCache({ ttlMs: options.metadataTtlMs ?? 60 * 60_000, maxEntries: MAX_SERVERS, clock });
  return createUpstreamGrants({
    discovery: createUpstreamDiscovery({ guardedFetch, transport, metadata, timeoutMs }),
    registration: createUpstreamRegistration({
      store: options.store,
      sealer: options.sealer,
      portalIssuer: options.portalIssuer,
      transport,
      clock,
    }),
    transport,
    clock,
  });
}
