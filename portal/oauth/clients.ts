import type { ServiceClientConfig } from '../config/schema.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';
import type { ClientMetadataDocuments } from './client-metadata-document.js';
import { TOKEN_EXCHANGE_GRANT } from './grants/token-exchange.js';
import type { ApplicationType } from './redirect-uris.js';

/** How a client authenticates at the token endpoint (RFC 7591 §2). */
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** An OAuth client the portal knows: dynamically registered, a metadata document, or a configured service. */
export interface Client {
  clientId: string;
  kind: 'registered' | 'metadata-document' | 'service';
  clientName?: string;
  clientUri?: string;
  logoUri?: string;
  /**
   * OpenID Connect Dynamic Client Registration 1.0 §2 `application_type`, as stated or implied by
   * the redirect URIs at registration; absent on clients stored before the portal recorded it.
   */
  applicationType?: ApplicationType;
  redirectUris: string[];
  grantTypes: string[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  scope?: string;
  /** Registered clients: SHA-256 of the client secret; service clients: its scrypt hash. */
  secretHash?: string;
  /** Service clients with `private_key_jwt`: their public keys (RFC 7591 §2 `jwks`), or where they are published (`jwks_uri`). */
  jwks?: { keys: Array<Record<string, unknown>> };
  jwksUri?: string;
  /** SHA-256 of the RFC 7592 registration access token. */
  registrationAccessTokenHash?: string;
  /** Seconds since the epoch (RFC 7591 `client_id_issued_at`). */
  issuedAt: number;
  /** Service clients: the upstreams their tokens may reach. */
  upstreams?: string[];
  /** The rest of the registered metadata, echoed back on read (RFC 7592 §2.1). */
  metadata?: Record<string, unknown>;
}

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

export function createClientRegistry(options: {
  store: Store;
  serviceClients: ServiceClientConfig[];
  metadataDocuments: ClientMetadataDocuments;
  /** A registered client unused this long expires. */
  unusedClientTtlMs: number;
}): ClientRegistry {
  const { store } = options;
  const key = (clientId: string) => storeKey('client', clientId);
  // An index of registered clients for the admin API; expired ones are reaped when listed.
  const index = storeKey('clients', 'registered');
  return {
    async find(clientId, findOptions) {
      const service = options.serviceClients.find((c) => c.client_id === clientId);
      if (service) {
        return {
          clientId,
          kind: 'service',
          clientName: clientId,
          redirectUris: [],
          grantTypes: ['client_credentials', TOKEN_EXCHANGE_GRANT],
          tokenEndpointAuthMethod: service.secret_hash ? 'client_secret_basic' : 'private_key_jwt',
          scope: service.scope,
          secretHash: service.secret_hash,
          jwks: service.jwks,
          jwksUri: service.jwks_uri,
          issuedAt: 0,
          upstreams: service.upstreams,
        };
      }
      if (clientId.startsWith('https://')) return options.metadataDocuments.resolve(clientId, findOptions);
      if (clientId.length > 128) return undefined;
      return (await getJson<Client>(store, key(clientId))) ?? undefined;
    },
    async save(client) {
      await setJson(store, key(client.clientId), client, { ttlMs: options.unusedClientTtlMs });
      await store.addToSet(index, client.clientId);
    },
    async delete(clientId) {
      await store.delete(key(clientId));
      await store.removeFromSet(index, clientId);
    },
    async list() {
      const registered: Client[] = [];
      for (const clientId of await store.setMembers(index)) {
        const client = await getJson<Client>(store, key(clientId));
        if (client) registered.push(client);
        else await store.removeFromSet(index, clientId);
      }
      const services = await Promise.all(options.serviceClients.map((c) => this.find(c.client_id)));
      return [...services.filter((c): c is Client => c !== undefined), ...registered.sort((a, b) => a.issuedAt - b.issuedAt)];
    },
    async touch(client) {
      if (client.kind === 'registered') await setJson(store, key(client.clientId), client, { ttlMs: options.unusedClientTtlMs });
    },
  };
}
