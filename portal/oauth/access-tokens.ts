import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { randomUUID } from 'node:crypto';
import { epochSeconds, systemClock, type Clock } from '../clock.js';
import { OAuthError } from '../http/errors.js';
import type { Actor, Grant } from './grant-store.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';
import { formatScope } from './scopes.js';

/** Claims of a portal access token (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  /** The grant the token was issued under: the bearer check looks it up, so revocation is immediate. */
  grant_id: string;
  /** RFC 8693 §4.1: the delegation chain of an exchanged token. */
  act?: Actor;
  /** The key a DPoP-bound token is bound to (RFC 9449 §6.1): its JWK SHA-256 thumbprint. */
  cnf?: { jkt: string };
}

export interface AccessTokens {
  issue(grant: Grant, ttlMs: number): Promise<{ token: string; expiresIn: number }>;
  /**
   * Verifies signature (ES256 only, never `none`), `typ: at+jwt`, issuer, expiry and, when
   * given, the audience.
   * @throws {OAuthError} `invalid_token`.
   */
  verify(token: string, options?: { audience?: string | string[] }): Promise<AccessTokenClaims>;
}

/** Tokens whose signature this process has checked; a bound on memory, not on correctness. */
const VERIFIED_CACHE_SIZE = 10_000;

/** `clock` decides `iat`, `exp` and when a token has expired (default the real time). */
export function createAccessTokens(options: { issuer: string; keys: SigningKeys; clock?: Clock }): AccessTokens {
  const { issuer, keys } = options;
  const clock = options.clock ?? systemClock;
  // An agent presents the same token on every request until it expires: its signature (and the
  // claims that cannot change) is checked once per process, then only what can: expiry, audience,
  // and that its key is still one this portal verifies with (a retired key ends its tokens too).
  const verified = new Map<string, { claims: AccessTokenClaims; kid: string }>();
  return {
    async issue(grant, ttlMs) {
      const { kid, privateKey } = await keys.current();
      const expiresIn = Math.floor(ttlMs / 1000);
      const claims = {
        client_id: grant.clientId,
        scope: formatScope(grant.scope),
        grant_id: grant.id,
        ...(grant.act ? { act: grant.act } : {}),
        ...(grant.dpopJkt ? { cnf: { jkt: grant.dpopJkt } } : {}),
      };
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: SIGNING_ALG, typ: 'at+jwt', kid })
        .setIssuer(issuer)
        .setSubject(grant.person.id)
        .setAudience(grant.resource)
        .setJti(randomUUID())
        .setIssuedAt(epochSeconds(clock))
        .setExpirationTime(epochSeconds(clock) + expiresIn)
        .sign(privateKey);
      return { token, expiresIn };
    },
    async verify(token, verifyOptions = {}) {
      const known = verified.get(token);
      let kid = known?.kid;
      if (!known) {
        try {
          kid = decodeProtectedHeader(token).kid;
        } catch {
          throw new OAuthError('invalid_token', 'the access token is malformed');
        }
      }
      const key = kid ? await keys.find(kid) : undefined;
      if (!key) throw new OAuthError('invalid_token', 'the access token was not signed by this portal');
      if (known) {
        const { claims } = known;
        if (claims.exp <= epochSeconds(clock)) {
          verified.delete(token);
          throw new OAuthError('invalid_token', 'the access token expired');
        }
        if (verifyOptions.audience !== undefined && ![verifyOptions.audience].flat().includes(claims.aud)) {
          throw new OAuthError('invalid_token', 'the access token is for another resource');
        }
        return claims;
      }
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [SIGNING_ALG],
          issuer,
          typ: 'at+jwt',
          audience: verifyOptions.audience,
          currentDate: new Date(clock.now()),
          requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'grant_id'],
        });
        const claims = payload as unknown as AccessTokenClaims;
        if (typeof claims.aud === 'string') {
          if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
          verified.set(token, { claims, kid: kid! });
        }
        return claims;
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) throw new OAuthError('invalid_token', 'the access token expired');
        if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
          throw new OAuthError('invalid_token', 'the access token is for another resource');
        }
        throw new OAuthError('invalid_token', 'the access token is invalid', { internal: (error as Error).message });
      }
    },
  };
}
