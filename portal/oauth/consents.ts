import { sha256 } from '../crypto/hash.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';

/** Remembered consent per (person, client, resource): the scopes and upstreams already approved. */
export interface Consents {
  /** Whether the person already approved at least these scopes and upstreams for this client and resource. */
  covers(personId: string, clientId: string, resource: string, scope: string[], upstreamIds: string[]): Promise<boolean>;
  remember(personId: string, clientId: string, resource: string, scope: string[], upstreamIds: string[]): Promise<void>;
  forget(personId: string, clientId: string): Promise<void>;
}

interface ConsentRecord {
  scope: string[];
  upstreamIds: string[];
  at: number;
}

export function createConsents(options: { store: Store; ttlMs: number }): Consents {
  const { store, ttlMs } = options;
  const key = (personId: string, clientId: string, resource: string) => storeKey('consent', personId, sha256(`${clientId}\n${resource}`));
  const index = (personId: string, clientId: string) => storeKey('consent', personId, 'client', sha256(clientId));
  return {
    async covers(personId, clientId, resource, scope, upstreamIds) {
      const record = await getJson<ConsentRecord>(store, key(personId, clientId, resource));
      return !!record && scope.every((s) => record.scope.includes(s)) && upstreamIds.every((u) => record.upstreamIds.includes(u));
    },
    async remember(personId, clientId, resource, scope, upstreamIds) {
      const previous = await getJson<ConsentRecord>(store, key(personId, clientId, resource));
      const record: ConsentRecord = {
        scope: [...new Set([...(previous?.scope ?? []), ...scope])],
        upstreamIds: [...new Set([...(previous?.upstreamIds ?? []), ...upstreamIds])],
        at: Date.now(),
      };
      await setJson(store, key(personId, clientId, resource), record, { ttlMs });
      await store.addToSet(index(personId, clientId), key(personId, clientId, resource));
    },
    async forget(personId, clientId) {
      for (const recordKey of await store.setMembers(index(personId, clientId))) await store.delete(recordKey);
      await store.delete(index(personId, clientId));
    },
  };
}
