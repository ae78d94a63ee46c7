import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { epochSeconds, systemClock, type Clock } from '../clock.js';
import { CLOCK_TOLERANCE_SECONDS, type AssertionLedger } from './assertion-ledger.js';
import type { Client } from './clients.js';
import { ASYMMETRIC_ALGS, type RemoteKeys } from './remote-keys.js';

/** RFC 7523 §2.2: `client_assertion_type` of a JWT client assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A client assertion is for one request: one that claims to live longer than this is refused. */
const MAX_ASSERTION_LIFETIME_SECONDS = 5 * 60;

/** Why a client assertion was refused (for the log only: the client is told `invalid_client`). */
export class ClientAssertionError extends Error {
  override readonly name = 'ClientAssertionError';
}

/** `private_key_jwt` client authentication (RFC 7523 §2.2, §3; OIDC Core 1.0 §9). */
export interface ClientAssertions {
  /**
   * Verifies `assertion` as `client`'s: signed by one of its keys (`jwks` or `jwks_uri`), `iss` and
   * `sub` its client id, `aud` the portal's issuer or token endpoint, unexpired and short-lived, and
   * a `jti` never used before on any portal process.
   * @throws {ClientAssertionError}
   */
  verify(assertion: string, client: Client): Promise<void>;
}

/** `clock` judges an assertion's `exp` and lifetime (default the real time). */
export function createClientAssertions(options: {
  issuer: string;
  remoteKeys: RemoteKeys;
  ledger: AssertionLedger;
  clock?: Clock;
}): ClientAssertions {
  const { issuer } = options;
  const clock = options.clock ?? systemClock;
  function keysOf(client: Client): JWTVerifyGetKey {
    if (client.jwks) return createLocalJWKSet(client.jwks as JSONWebKeySet);
    if (client.jwksUri) return options.remoteKeys.atJwksUri(client.jwksUri);
    throw new ClientAssertionError(`client ${client.clientId} has no keys`);
  }
  return {
    async verify(assertion, client) {
      let claims;
      try {
        ({ payload: claims } = await jwtVerify(assertion, keysOf(client), {
          algorithms: ASYMMETRIC_ALGS,
          issuer: client.clientId,
          subject: client.clientId,
          audience: [issuer, `${issuer}/token`],
          requiredClaims: ['exp', 'jti'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(clock.now()),
        }));
      } catch (error) {
        if (error instanceof joseErrors.JOSEError)
          throw new ClientAssertionError(`client assertion of ${client.clientId}: ${error.code}: ${error.message}`);
        throw new ClientAssertionError(`keys of ${client.clientId} could not be fetched: ${(error as Error).message}`);
      }
      if (claims.exp! - epochSeconds(clock) > MAX_ASSERTION_LIFETIME_SECONDS) {
        throw new ClientAssertionError(`client assertion of ${client.clientId} lives longer than ${MAX_ASSERTION_LIFETIME_SECONDS} s`);
      }
      if (!(await options.ledger.useOnce(`client:${client.clientId}`, String(claims.jti), claims.exp!))) {
        throw new ClientAssertionError(`client assertion of ${client.clientId} replayed (jti already used)`);
      }
    },
  };
}
