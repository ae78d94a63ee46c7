import * as oauth from 'oauth4webapi';
import type { UpstreamConfig } from '../config/schema.js';
import { pkceAuthorizationUrl } from '../oauth-client/authorization-url.js';
import { authorizationResponseIssuerProblem } from './authorization-response.js';
import type { UpstreamDiscovery } from './upstream-discovery.js';
import { identityFromIdToken } from './upstream-identity.js';
import { UpstreamOAuthError, toOAuthError } from './upstream-oauth-errors.js';
import type { TokenOrigin, UpstreamOAuth, UpstreamTokenSet } from './upstream-oauth-types.js';
import type { UpstreamRegistration } from './upstream-registration.js';
import type { UpstreamTransport } from './upstream-transport.js';
import { systemClock, type Clock } from '../clock.js';

export interface UpstreamGrantsOptions {
  discovery: UpstreamDiscovery;
  registration: UpstreamRegistration;
  transport: UpstreamTransport;
  /** When the tokens it obtains expire (default the real time). */
  clock?: Clock;
}

/** Upstream access tokens go into an HTTP header: printable ASCII without spaces (RFC 6750 §2.1 b64token, loosely). */
const TOKEN = /^[\x21-\x7e]{1,8192}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The grants the portal runs at an upstream's authorization server: the code flow with PKCE S256
 * and the `resource` parameter (RFC 8707) on every authorization and token request, the
 * authorization response's `iss` checked (RFC 9207), refresh, and revocation.
 */
export function createUpstreamGrants({ discovery, registration, transport, clock = systemClock }: UpstreamGrantsOptions): UpstreamOAuth {
  /** The AS and client tokens were obtained from, to refresh or revoke them there. */
  async function origin(upstream: UpstreamConfig, tokenOrigin: TokenOrigin, redirectUri = '') {
    const as = await discovery.authorizationServer(tokenOrigin.asIssuer, upstream);
    return { as, ...(await registration.client(upstream, as, redirectUri, tokenOrigin.clientKey)) };
  }

  return {
    async begin(upstream, { redirectUri, extraScope = [], previousScope = [], chooseAccount = false, signal }) {
      const info = await discovery.resourceInfo(upstream, signal);
      const as = await discovery.authorizationServer(info.authorizationServer, upstream, signal);
      const { client: oauthClient, key } = await registration.client(upstream, as, redirectUri);
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
      const url = await pkceAuthorizationUrl(as.authorization_endpoint, {
        clientId: oauthClient.client_id,
        redirectUri,
        state,
        codeVerifier,
        parameters: {
          resource: info.resource,
          ...(scope.length ? { scope: scope.join(' ') } : {}),
          ...(chooseAccount ? { prompt: accountPrompt(as, scope) } : {}),
        },
      });
      return { url, pending: { state, codeVerifier, redirectUri, scope, asIssuer: as.issuer, clientKey: key, resource: info.resource } };
    },

    async finish(upstream, callbackUrl, pending) {
      try {
        const { as, client: oauthClient, auth } = await origin(upstream, pending, pending.redirectUri);
        const issuerProblem = authorizationResponseIssuerProblem(
          callbackUrl.searchParams,
          pending.asIssuer,
          as.authorization_response_iss_parameter_supported === true,
        );
        if (issuerProblem) throw new UpstreamOAuthError('as_issuer_mismatch', `authorization response ${issuerProblem}`);
        const params = oauth.validateAuthResponse(as, oauthClient, callbackUrl, pending.state);
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          oauthClient,
          auth,
          params,
          pending.redirectUri,
          pending.codeVerifier,
          {
            additionalParameters: { resource: pending.resource },
            ...transport(upstream),
          },
        );
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
        const response = await oauth.refreshTokenGrantRequest(as, oauthClient, auth, refreshToken, {
          additionalParameters: { resource: tokenOrigin.resource },
          ...transport(upstream),
        });
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
        const response = await oauth.revocationRequest(as, oauthClient, auth, token, {
          additionalParameters: { token_type_hint: hint },
          ...transport(upstream),
        });
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

/** Checks what oauth4webapi leaves to the application: a bearer token that fits in a header (RFC 6750 §2.1). */
function toTokenSet(response: oauth.TokenEndpointResponse, requested: string[], clock: Clock): UpstreamTokenSet {
  if (!TOKEN.test(response.access_token)) throw new UpstreamOAuthError('as_invalid_response', 'access_token is not a usable bearer token');
  if (response.token_type !== 'bearer')
    throw new UpstreamOAuthError('as_invalid_response', `token_type ${response.token_type} is not bearer`);
  if (response.refresh_token !== undefined && !TOKEN.test(response.refresh_token))
    throw new UpstreamOAuthError('as_invalid_response', 'refresh_token is malformed');
  const expiresIn = response.expires_in;
  if (expiresIn !== undefined && (!Number.isFinite(expiresIn) || expiresIn < 0))
    throw new UpstreamOAuthError('as_invalid_response', 'expires_in is not a non-negative number');
  return {
    accessToken: response.access_token,
    ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
    ...(expiresIn !== undefined ? { expiresAt: clock.now() + expiresIn * 1000 } : {}),
    // RFC 6749 §5.1: no scope in the answer means the scope asked for.
    scope: typeof response.scope === 'string' ? response.scope.split(' ').filter(Boolean) : requested,
  };
}
