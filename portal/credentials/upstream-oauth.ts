import * as oauth from 'oauth4webapi';
import { systemClock, type Clock } from '../clock.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { Sealer } from '../crypto/seal.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import { oauthTransport, type OAuthTransport } from '../net/oauth-transport.js';
import type { Store } from '../store/store.js';
import { authorizationResponseIssuerProblem } from './authorization-response.js';
import { parseBearerChallenge } from './challenge.js';
import { createUpstreamClients } from './upstream-clients.js';
import { identityFromIdToken, type UpstreamIdentity } from './upstream-identity.js';
import { UpstreamOAuthError, toOAuthError } from './upstream-oauth-errors.js';

/** Tokens as the portal keeps them; `expiresAt` in ms since the epoch, absent when the AS did not say. */
export interface UpstreamTokenSet {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: number;
  scope: string[];
}

/** What a completed connect yields: the tokens, and whose account they are for when the AS said (an ID token). */
export interface ConnectedTokens extends UpstreamTokenSet {
  identity?: UpstreamIdentity;
}

/** Where the person's tokens come from: enough to refresh and revoke them later, in any process. */
export interface TokenOrigin {
  /**
   * The authorization server's issuer identifier (RFC 8414 §2), from its validated metadata. A
   * connect in progress checks the response's `iss` against it (RFC 9207 §2.4); tokens are
   * refreshed and revoked only there.
   */
  asIssuer: string;
  /** `configured`, or the store key of the client registered at `asIssuer` (keys are per issuer). */
  clientKey: string;
  /** The RFC 8707 resource the tokens are for. */
  resource: string;
}

/** One connect in progress: the PKCE verifier, the `state`, and the issuer it was sent to (RFC 7636 §4.1, RFC 9207 §2.4). */
export interface PendingAuthorization extends TokenOrigin {
  state: string;
  codeVerifier: string;
  redirectUri: string;
  scope: string[];
}

export interface UpstreamOAuth {
  /**
   * Discovers the upstream's authorization server, gets a client there, and builds the
   * authorization request. `signal`: the person's request went away (discovery stops).
   * `chooseAccount`: the person holds another account there already, so the AS is asked to let
   * them pick or sign in afresh rather than reuse its session (OpenID Connect Core 1.0 §3.1.2.1
   * `prompt`; an OAuth-only AS ignores it, RFC 6749 §3.1).
   */
  begin(
    upstream: UpstreamConfig,
    options: { redirectUri: string; extraScope?: string[]; previousScope?: string[]; chooseAccount?: boolean; signal?: AbortSignal },
  ): Promise<{ url: URL; pending: PendingAuthorization }>;
  /**
   * Validates the callback, its `iss` against the recorded issuer first (RFC 9207 §2.4), then
   * `state`, and redeems the code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 8707 §2.2).
   * An ID token in the answer is validated and names the account.
   */
  finish(upstream: UpstreamConfig, callbackUrl: URL, pending: PendingAuthorization): Promise<ConnectedTokens>;
  /** The refresh grant (RFC 6749 §6); a rotated refresh token replaces the old one, else the old one stays. */
  refresh(upstream: UpstreamConfig, origin: TokenOrigin, refreshToken: string): Promise<UpstreamTokenSet>;
  /** Revokes a token (RFC 7009 §2.1) when the AS has a revocation endpoint; resolves whether it was sent. */
  revoke(upstream: UpstreamConfig, origin: TokenOrigin, token: string, hint: 'access_token' | 'refresh_token'): Promise<boolean>;
}

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

