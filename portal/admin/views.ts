import type { UpstreamConfig } from '../config/schema.js';
import type { Client } from '../oauth/clients.js';
import type { Grant } from '../oauth/grant-store.js';
import type { UpstreamSource } from './upstream-registry.js';

/** An upstream as the admin API shows it: its definition without secret values (env values and client secrets are masked). */
export function upstreamView(upstream: UpstreamConfig, source: UpstreamSource | undefined) {
  const { env, credentials, ...rest } = upstream;
  return {
    ...rest,
    env: Object.fromEntries(Object.keys(env).map((k) => [k, '[redacted]'])),
    credentials: { ...credentials, ...(credentials.client_secret ? { client_secret: '[redacted]' } : {}) },
    source: source ?? 'config',
    read_only: source !== 'admin',
  };
}

/** A client as the admin API lists it (never its secret or registration token hashes). */
export function clientView(client: Client) {
  return {
    client_id: client.clientId,
    kind: client.kind,
    client_name: client.clientName,
    client_uri: client.clientUri,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    issued_at: client.issuedAt ? new Date(client.issuedAt * 1000).toISOString() : undefined,
  };
}

/** A grant as the admin API lists it. */
export function grantView(grant: Grant, lastUsed: number | undefined) {
  return {
    id: grant.id,
    kind: grant.kind,
    person: grant.person.id,
    person_name: grant.person.name ?? grant.person.email,
    client_id: grant.clientId,
    client_name: grant.clientName,
    scope: grant.scope.join(' '),
    resource: grant.resource,
    upstreams: grant.upstreamIds,
    created_at: new Date(grant.createdAt).toISOString(),
    refreshed_at: grant.refreshedAt ? new Date(grant.refreshedAt).toISOString() : undefined,
    last_used_at: lastUsed ? new Date(lastUsed).toISOString() : undefined,
  };
}
