/** A signed-in human, as every grant and audit event names them. */
export interface Person {
  /** Stable id: `local:{username}` for built-in accounts, `{idp}:{sub}` for identity providers. */
  id: string;
  /** Where they signed in: `local` or an identity provider's id. */
  idp: string;
  username?: string;
  name?: string;
  email?: string;
  /** Whether `email` was verified by whoever vouched for it. */
  emailVerified: boolean;
  groups: string[];
  /** When the identity provider last vouched for these claims (ms since the epoch; IdP persons only). */
  claimsAt?: number;
}

/** A short human label: name, else email, else username, else id. */
export function displayName(person: Person): string {
  return person.name ?? person.email ?? person.username ?? person.id;
}
