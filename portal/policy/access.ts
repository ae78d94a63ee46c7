import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';

type AccessRules = Pick<UpstreamConfig, 'access'>;

/**
 * Whether a person may use an upstream, by its `access` rules (DESIGN.md "Config file"). Pure: no I/O.
 *
 * - No rules at all: every signed-in person.
 * - `idps` narrows: only people who signed in through one of them (`local`: built-in accounts).
 *   It is a condition, not an alternative, because group names are only meaningful within the
 *   IdP that asserts them: a partner IdP's "admins" group is not the company's.
 * - `groups`, `emails`, `domains`: any one match admits. Email and domain rules need an email
 *   the IdP verified (OIDC Core 1.0 §5.1 `email_verified`), so nobody gets in by typing an address.
 */
export function mayUseUpstream(person: Person, upstream: AccessRules): boolean {
  return whyDenied(person, upstream) === undefined;
}

/**
 * Why the `access` rules refuse a person, in words for the consent page, or `undefined` when
 * they admit them. Names the rule that failed, never the lists themselves.
 */
export function whyDenied(person: Person, upstream: AccessRules): string | undefined {
  const { groups, emails, domains, idps } = upstream.access;
  if (idps.length > 0 && !idps.includes(person.idp)) return 'it is open only to people who sign in another way';
  if (groups.length + emails.length + domains.length === 0) return undefined;
  const email = person.email?.toLowerCase();
  const verified = email !== undefined && person.emailVerified;
  const domain = email?.split('@')[1];
  if (person.groups.some((group) => groups.includes(group))) return undefined;
  if (verified && emails.some((e) => e.toLowerCase() === email)) return undefined;
  if (verified && domains.some((d) => d.toLowerCase() === domain)) return undefined;
  const wouldMatch =
    email !== undefined && (emails.some((e) => e.toLowerCase() === email) || domains.some((d) => d.toLowerCase() === domain));
  if (wouldMatch) return 'your email address is not verified by your identity provider';
  return 'you are not in a group or on a list it is open to';
}
