import type { Person } from '../login/person.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';
import type { Consents } from './consents.js';

/**
 * What a person (or a service client) authorized one client to do. Every token is issued
 * under a grant and names it; deleting the grant revokes everything issued under it at once.
 */
export interface Grant {
  id: string;
  kind: 'person' | 'service';
  /** The person as they were at consent (or refresh): who every action is attributed to. */
  person: Person;
  clientId: string;
  clientName?: string;
  scope: string[];
  /** The resource the tokens are for (RFC 8707); it is their `aud`. */
  resource: string;
  /** The upstreams the tokens reach (the person's allowed subset of the resource's). */
  upstreamIds: string[];
  /**
   * The person let the client keep access while they are away (it asked for `offline_access`, or
   * the consent page offered it and the person kept it): only such a grant has a refresh token.
   */
  longLived?: boolean;
  /**
   * The DPoP key (JWK SHA-256 thumbprint, RFC 9449 §6.1) the latest tokens were bound to. A public
   * client's refresh token is bound to it too: a refresh must prove the same key (§5).
   */
  dpopJkt?: string;
  createdAt: number;
  refreshedAt?: number;
  /** RFC 8693 §4.1 `act`: who acts for the person, the current actor outermost (token exchange). */
  act?: Actor;
  /** The grant this one was exchanged from (RFC 8693): revoking that one revokes this one too. */
  parentGrantId?: string;
}

/** An RFC 8693 §4.1 actor: `sub` (and `iss` when it is another issuer's), prior actors nested in `act`. */
export interface Actor {
  sub: string;
  iss?: string;
  act?: Actor;
}

export interface GrantStore {
  save(grant: Grant, ttlMs: number): Promise<void>;
  find(id: string): Promise<Grant | undefined>;
  /**
   * Deletes the grant: its access and refresh tokens stop working on every portal process, and
   * the consent it rested on is forgotten, so the client must ask the person again. Every cause
   * of revocation (the person, an admin, refresh-token reuse, code replay, client deletion, the
   * client itself) goes through here.
   */
  revoke(id: string): Promise<boolean>;
  listByPerson(personId: string): Promise<Grant[]>;
  listByClient(clientId: string): Promise<Grant[]>;
}

/**
 * Where a grant is stored. Its refresh tokens share its hash tag, so that a refresh reads and
 * writes the token and the grant in one round trip (see refresh-tokens.ts).
 */
export function grantKey(id: string): string {
  return storeKey('grant', id);
}

export function createGrantStore(store: Store, consents: Pick<Consents, 'forget'>): GrantStore {
  const key = grantKey;
  const byPerson = (personId: string) => storeKey('person', personId, 'grants');
  const byClient = (clientId: string) => storeKey('client', clientId, 'grants');
  // A revoked grant id stays known for a while, so that a grant revoked while it is being
  // created (a code replayed during its first exchange) is never saved.
  const tombstone = (id: string) => storeKey('grant', id, 'revoked');
  // The grants exchanged from one (RFC 8693): they end with it.
  const children = (id: string) => storeKey('grant', id, 'children');
  const TOMBSTONE_TTL_MS = 10 * 60_000;

  async function list(indexKey: string): Promise<Grant[]> {
    const grants: Grant[] = [];
    for (const id of await store.setMembers(indexKey)) {
      const grant = await getJson<Grant>(store, key(id));
      // Expired grants leave their id in the index: reap it on the way.
      if (grant) grants.push(grant);
      else await store.removeFromSet(indexKey, id);
    }
    return grants.sort((a, b) => a.createdAt - b.createdAt);
  }

  async function revoke(id: string): Promise<boolean> {
    await store.set(tombstone(id), '1', { ttlMs: TOMBSTONE_TTL_MS });
    const grant = await getJson<Grant>(store, key(id));
    const existed = await store.delete(key(id));
    if (grant) {
      await store.removeFromSet(byPerson(grant.person.id), id);
      await store.removeFromSet(byClient(grant.clientId), id);
      // An exchanged grant rested on its parent, not on a consent of its own.
      if (!grant.parentGrantId) await consents.forget(grant.person.id, grant.clientId, grant.resource);
    }
    for (const child of await store.setMembers(children(id))) await revoke(child);
    await store.delete(children(id));
    return existed;
  }

  return {
    async save(grant, ttlMs) {
      await setJson(store, key(grant.id), grant, { ttlMs });
      // Checked after writing: with revoke's order (tombstone, then delete) one of the two always wins.
      if (await store.get(tombstone(grant.id))) {
        await store.delete(key(grant.id));
        if (!grant.parentGrantId) await consents.forget(grant.person.id, grant.clientId, grant.resource);
        return;
      }
      await store.addToSet(byPerson(grant.person.id), grant.id);
      await store.addToSet(byClient(grant.clientId), grant.id);
      if (grant.parentGrantId) {
        // Exchanged grants are short-lived: forget the expired ones as new ones join.
        for (const sibling of await store.setMembers(children(grant.parentGrantId))) {
          if (!(await store.get(key(sibling)))) await store.removeFromSet(children(grant.parentGrantId), sibling);
        }
        await store.addToSet(children(grant.parentGrantId), grant.id);
        // Checked after joining the parent: a parent revoked meanwhile takes this one with it.
        if (!(await store.get(key(grant.parentGrantId)))) await revoke(grant.id);
      }
    },
    async find(id) {
      return (await getJson<Grant>(store, key(id))) ?? undefined;
    },
    revoke,
    listByPerson: (personId) => list(byPerson(personId)),
    listByClient: (clientId) => list(byClient(clientId)),
  };
}
