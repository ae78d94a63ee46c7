import * as oauth from 'oauth4webapi';
import type { UpstreamConfig } from '../config/schema.js';
import { sha256 } from '../crypto/hash.js';
import type { Sealer } from '../crypto/seal.js';
import { storeKey, type Store } from '../store/store.js';
import { parseBearerChallenge } from './challenge.js';

/** Why talking to an upstream's authorization server failed, as a stable code. */
export type UpstreamOAuthErrorCode =
  /** Unreachable, timed out, or 5xx. Transient: nothing about the connection changes. */
  | 'as_unavailable'
  /** The authorization server or resource answered something that fails validation (metadata, token response). */
  | 'as_invalid_response'
  /** The authorization server refused (an OAuth error such as `invalid_grant`, RFC 6749 §5.2). */
  | 'as_refused'
  /** The upstream cannot be used with the `oauth` strategy as configured (no discoverable AS, no way to get a client). */
  | 'as_unsupported';

/** A failed exchange with an upstream's authorization server. `internal` is for logs only. */
export class UpstreamOAuthError extends Error {
  constructor(
    readonly code: UpstreamOAuthErrorCode,
    readonly internal: string,
    readonly oauthError?: string,
  ) {
    super(internal);
    this.name = 'UpstreamOAuthError';
  }
}

/** Tokens as the portal keeps them; `expiresAt` in ms since the epoch, absent when the AS did not say. */
export interface UpstreamTokenSet {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: number;
  scope: string[];
}

/** Where the person's tokens come from: enough to refresh and revoke them later, in any process. */
export interface TokenOrigin {
  /** The authorization server's issuer identifier (RFC 8414 §2). */
  asIssuer: string;
  /** `configured`, or the store key of the dynamically registered client. */
  clientKey: string;
  /** The RFC 8707 resource the tokens are for. */
  resource: string;
}

/** One connect in progress: the PKCE verifier and where it happens (RFC 7636 §4.1). */
export interface PendingAuthorization extends TokenOrigin {
  state: string;
  codeVerifier: string;
  redirectUri: string;
  scope: string[];
}

export interface UpstreamOAuth {
  /** Discovers the upstream's authorization server, gets a client there, and builds the authorization request. */
  begin(upstream: UpstreamConfig, options: { redirectUri: string; extraScope?: string[]; previousScope?: string[] }): Promise<{ url: URL; pending: PendingAuthorization }>;
  /** Validates the callback and redeems the code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 8707 §2.2). */
  finish(upstream: UpstreamConfig, callbackUrl: URL, pending: PendingAuthorization): Promise<UpstreamTokenSet>;
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
  /** How long one HTTP request to an upstream or its AS may take. */
  timeoutMs?: number;
  /** How long discovered metadata is reused. */
  metadataTtlMs?: number;
}

/** Upstream access tokens go into an HTTP header: printable ASCII without spaces (RFC 6750 §2.1 b64token, loosely). */
const TOKEN = /^[\x21-\x7e]{1,8192}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The portal as an OAuth 2.1 client of an upstream's own authorization server, with
 * oauth4webapi: RFC 9728 protected resource metadata from the upstream's `401`, then RFC 8414
 * (or OpenID Connect Discovery) metadata of its AS, a configured client or one registered
 * dynamically (RFC 7591, cached per AS and redirect URI), PKCE S256, and the `resource`
 * parameter (RFC 8707) on every authorization and token request.
 */
