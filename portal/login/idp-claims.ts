import type { IdpConfig } from '../config/idp-schema.js';
import type { Person } from './person.js';

/** Claims from the ID token and, where they were missing, from the UserInfo endpoint (OIDC Core 1.0 §5.1). */
export type IdpClaims = Record<string, unknown> & { sub: string };

/** More groups than this is a misconfigured claim (a whole directory), not a person's memberships. */
const MAX_GROUPS = 500;

/**
 * Maps an IdP's claims to a person: id `{idp}:{sub}` (OIDC Core 1.0 §2: `sub` is
 * unique and stable only within its issuer), the email only when `email_verified` is not
 * `false`, the name, and groups from `groups_claim` (a dotted path such as `realm_access.roles`).
 * Pure.
 */
export function personFromClaims(
  idp: Pick<IdpConfig, 'id' | 'groupsClaim' | 'assumeEmailVerified'>,
  claims: IdpClaims,
  now = Date.now(),
): Person {
  const email =
    typeof claims.email === 'string' && claims.email.includes('@') && claims.email_verified !== false ? claims.email : undefined;
  // Only an explicit `true` counts as verified, unless the operator vouches for this IdP's addresses.
  const emailVerified =
    email !== undefined && (claims.email_verified === true || (claims.email_verified === undefined && idp.assumeEmailVerified));
  return {
    id: `${idp.id}:${claims.sub}`,
    idp: idp.id,
    username: stringClaim(claims.preferred_username),
    name: stringClaim(claims.name) ?? joinNames(claims.given_name, claims.family_name),
    email,
    emailVerified,
    groups: groupsFrom(claimAt(claims, idp.groupsClaim)),
    claimsAt: now,
  };
}

/** Whether the claims lack something the person is built from, so UserInfo should be asked (OIDC Core 1.0 §5.3). */
export function missingClaims(idp: Pick<IdpConfig, 'groupsClaim' | 'scopes'>, claims: Record<string, unknown>): boolean {
  const wantsEmail = idp.scopes.includes('email');
  const wantsProfile = idp.scopes.includes('profile');
  return (
    (wantsEmail && claims.email === undefined) ||
    (wantsProfile && claims.name === undefined) ||
    claimAt(claims, idp.groupsClaim) === undefined
  );
}

/** A claim by dotted path; a claim whose own name contains dots wins over the path. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function groupsFrom(value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  const groups = list.filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= 256);
  return [...new Set(groups)].slice(0, MAX_GROUPS);
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 256 ? value : undefined;
}

function joinNames(given: unknown, family: unknown): string | undefined {
  return stringClaim([stringClaim(given), stringClaim(family)].filter(Boolean).join(' '));
}
