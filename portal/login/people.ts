import type { Accounts } from './accounts.js';
import type { IdpPeople } from './idp-people.js';
import type { Person } from './person.js';

/** "Who is this person now?": what grants, app sessions and refreshes re-check against. */
export interface People {
  /** The person as they are now: `undefined` when they may no longer sign in (account or IdP removed, claims too old). */
  current(person: Person): Promise<Person | undefined>;
}

/**
 * Built-in accounts are re-read from config (while the built-in form is on); IdP persons get
 * their latest claims from their last sign-in (see {@link IdpPeople}).
 */
export function createPeople(options: { accounts: Accounts; idpPeople: IdpPeople; builtin: () => boolean }): People {
  return {
    async current(person) {
      if (person.idp === 'local') return options.builtin() ? options.accounts.lookup(person.username ?? '') : undefined;
      return options.idpPeople.current(person);
    },
  };
}
