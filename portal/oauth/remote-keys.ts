import { createRemoteJWKSet, customFetch, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import * as oauth from 'oauth4webapi';
import { createGuardedFetch, type GuardedFetch } from '../net/guarded-fetch.js';
import { oauthTransport } from '../net/oauth-transport.js';

/** The asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037) accepted on JWTs other parties sign; never `none` or HMAC. */
export const ASYMMETRIC_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

/** Largest JWKS or discovery answer taken from another party. */
const MAX_ANSWER_BYTES = 256 * 1024;

/**
 * The public keys of parties whose JWTs the portal verifies: identity providers (their ID-JAGs),
 * trusted token issuers (subject tokens) and service clients (client assertions). Keys are
 * fetched through the guarded fetcher (size and time bounded) and cached by jose per JWKS URL.
 * The origins the operator configured (a JWKS URL, an issuer) may be inside the network; a
 * `jwks_uri` that discovery names on another origin is learned, so it must be public and https.
 */
export interface RemoteKeys {
  /** The keys published at a JWKS URL the operator configured (RFC 7517 §5). */
  atJwksUri(jwksUri: string): JWTVerifyGetKey;
  /** The keys of an OpenID provider, found through its discovery document (OIDC Discovery 1.0 §4, `jwks_uri`). */
  ofOidcIssuer(issuer: string): JWTVerifyGetKey;
}

export function createRemoteKeys(): RemoteKeys {
  const fetcher: GuardedFetch = createGuardedFetch({ allowPrivateAddresses: false, deadlineMs: 10_000, maxBodyBytes: MAX_ANSWER_BYTES });
  const byUri = new Map<string, JWTVerifyGetKey>();
  const byIssuer = new Map<string, Promise<JWTVerifyGetKey>>();

  /** The keys at `jwksUri`, fetched with `trustedOrigin` (if any) reached wherever it resolves. */
  function keysAt(jwksUri: string, trustedOrigin: string | undefined): JWTVerifyGetKey {
    const cacheKey = `${trustedOrigin ?? ''} ${jwksUri}`;
    let keys = byUri.get(cacheKey);
    if (!keys) {
      const trustedOrigins = trustedOrigin ? [trustedOrigin] : [];
      keys = createRemoteJWKSet(new URL(jwksUri), {
        [customFetch]: (url: string, init: RequestInit) =>
          fetcher(url, {
            method: 'GET',
            headers: Object.fromEntries(new Headers(init.headers)),
            signal: init.signal,
            redirect: 'manual',
            trustedOrigins,
          }),
      });
      byUri.set(cacheKey, keys);
    }
    return keys;
  }

  const atJwksUri = (jwksUri: string) => keysAt(jwksUri, new URL(jwksUri).origin);

  function discover(issuer: string): Promise<JWTVerifyGetKey> {
    let found = byIssuer.get(issuer);
    if (!found) {
      const url = new URL(issuer);
      found = (async () => {
        const http = oauthTransport(fetcher, { trustedOrigins: [url.origin] });
        const metadata = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oidc', ...http }));
        if (!metadata.jwks_uri) throw new Error(`${issuer} publishes no jwks_uri`);
        // Trusted as the issuer is only on the issuer's own origin; elsewhere it was learned.
        const jwksOrigin = new URL(metadata.jwks_uri).origin;
        return keysAt(metadata.jwks_uri, jwksOrigin === url.origin ? jwksOrigin : undefined);
      })();
      byIssuer.set(issuer, found);
      // A failed discovery is asked again next time, not remembered.
      found.catch(() => byIssuer.delete(issuer));
    }
    return found;
  }

  return {
    atJwksUri,
    ofOidcIssuer: (issuer) => async (header, token) => (await discover(issuer))(header, token),
  };
}

/**
 * Whether verifying a JWT failed because the signer's keys could not be had (network, timeout, a
 * broken discovery or JWKS answer), not because of the JWT: the caller may answer "try again".
 */
export function isKeyFetchFailure(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout) return true;
  // jose's own "Expected 200 OK" / unparsable JWKS is a plain JOSEError; every other JOSE error is about the JWT.
  if (error instanceof joseErrors.JOSEError) return error.code === 'ERR_JOSE_GENERIC';
  return true;
}