/** Upstream access tokens go into an HTTP header: printable ASCII without spaces (RFC 6750 §2.1 b64token, loosely). */
const TOKEN = /^[\x21-\x7e]{1,8192}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
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
  const metadataTtlMs = options.metadataTtlMs ?? 60 * 60_000;
  const clock = options.clock ?? systemClock;
  const servers = new Map<string, { value: oauth.AuthorizationServer; at: number }>();
  const guardedFetch = createGuardedFetch({ allowPrivateAddresses: options.allowPrivateAddresses, deadlineMs: timeoutMs });

  /** oauth4webapi's transport for requests made for `upstream`: trusting only the origins the operator configured for it. */
  function http(upstream: UpstreamConfig, signal?: AbortSignal): OAuthTransport {
    return oauthTransport(guardedFetch, { trustedOrigins: operatorOrigins(upstream), signal });
  }
  const { client } = createUpstreamClients({ store: options.store, sealer: options.sealer, portalIssuer: options.portalIssuer, requestOptions: http, clock });

  /**
   * RFC 9728: the resource's metadata, found through its `401` challenge (§5.1) or the well-known
   * URI (§3.1). Not cached: it names the authorization server a connect goes to, and a person
   * connects seldom.
   */
  async function resourceInfo(upstream: UpstreamConfig, signal?: AbortSignal): Promise<ResourceInfo> {
    const url = upstream.url!;
    if (upstream.credentials.authorization_server) return { resource: url, authorizationServer: upstream.credentials.authorization_server };
    const challenge = await probe(upstream);
    const candidates = challenge?.resourceMetadata ? [challengeMetadataUrl(challenge.resourceMetadata, url)] : wellKnownResourceUrls(url);
    for (const candidate of candidates) {
      const metadata = await fetchJson(candidate, upstream, signal);
      if (metadata === undefined) continue;
      return { ...validateResourceMetadata(metadata, url), challengeScope: challenge?.scope };
    }
    throw new UpstreamOAuthError('as_unsupported', `upstream ${upstream.id} publishes no protected resource metadata (RFC 9728); set credentials.authorization_server`);
  }

  /** An unauthenticated request, to read the upstream's `WWW-Authenticate` (MCP: an `initialize` POST). */
  async function probe(upstream: UpstreamConfig) {
    const url = upstream.url!;
    const init: RequestInit =
      upstream.kind === 'mcp'
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
            body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gatehouse', version: '0' } } }),
          }
        : { method: 'GET' };
    const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) }).catch((error: Error) => {
      throw new UpstreamOAuthError('as_unavailable', `upstream unreachable: ${error.message}`);
    });
    await response.body?.cancel().catch(() => {});
    return response.status === 401 ? parseBearerChallenge(response.headers.get('www-authenticate')) : undefined;
  }

  async function fetchJson(url: string, upstream: UpstreamConfig, signal?: AbortSignal): Promise<unknown> {
    const response = await guardedFetch(url, { headers: { accept: 'application/json' }, trustedOrigins: operatorOrigins(upstream), signal }).catch((error: unknown) => {
      throw toOAuthError(error);
    });
    if (response.status === 404) return undefined;
    if (response.status >= 500) throw new UpstreamOAuthError('as_unavailable', `${url} answered ${response.status}`);
    if (!response.ok) return undefined;
    return response.json().catch(() => {
      throw new UpstreamOAuthError('as_invalid_response', `${url} is not JSON`);
    });
  }

  /**
   * RFC 8414 metadata (path-inserted well-known URI), falling back to OpenID Connect Discovery.
   * Kept per issuer and the origins trusted for the upstream (what one upstream may reach, another
   * may not). Only answers are kept: concurrent discoveries share one request in the fetcher, and
   * a failure is tried again at the next connect.
   */
  async function authorizationServer(issuer: string, upstream: UpstreamConfig, signal?: AbortSignal): Promise<oauth.AuthorizationServer> {
    const key = `${operatorOrigins(upstream).join(' ')}\n${issuer}`;
    const hit = servers.get(key);
    if (hit && clock.now() - hit.at < metadataTtlMs) return hit.value;
    const url = new URL(issuer);
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      try {
        const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm, ...http(upstream, signal) }));
        if (!as.authorization_endpoint || !as.token_endpoint) throw new UpstreamOAuthError('as_invalid_response', `${issuer}: metadata lacks authorization or token endpoint`);
        servers.delete(key);
        servers.set(key, { value: as, at: clock.now() });
        // Bounded: an upstream naming a new issuer at every connect cannot grow it without end.
        if (servers.size > MAX_SERVERS) servers.delete(servers.keys().next().value!);
        return as;
      } catch (error) {
        if (algorithm === 'oidc' || !isNotFound(error)) throw toOAuthError(error);
      }
    }
    throw new UpstreamOAuthError('as_invalid_response', `${issuer}: no metadata`);
  }

  async function origin(upstream: UpstreamConfig, tokenOrigin: TokenOrigin, redirectUri = '') {
    const as = await authorizationServer(tokenOrigin.asIssuer, upstream);
    return { as, ...(await client(upstream, as, redirectUri, tokenOrigin.clientKey)) };
  }

  return {
    async begin(upstream, { redirectUri, extraScope = [], previousScope = [], chooseAccount = false, signal }) {
      const info = await resourceInfo(upstream, signal);
      const as = await authorizationServer(info.authorizationServer, upstream, signal);
      const { client: oauthClient, key } = await client(upstream, as, redirectUri);
      const configured = upstream.credentials.scopes;
      const base = configured.length ? configured : (info.challengeScope ?? info.scopesSupported ?? []);
      const wanted = new Set([...base, ...previousScope, ...extraScope]);
      // Refresh tokens are what lets the connection outlive one access token.
      if (as.scopes_supported?.includes('offline_access')) wanted.add('offline_access');
      // An ID token says whose account this is (OpenID Connect Core 1.0 §3.1.2.1): the connections page shows it.
      if (as.scopes_supported?.includes('openid')) wanted.add('openid');
      const scope = [...wanted].filter((s) => SCOPE_TOKEN.test(s));
      const state = oauth.generateRandomState();
      const codeVerifier = oauth.generateRandomCodeVerifier();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: oauthClient.client_id,
        redirect_uri: redirectUri,
        state,
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        resource: info.resource,
        ...(scope.length ? { scope: scope.join(' ') } : {}),
        ...(chooseAccount ? { prompt: accountPrompt(as, scope) } : {}),
      }).toString();
      return { url, pending: { state, codeVerifier, redirectUri, scope, asIssuer: as.issuer, clientKey: key, resource: info.resource } };
    },

    async finish(upstream, callbackUrl, pending) {
      try {
        const { as, client: oauthClient, auth } = await origin(upstream, pending, pending.redirectUri);
        const issuerProblem = authorizationResponseIssuerProblem(callbackUrl.searchParams, pending.asIssuer, as.authorization_response_iss_parameter_supported === true);
        if (issuerProblem) throw new UpstreamOAuthError('as_issuer_mismatch', `authorization response ${issuerProblem}`);
        const params = oauth.validateAuthResponse(as, oauthClient, callbackUrl, pending.state);
        const response = await oauth.authorizationCodeGrantRequest(as, oauthClient, auth, params, pending.redirectUri, pending.codeVerifier, {
          additionalParameters: { resource: pending.resource },
          ...http(upstream),
        });
        const answer = await oauth.processAuthorizationCodeResponse(as, oauthClient, response);
        const identity = identityFromIdToken(oauth.getValidatedIdTokenClaims(answer));
        return { ...toTokenSet(answer, pending.scope, clock), ...(identity ? { identity } : {}) };
      } catch (error) {
        throw toOAuthError(error);
      }
    },

    async refresh(upstream, tokenOrigin, refreshToken) {
      try {
        const { as, client: oauthClient, auth } = await origin(upstream, tokenOrigin);
        const response = await oauth.refreshTokenGrantRequest(as, oauthClient, auth, refreshToken, { additionalParameters: { resource: tokenOrigin.resource }, ...http(upstream) });
        const tokens = toTokenSet(await oauth.processRefreshTokenResponse(as, oauthClient, response), [], clock);
        return { ...tokens, refreshToken: tokens.refreshToken ?? refreshToken };
      } catch (error) {
        throw toOAuthError(error);
      }
    },

    async revoke(upstream, tokenOrigin, token, hint) {
      try {
        const { as, client: oauthClient, auth } = await origin(upstream, tokenOrigin);
        if (!as.revocation_endpoint) return false;
        const response = await oauth.revocationRequest(as, oauthClient, auth, token, { additionalParameters: { token_type_hint: hint }, ...http(upstream) });
        await oauth.processRevocationResponse(response);
        return true;
      } catch (error) {
        throw toOAuthError(error);
      }
    },
  };
}

