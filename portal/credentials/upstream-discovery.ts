import type { UpstreamConfig } from '../config/schema.js';
import type { GuardedFetch } from '../net/guarded-fetch.js';
import { discoverAuthorizationServer, requireCodeFlowEndpoints, type CodeFlowServer } from '../oauth-client/discovery.js';
import type { MetadataCache } from '../oauth-client/metadata-cache.js';
import { parseBearerChallenge } from './challenge.js';
import { UpstreamOAuthError, toOAuthError } from './upstream-oauth-errors.js';
import { operatorOrigins, type UpstreamTransport } from './upstream-transport.js';
import { PORTAL_VERSION } from '../version.js';

/** What RFC 9728 says about an upstream: the resource its tokens are for, and its authorization server. */
export interface ResourceInfo {
  resource: string;
  authorizationServer: string;
  scopesSupported?: string[];
  /** The scope the upstream's `401` challenge asked for (RFC 6750 §3). */
  challengeScope?: string[];
}

/** Where an upstream's tokens come from: its protected resource metadata, then its authorization server's. */
export interface UpstreamDiscovery {
  /**
   * RFC 9728: the resource's metadata, found through its `401` challenge (§5.1) or the well-known
   * URI (§3.1). Not cached: it names the authorization server a connect goes to, and a person
   * connects seldom. `signal`: the person's request went away (discovery stops).
   */
  resourceInfo(upstream: UpstreamConfig, signal?: AbortSignal): Promise<ResourceInfo>;
  /**
   * RFC 8414 metadata (path-inserted well-known URI), falling back to OpenID Connect Discovery.
   * Kept per issuer and the origins trusted for the upstream (what one upstream may reach, another
   * may not).
   */
  authorizationServer(issuer: string, upstream: UpstreamConfig, signal?: AbortSignal): Promise<CodeFlowServer>;
}

export interface UpstreamDiscoveryOptions {
  /** Fetches what an upstream publishes, and what that names. */
  guardedFetch: GuardedFetch;
  /** oauth4webapi's transport for requests made for an upstream. */
  transport: UpstreamTransport;
  /** Authorization server metadata, shared by every upstream. */
  metadata: MetadataCache;
  /** How long the unauthenticated probe of an upstream may take. */
  timeoutMs: number;
}

/**
 * Discovery for the `oauth` strategy: what the upstream publishes is fetched through the guarded
 * fetcher (only the operator's own origins are trusted), its authorization server's metadata
 * through the OAuth client kit and its cache.
 */
export function createUpstreamDiscovery(options: UpstreamDiscoveryOptions): UpstreamDiscovery {
  const { guardedFetch, timeoutMs } = options;

  async function resourceInfo(upstream: UpstreamConfig, signal?: AbortSignal): Promise<ResourceInfo> {
    const url = upstream.url!;
    if (upstream.credentials.authorizationServer) return { resource: url, authorizationServer: upstream.credentials.authorizationServer };
    const challenge = await probe(upstream);
    const candidates = challenge?.resourceMetadata ? [challengeMetadataUrl(challenge.resourceMetadata, url)] : wellKnownResourceUrls(url);
    for (const candidate of candidates) {
      const metadata = await fetchJson(candidate, upstream, signal);
      if (metadata === undefined) continue;
      return { ...validateResourceMetadata(metadata, url), challengeScope: challenge?.scope };
    }
    throw new UpstreamOAuthError(
      'as_unsupported',
      `upstream ${upstream.id} publishes no protected resource metadata (RFC 9728); set credentials.authorizationServer`,
    );
  }

  /** An unauthenticated request, to read the upstream's `WWW-Authenticate` (MCP: an `initialize` POST). */
  async function probe(upstream: UpstreamConfig) {
    const url = upstream.url!;
    const init: RequestInit =
      upstream.kind === 'mcp'
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
            body: JSON.stringify({
              jsonrpc: '2.0',
              id: 0,
              method: 'initialize',
              params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gatehouse', version: PORTAL_VERSION } },
            }),
          }
        : { method: 'GET' };
    const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) }).catch((error: Error) => {
      throw new UpstreamOAuthError('as_unavailable', `upstream unreachable: ${error.message}`);
    });
    await response.body?.cancel().catch(() => {});
    return response.status === 401 ? parseBearerChallenge(response.headers.get('www-authenticate')) : undefined;
  }

  async function fetchJson(url: string, upstream: UpstreamConfig, signal?: AbortSignal): Promise<unknown> {
    const response = await guardedFetch(url, {
      headers: { accept: 'application/json' },
      trustedOrigins: operatorOrigins(upstream),
      signal,
    }).catch((error: unknown) => {
      throw toOAuthError(error);
    });
    if (response.status === 404) return undefined;
    if (response.status >= 500) throw new UpstreamOAuthError('as_unavailable', `${url} answered ${response.status}`);
    if (!response.ok) return undefined;
    return response.json().catch(() => {
      throw new UpstreamOAuthError('as_invalid_response', `${url} is not JSON`);
    });
  }

  function authorizationServer(issuer: string, upstream: UpstreamConfig, signal?: AbortSignal): Promise<CodeFlowServer> {
    return options.metadata
      .get(`${operatorOrigins(upstream).join(' ')}\n${issuer}`, async () =>
        requireCodeFlowEndpoints(await discoverAuthorizationServer(issuer, ['oauth2', 'oidc'], options.transport(upstream, signal))),
      )
      .catch((error: unknown) => {
        throw toOAuthError(error);
      });
  }

  return { resourceInfo, authorizationServer };
}

