import { importPKCS8 } from 'jose';
import * as oauth from 'oauth4webapi';
import { systemClock, type Clock } from '../clock.js';
import { privateKeyAlgorithm, type IdpConfig } from '../config/idp-schema.js';
import { GuardedFetchError } from '../net/fetch-errors.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import { oauthTransport } from '../net/oauth-transport.js';
import { missingClaims, type IdpClaims } from './idp-claims.js';

/** Why a sign-in at an identity provider failed, as a stable code the routes turn into a page. */
export type IdpErrorCode =
  /** The IdP could not be reached or answered 5xx (network, timeout, outage). */
  | 'idp_unavailable'
  /** The IdP answered the authorization request with an error (RFC 6749 §4.1.2.1), e.g. `access_denied`. */
  | 'idp_denied'
  /** Something the IdP sent failed validation: metadata, token response, ID token (OIDC Core 1.0 §3.1.3.7). */
  | 'idp_invalid_response';

/** A failed IdP interaction. `idpError` is the IdP's own error code, when it sent one; `internal` is for logs only. */
export class IdpError extends Error {
  constructor(
    readonly code: IdpErrorCode,
    readonly internal: string,
    readonly idpError?: string,
  ) {
    super(internal);
    this.name = 'IdpError';
  }
}

/** The PKCE, state and nonce of one authorization request (RFC 7636 §4, OIDC Core 1.0 §3.1.2.1). */
export interface AuthorizationParams {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

/** The portal as an OpenID Connect relying party of one IdP (OIDC Core 1.0 §3.1, with oauth4webapi). */
export interface IdpClient {
  readonly config: IdpConfig;
  /** The IdP's authorization endpoint URL for this request; discovers the IdP on first use. */
  authorizationUrl(params: AuthorizationParams): Promise<URL>;
  /**
   * Validates the callback (`state`, RFC 9207 `iss`, or the IdP's error), redeems the code with
   * PKCE and client authentication, validates the ID token (iss, aud, azp, exp, iat, nonce, and its
   * signature against the IdP's JWKS), and asks UserInfo for claims the ID token lacks.
   *
   * @throws {IdpError}
   */
  finish(callbackUrl: URL, params: AuthorizationParams): Promise<IdpClaims>;
}

export interface IdpClientOptions {
  /** How long discovered metadata is reused before it is fetched again. */
  metadataTtlMs?: number;
  /** How long one HTTP exchange with the IdP may take in all, body included. */
  timeoutMs?: number;
  /** When discovered metadata is stale (default the real time). */
  clock?: Clock;
}

/** Largest answer taken from an IdP: UserInfo and ID tokens may list many groups. */
const MAX_IDP_ANSWER_BYTES = 256 * 1024;

/** `sub` is at most 255 ASCII characters (OIDC Core 1.0 §2); anything else is not an identifier we store. */
const SUBJECT = /^[\x21-\x7e]{1,255}$/;

export function createIdpClient(config: IdpConfig, options: IdpClientOptions = {}): IdpClient {
  const issuer = new URL(config.issuer);
  const metadataTtlMs = options.metadataTtlMs ?? 60 * 60_000;
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // The operator configured this IdP, and it decides who signs in: its metadata may name addresses
  // inside the network. What it sends is still bounded in size and time, and plain http is only
  // for loopback (the schema admits http issuers there alone).
  const http = oauthTransport(createGuardedFetch({ allowPrivateAddresses: true, deadlineMs: timeoutMs, maxBodyBytes: MAX_IDP_ANSWER_BYTES }), { trustedOrigins: [issuer.origin] });
  const client: oauth.Client = { client_id: config.client_id };
  const jwks: oauth.JWKSCacheInput = {};
  let metadata: { value: Promise<oauth.AuthorizationServer>; at: number } | undefined;
  let clientAuth: Promise<oauth.ClientAuth> | undefined;

  /** Discovery (OIDC Discovery 1.0 §4), shared by concurrent callers and cached; a failure is not cached. */
  function discover(): Promise<oauth.AuthorizationServer> {
    if (metadata && clock.now() - metadata.at < metadataTtlMs) return metadata.value;
    const value = (async () => {
      const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...http });
      const as = await oauth.processDiscoveryResponse(issuer, response);
      if (!as.authorization_endpoint || !as.token_endpoint) throw new IdpError('idp_invalid_response', 'discovery: no authorization or token endpoint');
      return as;
    })();
    metadata = { value, at: clock.now() };
    value.catch(() => {
      if (metadata?.value === value) metadata = undefined;
    });
    return value;
  }

  function authentication(): Promise<oauth.ClientAuth> {
    clientAuth ??= (async () => {
      if (config.client_auth === 'client_secret_post') return oauth.ClientSecretPost(config.client_secret!);
      if (config.client_auth === 'client_secret_basic') return oauth.ClientSecretBasic(config.client_secret!);
      const key = await importPKCS8(config.private_key!, privateKeyAlgorithm(config.private_key!)!);
      return oauth.PrivateKeyJwt({ key, kid: config.private_key_id });
    })();
    return clientAuth;
  }

  return {
    config,
    async authorizationUrl(params) {
      const as = await discover().catch(toIdpError);
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: config.client_id,
        redirect_uri: params.redirectUri,
        scope: config.scopes.join(' '),
        state: params.state,
        nonce: params.nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(params.codeVerifier),
        code_challenge_method: 'S256',
      }).toString();
      return url;
    },
    async finish(callbackUrl, params) {
      try {
        const as = await discover();
        const callback = oauth.validateAuthResponse(as, client, callbackUrl, params.state);
        const response = await oauth.authorizationCodeGrantRequest(as, client, await authentication(), callback, params.redirectUri, params.codeVerifier, http);
        const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: params.nonce, requireIdToken: true });
        // The token came straight from the IdP over TLS, but checking its signature too means a
        // compromised or misrouted token endpoint cannot mint identities (OIDC Core 1.0 §3.1.3.7 step 6).
        await oauth.validateApplicationLevelSignature(as, response, { [oauth.jwksCache]: jwks, ...http });
        const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
        if (!SUBJECT.test(idToken.sub)) throw new IdpError('idp_invalid_response', 'ID token sub is not a usable identifier');
        let claims: IdpClaims = { ...idToken };
        if (missingClaims(config, claims) && as.userinfo_endpoint) {
          const info = await oauth.processUserInfoResponse(as, client, idToken.sub, await oauth.userInfoRequest(as, client, tokens.access_token, http));
          // UserInfo fills what the ID token left out; what the signed ID token says stands.
          claims = { ...info, ...idToken };
        }
        return claims;
      } catch (error) {
        return toIdpError(error);
      }
    },
  };
}

/** Sorts oauth4webapi's and the guarded fetcher's errors into the three outcomes a person can act on. */
function toIdpError(error: unknown): never {
  if (error instanceof IdpError) throw error;
  if (error instanceof GuardedFetchError) throw new IdpError(error.transient ? 'idp_unavailable' : 'idp_invalid_response', `${error.code}: ${error.message}`);
  if (error instanceof oauth.AuthorizationResponseError) {
    throw new IdpError('idp_denied', `authorization error: ${error.error}`, /^[\x20-\x7e]{1,64}$/.test(error.error) ? error.error : undefined);
  }
  if (error instanceof oauth.ResponseBodyError) {
    if (error.status >= 500) throw new IdpError('idp_unavailable', `token endpoint answered ${error.status} ${error.error}`);
    throw new IdpError('idp_invalid_response', `token endpoint refused: ${error.error}`);
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Response && cause.status >= 500) throw new IdpError('idp_unavailable', `IdP answered ${cause.status}`);
  const code = (error as { code?: string }).code;
  throw new IdpError('idp_invalid_response', `${code ?? 'error'}: ${(error as Error)?.message ?? String(error)}`);
}