/**
 * `prompt` for connecting another account: `select_account` where the AS offers it, else `login`;
 * with `consent` when asking for `offline_access`, which OpenID Connect Core 1.0 §11 requires (and
 * without which oidc-provider drops it, and with it the refresh token).
 */
function accountPrompt(as: oauth.AuthorizationServer, scope: string[]): string {
  const supported = as.prompt_values_supported;
  const choose = Array.isArray(supported) && supported.includes('select_account') ? 'select_account' : 'login';
  return scope.includes('offline_access') ? `${choose} consent` : choose;
}

interface ResourceInfo {
  resource: string;
  authorizationServer: string;
  scopesSupported?: string[];
  challengeScope?: string[];
}

/**
 * The origins the operator wrote for `upstream`: its URL's, and its configured authorization
 * server's. What is on them is fetched wherever they are (the upstreams of tests and the demo live
 * on loopback); anything else an upstream names is learned, and guarded.
 */
function operatorOrigins(upstream: UpstreamConfig): string[] {
  const configured = [upstream.url, upstream.credentials.authorization_server].filter((u): u is string => u !== undefined);
  return [...new Set(configured.map((u) => new URL(u).origin))];
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
    throw new UpstreamOAuthError('as_invalid_response', 'the challenge\'s resource_metadata is not a URL');
  }
  if (url.origin !== new URL(upstreamUrl).origin && url.protocol !== 'https:') {
    throw new UpstreamOAuthError('as_invalid_response', `the challenge's resource_metadata ${url.origin}${url.pathname} is neither on the upstream's origin nor https`);
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
  if (resource.origin !== upstream.origin || !(upstream.pathname === prefix || upstream.pathname.startsWith(`${prefix}/`) || prefix === '')) {
    throw new UpstreamOAuthError('as_invalid_response', `resource metadata names ${doc.resource}, not ${upstreamUrl}`);
  }
  const servers = Array.isArray(doc.authorization_servers) ? doc.authorization_servers.filter((s): s is string => typeof s === 'string' && /^https?:\/\//.test(s)) : [];
  if (!servers.length) throw new UpstreamOAuthError('as_invalid_response', 'resource metadata lists no authorization_servers');
  const scopes = Array.isArray(doc.scopes_supported) ? doc.scopes_supported.filter((s): s is string => typeof s === 'string') : undefined;
  return { resource: doc.resource, authorizationServer: servers[0]!, ...(scopes?.length ? { scopesSupported: scopes } : {}) };
}

/** Checks what oauth4webapi leaves to the application: a bearer token that fits in a header (RFC 6750 §2.1). */
function toTokenSet(response: oauth.TokenEndpointResponse, requested: string[], clock: Clock): UpstreamTokenSet {
  if (!TOKEN.test(response.access_token)) throw new UpstreamOAuthError('as_invalid_response', 'access_token is not a usable bearer token');
  if (response.token_type !== 'bearer') throw new UpstreamOAuthError('as_invalid_response', `token_type ${response.token_type} is not bearer`);
  if (response.refresh_token !== undefined && !TOKEN.test(response.refresh_token)) throw new UpstreamOAuthError('as_invalid_response', 'refresh_token is malformed');
  const expiresIn = response.expires_in;
  if (expiresIn !== undefined && (!Number.isFinite(expiresIn) || expiresIn < 0)) throw new UpstreamOAuthError('as_invalid_response', 'expires_in is not a non-negative number');
  return {
    accessToken: response.access_token,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(expiresIn !== undefined ? { expiresAt: clock.now() + expiresIn * 1000 } : {}),
    // RFC 6749 §5.1: no scope in the answer means the scope asked for.
    scope: typeof response.scope === 'string' ? response.scope.split(' ').filter(Boolean) : requested,
  };
}

function isNotFound(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Response && cause.status === 404;
}