export function createUpstreamOAuth(options: UpstreamOAuthOptions): UpstreamOAuth {
  const { store, sealer } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const metadataTtlMs = options.metadataTtlMs ?? 60 * 60_000;
  const resources = new Map<string, { value: Promise<ResourceInfo>; at: number }>();
  const servers = new Map<string, { value: Promise<oauth.AuthorizationServer>; at: number }>();

  function http(url: string) {
    // Plain http only towards loopback (tests, local demos); anything else must be https.
    return { [oauth.allowInsecureRequests]: isLoopback(url), signal: () => AbortSignal.timeout(timeoutMs) };
  }

  function cached<T>(map: Map<string, { value: Promise<T>; at: number }>, key: string, load: () => Promise<T>): Promise<T> {
    const hit = map.get(key);
    if (hit && Date.now() - hit.at < metadataTtlMs) return hit.value;
    const value = load();
    map.set(key, { value, at: Date.now() });
    // A failure is not remembered: the next person's connect tries again.
    value.catch(() => map.get(key)?.value === value && map.delete(key));
    return value;
  }

  /** RFC 9728: the resource's metadata, found through its `401` challenge (§5.1) or the well-known URI (§3.1). */
  function resourceInfo(upstream: UpstreamConfig): Promise<ResourceInfo> {
    const url = upstream.url!;
    return cached(resources, `${upstream.id}\n${url}\n${upstream.credentials.authorization_server ?? ''}`, async () => {
      if (upstream.credentials.authorization_server) return { resource: url, authorizationServer: upstream.credentials.authorization_server };
      const challenge = await probe(upstream);
      const candidates = challenge?.resourceMetadata ? [challenge.resourceMetadata] : wellKnownResourceUrls(url);
      for (const candidate of candidates) {
        const metadata = await fetchJson(candidate);
        if (metadata === undefined) continue;
        return { ...validateResourceMetadata(metadata, url), challengeScope: challenge?.scope };
      }
      throw new UpstreamOAuthError('as_unsupported', `upstream ${upstream.id} publishes no protected resource metadata (RFC 9728); set credentials.authorization_server`);
    });
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

  async function fetchJson(url: string): Promise<unknown> {
    const response = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) }).catch((error: Error) => {
      throw new UpstreamOAuthError('as_unavailable', `${url} unreachable: ${error.message}`);
    });
    if (response.status === 404) return undefined;
    if (response.status >= 500) throw new UpstreamOAuthError('as_unavailable', `${url} answered ${response.status}`);
    if (!response.ok) return undefined;
    return response.json().catch(() => {
      throw new UpstreamOAuthError('as_invalid_response', `${url} is not JSON`);
    });
  }

  /** RFC 8414 metadata (path-inserted well-known URI), falling back to OpenID Connect Discovery. */
  function authorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
    return cached(servers, issuer, async () => {
      const url = new URL(issuer);
      for (const algorithm of ['oauth2', 'oidc'] as const) {
        try {
          const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm, ...http(issuer) }));
          if (!as.authorization_endpoint || !as.token_endpoint) throw new UpstreamOAuthError('as_invalid_response', `${issuer}: metadata lacks authorization or token endpoint`);
          return as;
        } catch (error) {
          if (algorithm === 'oidc' || !isNotFound(error)) throw toOAuthError(error);
        }
      }
      throw new UpstreamOAuthError('as_invalid_response', `${issuer}: no metadata`);
    });
  }

  /** The portal's client at the AS: configured, else registered once (RFC 7591 §3) and kept sealed in the store. */
  async function client(upstream: UpstreamConfig, as: oauth.AuthorizationServer, redirectUri: string, clientKey?: string): Promise<{ client: oauth.Client; auth: oauth.ClientAuth; key: string }> {
    const { client_id, client_secret } = upstream.credentials;
    if (client_id) {
      const methods = as.token_endpoint_auth_methods_supported;
      const auth = !client_secret ? oauth.None() : !methods || methods.includes('client_secret_basic') ? oauth.ClientSecretBasic(client_secret) : oauth.ClientSecretPost(client_secret);
      return { client: { client_id }, auth, key: 'configured' };
    }
    const key = clientKey ?? storeKey('upstream-client', sha256(`${as.issuer}\n${redirectUri}`));
    const known = await readClient(key);
    if (known) return known;
    if (clientKey) throw new UpstreamOAuthError('as_refused', 'the registered client is gone', 'invalid_client');
    if (!as.registration_endpoint) throw new UpstreamOAuthError('as_unsupported', `${as.issuer} offers no dynamic registration: set credentials.client_id`);
    const methods = as.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    const method = ['client_secret_basic', 'client_secret_post', 'none'].find((m) => methods.includes(m)) ?? 'none';
    let registered: oauth.OmitSymbolProperties<oauth.Client>;
    try {
      const response = await oauth.dynamicClientRegistrationRequest(
        as,
        { client_name: 'Gatehouse', client_uri: options.portalIssuer, redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: method },
        http(as.issuer),
      );
      registered = await oauth.processDynamicClientRegistrationResponse(response);
    } catch (error) {
      throw toOAuthError(error);
    }
    const value = sealer.seal(JSON.stringify(registered), key);
    // Two processes may register at once: the first stored wins, the other client is simply unused.
    if (!(await store.setIfAbsent(key, value))) return (await readClient(key)) ?? fail('registered client vanished');
    return toClient(registered, key);
  }

  async function readClient(key: string) {
    const raw = await store.get(key);
    if (raw === null) return undefined;
    const registered = JSON.parse(sealer.open(raw, key)) as oauth.Client;
    const expiresAt = registered.client_secret_expires_at as number | undefined;
    if (expiresAt && expiresAt * 1000 < Date.now() + 60_000) {
      await store.delete(key);
      return undefined;
    }
    return toClient(registered, key);
  }

  function toClient(registered: oauth.Client, key: string) {
    const secret = typeof registered.client_secret === 'string' ? registered.client_secret : undefined;
    const method = registered.token_endpoint_auth_method ?? 'client_secret_basic';
    const auth = !secret || method === 'none' ? oauth.None() : method === 'client_secret_post' ? oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret);
    return { client: { client_id: registered.client_id }, auth, key };
  }

  async function origin(upstream: UpstreamConfig, tokenOrigin: TokenOrigin, redirectUri = '') {
    const as = await authorizationServer(tokenOrigin.asIssuer);
    return { as, ...(await client(upstream, as, redirectUri, tokenOrigin.clientKey)) };
  }

  return {
    async begin(upstream, { redirectUri, extraScope = [], previousScope = [] }) {
      const info = await resourceInfo(upstream);
      const as = await authorizationServer(info.authorizationServer);
      const { client: oauthClient, key } = await client(upstream, as, redirectUri);
      const configured = upstream.credentials.scopes;
      const base = configured.length ? configured : (info.challengeScope ?? info.scopesSupported ?? []);
      const wanted = new Set([...base, ...previousScope, ...extraScope]);
      // Refresh tokens are what lets the connection outlive one access token.
      if (as.scopes_supported?.includes('offline_access')) wanted.add('offline_access');
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
      }).toString();
      return { url, pending: { state, codeVerifier, redirectUri, scope, asIssuer: as.issuer, clientKey: key, resource: info.resource } };
    },

    async finish(upstream, callbackUrl, pending) {
      try {
        const { as, client: oauthClient, auth } = await origin(upstream, pending, pending.redirectUri);
        const params = oauth.validateAuthResponse(as, oauthClient, callbackUrl, pending.state);
        const response = await oauth.authorizationCodeGrantRequest(as, oauthClient, auth, params, pending.redirectUri, pending.codeVerifier, {
          additionalParameters: { resource: pending.resource },
          ...http(as.issuer),
        });
        return toTokenSet(await oauth.processAuthorizationCodeResponse(as, oauthClient, response), pending.scope);
      } catch (error) {
        throw toOAuthError(error);
      }
    },

    async refresh(upstream, tokenOrigin, refreshToken) {
      try {
        const { as, client: oauthClient, auth } = await origin(upstream, tokenOrigin);
        const response = await oauth.refreshTokenGrantRequest(as, oauthClient, auth, refreshToken, { additionalParameters: { resource: tokenOrigin.resource }, ...http(as.issuer) });
        const tokens = toTokenSet(await oauth.processRefreshTokenResponse(as, oauthClient, response), []);
        return { ...tokens, refreshToken: tokens.refreshToken ?? refreshToken };
      } catch (error) {
        throw toOAuthError(error);
      }
    },

    async revoke(upstream, tokenOrigin, token, hint) {
      try {
        const { as, client: oauthClient, auth } = await origin(upstream, tokenOrigin);
        if (!as.revocation_endpoint) return false;
        const response = await oauth.revocationRequest(as, oauthClient, auth, token, { additionalParameters: { token_type_hint: hint }, ...http(as.issuer) });
        await oauth.processRevocationResponse(response);
        return true;
      } catch (error) {
        throw toOAuthError(error);
      }
    },
  };
}

