import { systemClock, type Clock } from '../clock.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import { GuardedFetchError } from '../net/fetch-errors.js';
import type { Client } from './client.js';
import { APPLICATION_TYPES, impliedApplicationType, redirectUriProblem, type ApplicationType } from './redirect-uris.js';

/**
 * Clients whose `client_id` is an https URL to their metadata (OAuth Client ID Metadata
 * Document, draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25 "Client Registration").
 */
export interface ClientMetadataDocuments {
  /**
   * The client the document at `clientId` describes; `undefined` when it cannot be fetched or is
   * invalid (the caller answers `invalid_client`). `signal`: the request that asks went away.
   */
  resolve(clientId: string, options?: { signal?: AbortSignal }): Promise<Client | undefined>;
}

export interface ClientMetadataDocumentOptions {
  /** Largest document accepted, in bytes (the draft suggests 5 KB). */
  maxBytes?: number;
  /** How long fetching one document may take in all: a document that drips in slowly fails here. */
  deadlineMs?: number;
  /** How many documents a process caches. */
  cacheEntries?: number;
  /** Fetch documents from private, loopback and link-local addresses (off: a client id must not reach inside). */
  allowPrivateAddresses?: boolean;
  /** One-word private-use redirect schemes the operator allows (`clients.private_use_schemes`). */
  privateUseSchemes?: readonly string[];
  /** Trusted CA certificates (PEM) instead of the default ones, for a company CA. */
  ca?: string | string[];
  onError?: (clientId: string, reason: string) => void;
  /** When a fetched document is stale (default the real time). */
  clock?: Clock;
}

export function createClientMetadataDocuments(options: ClientMetadataDocumentOptions = {}): ClientMetadataDocuments {
  const cacheEntries = options.cacheEntries ?? 1_000;
  const clock = options.clock ?? systemClock;
  const cache = new Map<string, { client: Client | undefined; expiresAt: number }>();
  // No redirects at all: the document must live at its own client_id.
  const fetchDocument = createGuardedFetch({
    allowPrivateAddresses: options.allowPrivateAddresses ?? false,
    maxBodyBytes: options.maxBytes ?? 5_120,
    deadlineMs: options.deadlineMs ?? 5_000,
    maxRedirects: 0,
    ca: options.ca,
  });

  function remember(clientId: string, client: Client | undefined, ttlMs: number): Client | undefined {
    cache.delete(clientId);
    cache.set(clientId, { client, expiresAt: clock.now() + ttlMs });
    // Bounded: drop the least recently stored entries.
    while (cache.size > cacheEntries) cache.delete(cache.keys().next().value!);
    return client;
  }

  return {
    async resolve(clientId, { signal } = {}) {
      const hit = cache.get(clientId);
      if (hit && hit.expiresAt > clock.now()) return hit.client;
      let url: URL;
      try {
        url = new URL(clientId);
      } catch {
        return undefined;
      }
      if (url.protocol !== 'https:' || url.pathname === '/' || url.hash || url.username || url.password || url.href !== clientId)
        return undefined;
      try {
        const response = await fetchDocument(url, { headers: { accept: 'application/json' }, signal });
        if (response.status !== 200) throw new Error(`answered HTTP ${response.status}`);
        const client = parseDocument(clientId, JSON.parse(await response.text()), options.privateUseSchemes ?? []);
        return remember(clientId, client, maxAge(response.headers.get('cache-control') ?? undefined));
      } catch (error) {
        // Nobody is waiting for this answer any more; the next request for it fetches again.
        if (error instanceof GuardedFetchError && error.code === 'aborted') return undefined;
        options.onError?.(clientId, error instanceof GuardedFetchError ? `${error.code}: ${error.message}` : (error as Error).message);
        // Failures are cached briefly, so a bad client id cannot make the portal fetch in a loop.
        return remember(clientId, undefined, 30_000);
      }
    },
  };
}

function parseDocument(clientId: string, doc: Record<string, unknown>, oneWordSchemes: readonly string[]): Client {
  if (!doc || typeof doc !== 'object') throw new Error('is not a JSON object');
  if (doc.client_id !== clientId) throw new Error('its client_id does not equal its URL');
  if ('client_secret' in doc) throw new Error('contains a client_secret');
  const method = doc.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') throw new Error('token_endpoint_auth_method must be none');
  const redirectUris = doc.redirect_uris;
  if (!Array.isArray(redirectUris) || redirectUris.length === 0 || redirectUris.some((u) => typeof u !== 'string'))
    throw new Error('redirect_uris is missing or not a list of URIs');
  if (doc.application_type !== undefined && !APPLICATION_TYPES.includes(doc.application_type as ApplicationType))
    throw new Error('application_type must be "web" or "native"');
  // The same rules as dynamic registration: the stated application type, else the one the URIs imply.
  const applicationType = (doc.application_type as ApplicationType | undefined) ?? impliedApplicationType(redirectUris as string[]);
  if (redirectUris.some((u: string) => redirectUriProblem(u, applicationType, oneWordSchemes)))
    throw new Error(`redirect_uris has a URI an application_type "${applicationType}" client may not use`);
  const text = (value: unknown) => (typeof value === 'string' && value.length <= 500 ? value : undefined);
  return {
    clientId,
    kind: 'metadata-document',
    clientName: text(doc.client_name),
    clientUri: text(doc.client_uri),
    logoUri: text(doc.logo_uri),
    applicationType,
    redirectUris: redirectUris as string[],
    grantTypes: Array.isArray(doc.grant_types) ? (doc.grant_types as string[]) : ['authorization_code'],
    tokenEndpointAuthMethod: 'none',
    scope: text(doc.scope),
    issuedAt: Math.floor(Date.now() / 1000),
  };
}

/** Cache lifetime from `Cache-Control: max-age`, bounded to [1 minute, 1 day]; 5 minutes without one. */
function maxAge(header: string | undefined): number {
  const seconds = /max-age=(\d+)/.exec(header ?? '')?.[1];
  if (/no-store/.test(header ?? '')) return 60_000;
  return Math.min(86_400_000, Math.max(60_000, seconds === undefined ? 300_000 : Number(seconds) * 1000));
}
