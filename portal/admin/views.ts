import type { UpstreamConfig } from '../config/schema.js';
import type { Client } from '../oauth/clients.js';
import type { Grant } from '../oauth/grant-store.js';
import type { UpstreamSource } from './upstream-registry.js';

/** An upstream as the admin API shows it: its definition without secret values (env values and client secrets are masked). */
export function upstreamView(upstream: UpstreamConfig, source: UpstreamSource | undefined) {
  const { env, credentials, ...rest } = upstreamDocument(upstream);
  return {
    ...rest,
    env: Object.fromEntries(Object.keys(env).map((k) => [k, '[redacted]'])),
    credentials: { ...credentials, ...(credentials.client_secret ? { client_secret: '[redacted]' } : {}) },
    source: source ?? 'config',
    read_only: source !== 'admin',
  };
}

/** An upstream in the config file's keys (the admin API's wire format), durations in milliseconds. */
function upstreamDocument(upstream: UpstreamConfig) {
  const { credentials: c, tools: t } = upstream;
  return {
    id: upstream.id,
    kind: upstream.kind,
    title: upstream.title,
    url: upstream.url,
    command: upstream.command,
    env: upstream.env,
    cwd: upstream.cwd,
    credentials: {
      type: c.type,
      header: c.header,
      value_env: c.valueEnv,
      client_id: c.clientId,
      client_secret: c.clientSecret,
      token_endpoint: c.tokenEndpoint,
      audience: c.audience,
      client_secret_env: c.clientSecretEnv,
      private_key_env: c.privateKeyEnv,
      scopes: c.scopes,
      authorization_server: c.authorizationServer,
    },
    tools: {
      allow: t.allow,
      deny: t.deny,
      rename: t.rename,
      describe: t.describe,
      allow_groups: t.allowGroups,
      deny_groups: t.denyGroups,
      pinning: t.pinning,
      limits: Object.fromEntries(
        Object.entries(t.limits).map(([tool, limit]) => [tool, { per_minute: limit.perMinute, per_day: limit.perDay }]),
      ),
      approval: t.approval,
      approval_ttl: t.approvalTtlMs,
      approval_timeout: t.approvalTimeoutMs,
    },
    access: upstream.access,
    host: upstream.host,
    markdown: upstream.markdown,
    entry_pages: upstream.entryPages,
    openapi: upstream.openapi,
    connect_timeout: upstream.connectTimeoutMs,
    call_timeout: upstream.callTimeoutMs,
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
