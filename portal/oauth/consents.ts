import { systemClock, type Clock } from '../clock.js';
import { sha256 } from '../crypto/hash.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';

/** What a person approved for one client and resource, remembered so the next request of no more is approved at once. */
export interface RememberedConsent {
  scope: string[];
  upstreamIds: string[];
  /**
   * Whether the person let the client keep access while they are away (a refresh token), when
   * the client did not ask for `offline_access` and the consent page offered it. Absent on
   * consents remembered before the page offered the choice: those are asked again.
   */
  longLived?: boolean;
  at: number;
}

/**
 * Remembered consent per (person, client, resource). A consent is forgotten when a grant that
 * rested on it is revoked ({@link GrantStore.revoke}), so a revoked client must ask again.
 */
export interface Consents {
  /** The remembered consent when it covers at least these scopes and upstreams; `undefined` otherwise. */
  covering(
    personId: string,
    clientId: string,
    resource: string,
    scope: string[],
    upstreamIds: string[],
  ): Promise<RememberedConsent | undefined>;
  /** Adds scopes and upstreams to what is remembered; `longLived` replaces the last choice. */
  remember(
    personId: string,
    clientId: string,
    resource: string,
    consent: { scope: string[]; upstreamIds: string[]; longLived: boolean },
  ): Promise<void>;
  /** Whether the person approved this client (for any resource) and that is still remembered. */
  consentedBefore(personId: string, clientId: string): Promise<boolean>;
  forget(personId: string, clientId: string, resource: string): Promise<void>;
}

export function createConsents(options: { store: Store; ttlMs: number; clock?: Clock }): Consents {
  const clock = options.clock ?? systemClock;
  const { store, ttlMs } = options;
  const key = (personId: string, clientId: string, resource: string) => storeKey('consent', personId, sha256(`${clientId}\n${resource}`));
  // The person's consents to one client, one record key per resource.
  const index = (personId: string, clientId: string) => storeKey('consent', personId, 'client', sha256(clientId));
  return {
    async covering(personId, clientId, resource, scope, upstreamIds) {
      const record = await getJson<RememberedConsent>(store, key(personId, clientId, resource));
      if (!record || !scope.every((s) => record.scope.includes(s)) || !upstreamIds.every((u) => record.upstreamIds.includes(u)))
        return undefined;
      return record;
    },
    async remember(personId, clientId, resource, consent) {
      const previous = await getJson<RememberedConsent>(store, key(personId, clientId, resource));
      const record: RememberedConsent = {
        scope: [...new Set([...(previous?.scope ?? []), ...consent.scope])],
        upstreamIds: [...new Set([...(previous?.upstreamIds ?? []), ...consent.upstreamIds])],
        longLived: consent.longLived,
        at: clock.now(),
      };
      await setJson(store, key(personId, clientId, resource), record, { ttlMs });
      await store.addToSet(index(personId, clientId), key(personId, clientId, resource));
    },
    async consentedBefore(personId, clientId) {
      for (const recordKey of await store.setMembers(index(personId, clientId))) {
        if ((await store.get(recordKey)) !== null) return true;
        // Expired records leave their key in the index: reap it on the way.
        await store.removeFromSet(index(personId, clientId), recordKey);
      }
      return false;
    },
    async forget(personId, clientId, resource) {
      await store.delete(key(personId, clientId, resource));
      await store.removeFromSet(index(personId, clientId), key(personId, clientId, resource));
    },
  };
}
