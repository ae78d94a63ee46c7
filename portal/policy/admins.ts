import type { Person } from '../login/person.js';

/** Config `admins`: who may use the admin API. */
export interface AdminRules {
  groups: readonly string[];
  emails: readonly string[];
}

/**
 * Whether a person may use the admin API (`/admin/api/v1/…`): a member of one of
 * `admins.groups`, or one of `admins.emails` with an email their IdP verified
 * (OIDC Core 1.0 §5.1 `email_verified`). Empty rules make nobody an admin: fail closed. Pure.
 */
export function isAdmin(person: Person, admins: AdminRules): boolean {
  if (person.groups.some((group) => admins.groups.includes(group))) return true;
  const email = person.email?.toLowerCase();
  return email !== undefined && person.emailVerified && admins.emails.some((e) => e.toLowerCase() === email);
}
