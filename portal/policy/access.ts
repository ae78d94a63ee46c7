import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';

/**
 * Whether a person may use an upstream, by its `access` rules (DESIGN.md "Config file"):
 * any one rule that matches admits; no rules at all admits every signed-in person.
 * A domain rule needs a verified email. Pure: no I/O.
 */
export function mayUseUpstream(person: Person, upstream: Pick<UpstreamConfig, 'access'>): boolean {
  const { groups, emails, domains, idps } = upstream.access;
  if (groups.length + emails.length + domains.length + idps.length === 0) return true;
  const email = person.email?.toLowerCase();
  const domain = person.emailVerified ? email?.split('@')[1] : undefined;
  return (
    person.groups.some((group) => groups.includes(group)) ||
    (email !== undefined && person.emailVerified && emails.some((e) => e.toLowerCase() === email)) ||
    (domain !== undefined && domains.some((d) => d.toLowerCase() === domain)) ||
    idps.includes(person.idp)
  );
}
