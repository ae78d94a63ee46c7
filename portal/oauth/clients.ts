import { systemClock, type Clock } from '../clock.js';
import type { ServiceClientConfig } from '../config/schema.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';
import type { Client } from './client.js';
import type { ClientMetadataDocuments } from './client-metadata-document.js';
import { TOKEN_EXCHANGE_GRANT } from './grant-types.js';

export type { Client, ClientAuthMethod } from './client.js';

/** Where clients are found: config (service clients), https URLs (metadata documents), the Store (registered). */
export interface ClientRegistry {
  /** The client; `signal` stops a metadata document fetch when the request that asks goes away. */
  find(clientId: string, options?: { signal?: AbortSignal }): Promise<Client | undefined>;
  save(client: Client): Promise<void>;
  delete(clientId: string): Promise<void>;
  /** Marks a registered client as used, postponing its expiry. */
  touch(client: Client): Promise<void>;
  /** Configured service clients and live registered clients (metadata-document clients are not kept, so not listed). */
  list(): Promise<Client[]>;
}

/** How long a process trusts its copy of a registered client when no change message arrives. */
const CLIENT_CACHE_MS = 60_000;
/** A bound on memory, not on correctness. */
const CLIENT_CACHE_SIZE = 10_000;
/** Channel of the ids of registered clients saved or deleted, to every portal process. */
const CLIENT_CHANGES = 'clients:changed';

export function createClientRegistry(options: {
  store: Store;
  serviceClients: readonly ServiceClientConfig[];
  metadataDocuments: ClientMetadataDocuments;
  /** A registered client unused this long expires. */
  unusedClientTtlMs: number;
  /** When a cached copy is stale and a client's expiry is due for extending (default the real time). */
  clock?: Clock;
}): ClientRegistry {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const key = (clientId: string) => storeKey('client', clientId);
  // An index of registered clients for the admin API; expired ones are reaped when listed.
  const index = storeKey('clients', 'registered');
  // Registered clients are read once per process, not on every token request: a save or a delete
  // anywhere evicts the copy in every process (and this process evicts before it answers). Until
  // this process hears of changes, it reads the Store every time.
  const cached = new Map<string, { client: Client; until: number }>();
  let hearsChanges = false;
  // Counts the changes heard: a read that a change overtook is not kept (it may be older than the change).
  let changesHeard = 0;
  store
    .subscribe(CLIENT_CHANGES, (clientId) => {
      changesHeard++;
      cached.delete(clientId);
    })
    .then(() => (hearsChanges = true))
    .catch(() => {});
  // Evictions announced while this process was cut off from the store are lost: forget every copy.
  store.onMessagesMissed(() => {
    changesHeard++;
    cached.clear();
  });
  // Using a client postpones its expiry; once in a while per process is enough for that.
  const extendedAt = new Map<string, number>();
  const extendEveryMs = Math.min(options.unusedClientTtlMs / 2, 60 * 60_000);

  async function changed(clientId: string): Promise<void> {
    changesHeard++;
    cached.delete(clientId);
    extendedAt.delete(clientId);
    await store.publish(CLIENT_CHANGES, clientId);
  }

  async function findRegistered(clientId: string): Promise<Client | undefined> {
    const copy = cached.get(clientId);
    if (copy && copy.until > clock.now()) return copy.client;
    const heardBefore = changesHeard;
    const client = (await getJson<Client>(store, key(clientId))) ?? undefined;
    if (client && hearsChanges && changesHeard === heardBefore) {
      if (cached.size >= CLIENT_CACHE_SIZE) cached.delete(cached.keys().next().value!);
      cached.set(clientId, { client, until: clock.now() + CLIENT_CACHE_MS });
    } else cached.delete(clientId);
    return client;
  }

  return {
    async find(clientId, findOptions) {
      const service = options.serviceClients.find((c) => c.clientId === clientId);
      if (service) {
        return {
          clientId,
          kind: 'service',
          clientName: clientId,
          redirectUris: [],
          grantTypes: ['client_credentials', TOKEN_EXCHANGE_GRANT],
          tokenEndpointAuthMethod: service.secretHash ? 'client_secret_basic' : 'private_key_jwt',
          scope: service.scope,
          secretHash: service.secretHash,
          // Copies: a client is the caller's to keep, the config is frozen.
          jwks: service.jwks && { keys: [...service.jwks.keys] },
          jwksUri: service.jwksUri,
          issuedAt: 0,
          upstreams: [...service.upstreams],
        };
      }
      if (clientId.startsWith('https://')) return options.metadataDocuments.resolve(clientId, findOptions);
      if (clientId.length > 128) return undefined;
      return findRegistered(clientId);
    },
    async save(client) {
      await setJson(store, key(client.clientId), client, { ttlMs: options.unusedClientTtlMs });
      await store.addToSet(index, client.clientId);
      await changed(client.clientId);
    },
    async delete(clientId) {
      changesHeard++;
      cached.delete(clientId);
      await store.delete(key(clientId));
      await store.removeFromSet(index, clientId);
      await changed(clientId);
    },
    async list() {
      const registered: Client[] = [];
      for (const clientId of await store.setMembers(index)) {
        const client = await getJson<Client>(store, key(clientId));
        if (client) registered.push(client);
        else await store.removeFromSet(index, clientId);
      }
      const services = await Promise.all(options.serviceClients.map((c) => this.find(c.clientId)));
      return [...services.filter((c): c is Client => c !== undefined), ...registered.sort((a, b) => a.issuedAt - b.issuedAt)];
    },
    async touch(client) {
      if (client.kind !== 'registered' || clock.now() - (extendedAt.get(client.clientId) ?? 0) < extendEveryMs) return;
      if (extendedAt.size >= CLIENT_CACHE_SIZE) extendedAt.delete(extendedAt.keys().next().value!);
      extendedAt.set(client.clientId, clock.now());
      // Moves the expiry only: a client deleted meanwhile stays deleted.
      await store.getAndExtend(key(client.clientId), options.unusedClientTtlMs);
    },
  };
}