interface ResourceInfo {
  resource: string;
  authorizationServer: string;
  scopesSupported?: string[];
  challengeScope?: string[];
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
function toTokenSet(response: oauth.TokenEndpointResponse, requested: string[]): UpstreamTokenSet {
  if (!TOKEN.test(response.access_token)) throw new UpstreamOAuthError('as_invalid_response', 'access_token is not a usable bearer token');
  if (response.token_type !== 'bearer') throw new UpstreamOAuthError('as_invalid_response', `token_type ${response.token_type} is not bearer`);
  if (response.refresh_token !== undefined && !TOKEN.test(response.refresh_token)) throw new UpstreamOAuthError('as_invalid_response', 'refresh_token is malformed');
  const expiresIn = response.expires_in;
  if (expiresIn !== undefined && (!Number.isFinite(expiresIn) || expiresIn < 0)) throw new UpstreamOAuthError('as_invalid_response', 'expires_in is not a non-negative number');
  return {
    accessToken: response.access_token,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
    // RFC 6749 §5.1: no scope in the answer means the scope asked for.
    scope: typeof response.scope === 'string' ? response.scope.split(' ').filter(Boolean) : requested,
  };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

function isNotFound(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Response && cause.status === 404;
}

function fail(message: string): never {
  throw new UpstreamOAuthError('as_invalid_response', message);
}

/** Sorts oauth4webapi's and fetch's errors into what the connection can do about them. */
export function toOAuthError(error: unknown): UpstreamOAuthError {
  if (error instanceof UpstreamOAuthError) return error;
  if (error instanceof oauth.AuthorizationResponseError) return new UpstreamOAuthError('as_refused', `authorization error: ${error.error}`, safeCode(error.error));
  if (error instanceof oauth.ResponseBodyError) {
    if (error.status >= 500) return new UpstreamOAuthError('as_unavailable', `AS answered ${error.status} ${error.error}`);
    return new UpstreamOAuthError('as_refused', `AS refused: ${error.error}`, safeCode(error.error));
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Response && cause.status >= 500) return new UpstreamOAuthError('as_unavailable', `AS answered ${cause.status}`);
  // fetch() rejects with a plain TypeError on network failure; oauth4webapi's own errors carry a `code`.
  if ((error instanceof TypeError && (error as { code?: string }).code === undefined) || (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))) {
    return new UpstreamOAuthError('as_unavailable', `AS unreachable: ${(error as Error).message}`);
  }
  return new UpstreamOAuthError('as_invalid_response', `${(error as { code?: string }).code ?? 'error'}: ${(error as Error)?.message ?? String(error)}`);
}

function safeCode(code: string): string | undefined {
  return /^[\x20-\x7e]{1,64}$/.test(code) ? code : undefined;
}
