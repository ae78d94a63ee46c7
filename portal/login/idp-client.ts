import { importPKCS8 } from 'jose';
import * as oauth from 'oauth4webapi';
import { systemClock, type Clock } from '../clock.js';
import { privateKeyAlgorithm, type IdpConfig } from '../config/idp-schema.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import { oauthTransport } from '../net/oauth-transport.js';
import { pkceAuthorizationUrl } from '../oauth-client/authorization-url.js';
import { discoverAuthorizationServer, requireCodeFlowEndpoints, type CodeFlowServer } from '../oauth-client/discovery.js';
import { classifyOAuthFailure, type OAuthFailureKind } from '../oauth-client/failure.js';
import { createMetadataCache } from '../oauth-client/metadata-cache.js';
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
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // The operator configured the issuer, so its origin may be inside the network; endpoints its
  // metadata names on other origins are learned, and must be public and https unless the operator
  // allowed private addresses for this IdP. What it sends is bounded in size and time.
  const http = oauthTransport(
    createGuardedFetch({ allowPrivateAddresses: config.allowPrivateAddresses, deadlineMs: timeoutMs, maxBodyBytes: MAX_IDP_ANSWER_BYTES }),
    { trustedOrigins: [issuer.origin] },
  );
  const client: oauth.Client = { client_id: config.clientId };
  const jwks: oauth.JWKSCacheInput = {};
  const metadata = createMetadataCache({ ttlMs: options.metadataTtlMs ?? 60 * 60_000, maxEntries: 1, clock });
  let clientAuth: Promise<oauth.ClientAuth> | undefined;

  /** Discovery (OIDC Discovery 1.0 §4), cached; a failure is tried again at the next sign-in. */
  function discover(): Promise<CodeFlowServer> {
    return metadata.get(issuer.href, async () => requireCodeFlowEndpoints(await discoverAuthorizationServer(issuer, ['oidc'], http)));
  }

  function authentication(): Promise<oauth.ClientAuth> {
    clientAuth ??= (async () => {
      if (config.clientAuth === 'client_secret_post') return oauth.ClientSecretPost(config.clientSecret!);
      if (config.clientAuth === 'client_secret_basic') return oauth.ClientSecretBasic(config.clientSecret!);
      const key = await importPKCS8(config.privateKey!, privateKeyAlgorithm(config.privateKey!)!);
      return oauth.PrivateKeyJwt({ key, kid: config.privateKeyId });
    })();
    return clientAuth;
  }

  return {
    config,
    async authorizationUrl(params) {
      const as = await discover().catch(toIdpError);
      return pkceAuthorizationUrl(as.authorization_endpoint, {
        clientId: config.clientId,
        redirectUri: params.redirectUri,
        state: params.state,
        codeVerifier: params.codeVerifier,
        parameters: { scope: config.scopes.join(' '), nonce: params.nonce },
      });
    },
    async finish(callbackUrl, params) {
      try {
        const as = await discover();
        const callback = oauth.validateAuthResponse(as, client, callbackUrl, params.state);
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          await authentication(),
          callback,
          params.redirectUri,
          params.codeVerifier,
          http,
        );
        const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: params.nonce,
          requireIdToken: true,
        });
        // The token came straight from the IdP over TLS, but checking its signature too means a
        // compromised or misrouted token endpoint cannot mint identities (OIDC Core 1.0 §3.1.3.7 step 6).
        await oauth.validateApplicationLevelSignature(as, response, { [oauth.jwksCache]: jwks, ...http });
        const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
        if (!SUBJECT.test(idToken.sub)) throw new IdpError('idp_invalid_response', 'ID token sub is not a usable identifier');
        let claims: IdpClaims = { ...idToken };
        if (missingClaims(config, claims) && as.userinfo_endpoint) {
          const info = await oauth.processUserInfoResponse(
            as,
            client,
            idToken.sub,
            await oauth.userInfoRequest(as, client, tokens.access_token, http),
          );
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

/**
 * What each kind of failure means at sign-in. A token endpoint's refusal (`invalid_grant`,
 * `invalid_client`) is nothing the person chose: a replayed code or a client the IdP no longer
 * knows, so it reads as an answer that could not be used, not as a refusal to sign them in.
 */
const IDP_ERROR_CODES: Record<OAuthFailureKind, IdpErrorCode> = {
  unavailable: 'idp_unavailable',
  denied: 'idp_denied',
  refused: 'idp_invalid_response',
  invalid_response: 'idp_invalid_response',
};

/** Names any failure of an IdP exchange in the three outcomes a person can act on. */
function toIdpError(error: unknown): never {
  if (error instanceof IdpError) throw error;
  const failure = classifyOAuthFailure(error);
  throw new IdpError(IDP_ERROR_CODES[failure.kind], failure.internal, failure.oauthError);
}
