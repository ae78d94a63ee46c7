import { systemClock, type Clock } from '../clock.js';
import type { IdpConfig } from '../config/idp-schema.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';
import type { Person } from './person.js';

/**
 * The latest claims of each IdP person, refreshed at every sign-in.
 * Grants re-read them at refresh, so a group removed at the IdP takes effect for every agent of
 * that person at their next refresh after their next sign-in. Claims older than the IdP's
 * `claims_max_age` are no longer trusted: the person must sign in again.
 */
export interface IdpPeople {
  /** Records the claims just received from the IdP for this person. */
  remember(person: Person): Promise<void>;
  /** The person's latest trusted claims, or `undefined` (IdP removed from config, or claims too old). */
  current(person: Person): Promise<Person | undefined>;
}

/** `clock` judges whether claims are still fresh (default the real time). */
export function createIdpPeople(options: { store: Store; idps: () => readonly IdpConfig[]; clock?: Clock }): IdpPeople {
  const clock = options.clock ?? systemClock;
  const key = (personId: string) => storeKey('idp-person', personId);
  const idpOf = (person: Person) => options.idps().find((idp) => idp.id === person.idp);
  const fresh = (person: Person, maxAgeMs: number) => person.claimsAt !== undefined && clock.now() - person.claimsAt <= maxAgeMs;

  return {
    async remember(person) {
      const idp = idpOf(person);
      if (!idp) return;
      await setJson(options.store, key(person.id), person, { ttlMs: idp.claimsMaxAgeMs });
    },
    async current(person) {
      const idp = idpOf(person);
      if (!idp) return undefined;
      const latest = (await getJson<Person>(options.store, key(person.id))) ?? person;
      // The stored record may be older than the one offered (a race of two sign-ins): the newer wins.
      const newest = (latest.claimsAt ?? 0) >= (person.claimsAt ?? 0) ? latest : person;
      return fresh(newest, idp.claimsMaxAgeMs) ? newest : undefined;
    },
  };
}
