import { SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import type { AuthContext } from '../oauth/bearer.js';
import { SIGNING_ALG, type SigningKeys } from '../oauth/signing-keys.js';
import { epochSeconds, systemClock, type Clock } from '../clock.js';

/** How long a portal assertion lives: long enough for one upstream call, short enough not to matter if leaked. */
export const ASSERTION_TTL_SECONDS = 60;

/**
 * Portal-signed assertions for upstreams (DESIGN.md "Tokens and identity", `portal-jwt`):
 * `iss` = portal, `aud` = the upstream URL, the person as `sub`/`email`/`groups`/`name`, the
 * agent as `act.sub` (RFC 8693 §4.1), `scope`, `jti`, at most 60 s. Verifiable with the
 * portal's JWKS. Cached per person, agent and upstream until 10 s before expiry.
 */
export interface PortalAssertions {
  mint(auth: AuthContext, audience: string): Promise<string>;
}

/** `clock`: when an assertion is issued, expires and is fresh enough to reuse (default the real time). */
export function createPortalAssertions(options: {
  issuer: string;
  keys: SigningKeys;
  cacheEntries?: number;
  clock?: Clock;
}): PortalAssertions {
  const clock = options.clock ?? systemClock;
  const cache = new Map<string, { token: string; expiresAt: number }>();
  const limit = options.cacheEntries ?? 10_000;
  return {
    async mint(auth, audience) {
      const key = `${auth.grantId}\n${audience}`;
      const hit = cache.get(key);
      if (hit && hit.expiresAt - 10_000 > clock.now()) return hit.token;
      const { kid, privateKey } = await options.keys.current();
      const { person } = auth;
      const token = await new SignJWT({
        ...(person.email && person.emailVerified ? { email: person.email } : {}),
        ...(person.name ? { name: person.name } : {}),
        ...(person.username ? { preferred_username: person.username } : {}),
        groups: person.groups,
        act: { sub: auth.clientId },
        client_id: auth.clientId,
        scope: auth.scope.join(' '),
      })
        .setProtectedHeader({ alg: SIGNING_ALG, typ: 'JWT', kid })
        .setIssuer(options.issuer)
        .setSubject(person.id)
        .setAudience(audience)
        .setJti(randomUUID())
        .setIssuedAt(epochSeconds(clock))
        .setExpirationTime(epochSeconds(clock) + ASSERTION_TTL_SECONDS)
        .sign(privateKey);
      cache.delete(key);
      cache.set(key, { token, expiresAt: clock.now() + ASSERTION_TTL_SECONDS * 1000 });
      while (cache.size > limit) cache.delete(cache.keys().next().value!);
      return token;
    },
  };
}