/**
 * The `resource_metadata` URL of a `401` challenge (RFC 9728 §5.1), if the portal may fetch it:
 * on the upstream's own origin, or https. A plain-http URL elsewhere is refused whatever the
 * address allowances, so a challenge cannot send the portal to an internal http service.
 */
function challengeMetadataUrl(resourceMetadata: string, upstreamUrl: string): string {
  let url: URL;
  try {
    url = new URL(resourceMetadata);
  } catch {
    throw new UpstreamOAuthError('as_invalid_response', "the challenge's resource_metadata is not a URL");
  }
  if (url.origin !== new URL(upstreamUrl).origin && url.protocol !== 'https:') {
    throw new UpstreamOAuthError(
      'as_invalid_response',
      `the challenge's resource_metadata ${url.origin}${url.pathname} is neither on the upstream's origin nor https`,
    );
  }
  return url.href;
}

/** RFC 9728 §3.1: `/.well-known/oauth-protected-resource` inserted before the path, then at the root. */
function wellKnownResourceUrls(url: string): string[] {
  const { origin, pathname } = new URL(url);
  const path = pathname.replace(/\/+$/, '');
  return [...new Set([`${origin}/.well-known/oauth-protected-resource${path}`, `${origin}/.well-known/oauth-protected-resource`])];
}

/**
 * RFC 9728 §3.3: the metadata must name this resource. A resource that names an origin or a path
 * prefix of the upstream URL covers it (as MCP clients accept); anything else is refused, so a
 * hostile metadata document cannot point tokens at another resource.
 */
function validateResourceMetadata(metadata: unknown, upstreamUrl: string): Omit<ResourceInfo, 'challengeScope'> {
  const doc = (metadata ?? {}) as { resource?: unknown; authorization_servers?: unknown; scopes_supported?: unknown };
  if (typeof doc.resource !== 'string') throw new UpstreamOAuthError('as_invalid_response', 'resource metadata lacks "resource"');
  let resource: URL;
  try {
    resource = new URL(doc.resource);
  } catch {
    throw new UpstreamOAuthError('as_invalid_response', 'resource metadata "resource" is not a URL');
  }
  const upstream = new URL(upstreamUrl);
  const prefix = resource.pathname.replace(/\/+$/, '');
  if (
    resource.origin !== upstream.origin ||
    !(upstream.pathname === prefix || upstream.pathname.startsWith(`${prefix}/`) || prefix === '')
  ) {
    throw new UpstreamOAuthError('as_invalid_response', `resource metadata names ${doc.resource}, not ${upstreamUrl}`);
  }
  const servers = Array.isArray(doc.authorization_servers)
    ? doc.authorization_servers.filter((s): s is string => typeof s === 'string' && /^https?:\/\//.test(s))
    : [];
  if (!servers.length) throw new UpstreamOAuthError('as_invalid_response', 'resource metadata lists no authorization_servers');
  const scopes = Array.isArray(doc.scopes_supported) ? doc.scopes_supported.filter((s): s is string => typeof s === 'string') : undefined;
  return { resource: doc.resource, authorizationServer: servers[0]!, ...(scopes?.length ? { scopesSupported: scopes } : {}) };
}
