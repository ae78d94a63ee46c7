import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { randomUUID } from 'node:crypto';
import { OAuthError } from '../http/errors.js';
import type { Grant } from './grant-store.js';
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

export function createAccessTokens(options: { issuer: string; keys: SigningKeys }): AccessTokens {
  const { issuer, keys } = options;
  return {
    async issue(grant, ttlMs) {
      const { kid, privateKey } = await keys.current();
      const expiresIn = Math.floor(ttlMs / 1000);
      const token = await new SignJWT({ client_id: grant.clientId, scope: formatScope(grant.scope), grant_id: grant.id })
        .setProtectedHeader({ alg: SIGNING_ALG, typ: 'at+jwt', kid })
        .setIssuer(issuer)
        .setSubject(grant.person.id)
        .setAudience(grant.resource)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(`${expiresIn}s`)
        .sign(privateKey);
      return { token, expiresIn };
    },
    async verify(token, verifyOptions = {}) {
      let kid: string | undefined;
      try {
        kid = decodeProtectedHeader(token).kid;
      } catch {
        throw new OAuthError('invalid_token', 'the access token is malformed');
      }
      const key = kid ? await keys.find(kid) : undefined;
      if (!key) throw new OAuthError('invalid_token', 'the access token was not signed by this portal');
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [SIGNING_ALG],
          issuer,
          typ: 'at+jwt',
          audience: verifyOptions.audience,
          requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'grant_id'],
        });
        return payload as unknown as AccessTokenClaims;
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
