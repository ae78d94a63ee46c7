import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { checkIdentityRules, IDP_ID, idpSchema } from './idp-schema.js';
import { checkCredentials } from './credentials-schema.js';
import { PINNING_MODES } from '../governance/tool-pins.js';
import { PORTAL_TOOL_PREFIX, TOOL_MODES } from '../governance/tool-search.js';
import type { AccountConfig, ServiceClientConfig, TrustedIssuerConfig, UpstreamConfig } from './config-types.js';

export type { AccountConfig, ServiceClientConfig, TrustedIssuerConfig, UpstreamConfig } from './config-types.js';

/** Upstream ids become tool-name prefixes (`{id}__{tool}`), so `_` is not allowed in them. */
export const UPSTREAM_ID = /^[a-z0-9][a-z0-9-]{0,30}$/;

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((text) => parseDuration(text) !== undefined, { message: 'must be a duration such as 30s, 10m, 12h or 30d' })
    .transform((text) => parseDuration(text)!);

/** A duration that may also be `0` (off), as `approval_ttl`'s default is. */
const durationOrZero = (fallback: string) => z.preprocess((value) => (value === 0 || value === '0' ? '0s' : value), duration(fallback));

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const names = z.array(z.string().min(1)).default([]);

const account = z
  .strictObject({
    username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1-64 letters, digits or . _ @ -'),
    password_hash: z.string().startsWith('scrypt$', 'must be a scrypt$… string from `gatehouse hash-password`'),
    email: z.email().optional(),
    name: z.string().optional(),
    groups: names,
  })
  .transform(
    (a): AccountConfig => ({ username: a.username, passwordHash: a.password_hash, email: a.email, name: a.name, groups: a.groups }),
  );

const serviceClient = z
  .strictObject({
    client_id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits or . _ -'),
    secret_hash: z.string().startsWith('scrypt$', 'must be a scrypt$… string from `gatehouse hash-password`').optional(),
    // private_key_jwt (RFC 7523 §2.2): the client's public keys, inline or at a URL.
    jwks: z
      .strictObject({
        keys: z
          .array(z.record(z.string(), z.unknown()).refine((key) => typeof key.kty === 'string', { message: 'must be a JWK (with kty)' }))
          .min(1, 'must hold at least one key'),
      })
      .optional(),
    jwks_uri: httpUrl.optional(),
    upstreams: z.array(z.string().regex(UPSTREAM_ID)).min(1, 'must list at least one upstream'),
    scope: z.string().default('mcp'),
  })
  .superRefine((client, ctx) => {
    const methods = [client.secret_hash, client.jwks, client.jwks_uri].filter((m) => m !== undefined).length;
    if (methods !== 1)
      ctx.addIssue({ code: 'custom', path: ['secret_hash'], message: 'give exactly one of secret_hash, jwks or jwks_uri' });
  })
  .transform(
    (c): ServiceClientConfig => ({
      clientId: c.client_id,
      secretHash: c.secret_hash,
      jwks: c.jwks,
      jwksUri: c.jwks_uri,
      upstreams: c.upstreams,
      scope: c.scope,
    }),
  );

/** `token_exchange.trusted_issuers[]`: another issuer whose JWTs are subject tokens here (RFC 8693 §2.1). */
const trustedIssuer = z
  .strictObject({
    id: z.string().regex(IDP_ID, `must match ${IDP_ID.source}`),
    issuer: httpUrl,
    jwks_uri: httpUrl,
  })
  .transform((t): TrustedIssuerConfig => ({ id: t.id, issuer: t.issuer, jwksUri: t.jwks_uri }));

/** One `upstreams[]` entry as written, before {@link toUpstreamConfig}. */
const upstreamFileSchema = z
  .strictObject({
    id: z
      .string()
      .regex(UPSTREAM_ID, `must match ${UPSTREAM_ID.source}`)
      // `/mcp` sessions are the aggregate's by this name; an upstream must not share it.
      .refine((id) => id !== 'aggregate', 'is reserved for the aggregate endpoint')
      // The aggregate's own tools are `gatehouse__…`.
      .refine((id) => id !== PORTAL_TOOL_PREFIX, `is reserved for the portal's own tools (${PORTAL_TOOL_PREFIX}__search_tools)`),
    kind: z.enum(['mcp', 'http']),
    title: z.string().optional(),
    url: httpUrl.optional(),
    command: z.array(z.string().min(1)).min(1).optional(),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    credentials: z
      .strictObject({
        type: z.enum(['portal-jwt', 'oauth', 'static', 'token-exchange', 'none']).default('portal-jwt'),
        header: z.string().optional(),
        value_env: z.string().optional(),
        client_id: z.string().optional(),
        client_secret: z.string().optional(),
        // token-exchange (RFC 8693): the upstream's STS, the audience asked for, and the portal's client secret or private key there.
        token_endpoint: httpUrl.optional(),
        audience: z.string().min(1).optional(),
        client_secret_env: z.string().optional(),
        private_key_env: z.string().optional(),
        scopes: names,
        // oauth: the upstream's authorization server, for upstreams that do not publish RFC 9728 metadata.
        authorization_server: httpUrl.optional(),
      })
      .prefault({}),
    tools: z
      .strictObject({
        allow: names,
        deny: names,
        rename: z.record(z.string(), z.string()).default({}),
        describe: z.record(z.string(), z.string()).default({}),
        // Per-group tool rules (upstream tool names): who may use a tool, who may not.
        allow_groups: z.record(z.string(), names).default({}),
        deny_groups: z.record(z.string(), names).default({}),
        // Rug-pull protection: changed or new tool definitions wait for an administrator.
        pinning: z.enum(PINNING_MODES, { error: `must be one of ${PINNING_MODES.join(', ')}` }).default('enforce'),
        // Calls per person: `{ tool or "*": { per_minute, per_day } }` ("*": every tool together).
        limits: z
          .record(
            z.string(),
            z
              .strictObject({ per_minute: z.number().int().positive().optional(), per_day: z.number().int().positive().optional() })
              .refine((limit) => limit.per_minute !== undefined || limit.per_day !== undefined, { message: 'needs per_minute or per_day' }),
          )
          .default({}),
        // Human approval: a call to one of these tools (upstream names, `*` a wildcard) waits for the person.
        approval: names,
        // How long after an approval the same person and agent call that tool without asking again (0: every call asks).
        approval_ttl: durationOrZero('0s'),
        // How long a call waits for the person's decision, and how long an approval waits for its call.
        approval_timeout: duration('10m').refine((ms) => ms >= 1_000 && ms <= 24 * 3_600_000, { message: 'must be between 1s and 24h' }),
      })
      .prefault({}),
    access: z.strictObject({ groups: names, emails: names, domains: names, idps: names }).prefault({}),
    host: z
      .string()
      .regex(/^[a-z0-9.-]+(:\d+)?$/, 'must be a host name')
      .optional(),
    markdown: z.boolean().default(false),
    entry_pages: z.array(z.string().regex(/^\/[^\s]*$/, 'must be a path starting with /')).default([]),
    openapi: z
      .string()
      .regex(/^\/[^\s]*$/, 'must be a path starting with /')
      .optional(),
    connect_timeout: duration('10s'),
    call_timeout: duration('60s'),
  })
  .superRefine((value, ctx) => {
    if (value.kind === 'http' && !value.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required for kind http' });
    checkCredentials(value, ctx);
    if (value.kind === 'mcp' && !value.url === !value.command) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'kind mcp needs exactly one of url or command' });
    }
  });

/** The upstream as the code reads it: the file's keys in camelCase, durations in `…Ms`. */
function toUpstreamConfig(u: z.output<typeof upstreamFileSchema>): UpstreamConfig {
  const { credentials: c, tools: t } = u;
  return {
    id: u.id,
    kind: u.kind,
    title: u.title,
    url: u.url,
    command: u.command,
    env: u.env,
    cwd: u.cwd,
    credentials: {
      type: c.type,
      header: c.header,
      valueEnv: c.value_env,
      clientId: c.client_id,
      clientSecret: c.client_secret,
      tokenEndpoint: c.token_endpoint,
      audience: c.audience,
      clientSecretEnv: c.client_secret_env,
      privateKeyEnv: c.private_key_env,
      scopes: c.scopes,
      authorizationServer: c.authorization_server,
    },
    tools: {
      allow: t.allow,
      deny: t.deny,
      rename: t.rename,
      describe: t.describe,
      allowGroups: t.allow_groups,
      denyGroups: t.deny_groups,
      pinning: t.pinning,
      limits: Object.fromEntries(
        Object.entries(t.limits).map(([tool, limit]) => [tool, { perMinute: limit.per_minute, perDay: limit.per_day }]),
      ),
      approval: t.approval,
      approvalTtlMs: t.approval_ttl,
      approvalTimeoutMs: t.approval_timeout,
    },
    access: u.access,
    host: u.host,
    markdown: u.markdown,
    entryPages: u.entry_pages,
    openapi: u.openapi,
    connectTimeoutMs: u.connect_timeout,
    callTimeoutMs: u.call_timeout,
  };
}

/** One upstream, from the config file or the admin API: validated as written, then mapped to {@link UpstreamConfig}. */
export const upstreamSchema = upstreamFileSchema.transform(toUpstreamConfig);

/** The config file, as written (snake_case keys are the contract; DESIGN.md "Config file"). */
export const configFileSchema = z
  .strictObject({
    issuer: httpUrl.optional().describe('The public URL of the portal (PUBLIC_URL overrides).'),
    store: z
      .strictObject({
        redis: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .optional(),
        cluster: z.boolean().default(false),
        // A brace would become the Redis Cluster hash tag of every key: all of them in one slot.
        key_prefix: z
          .string()
          .regex(/^[^{}]*$/, 'must not contain { or }')
          .default('gatehouse:'),
        connect_timeout: duration('5s'),
      })
      .prefault({}),
    tokens: z
      .strictObject({
        access_ttl: duration('10m'),
        refresh_ttl: duration('30d'),
        code_ttl: duration('60s'),
        refresh_reuse_grace: duration('10s').refine((ms) => ms <= 10_000, { message: 'must be at most 10s' }),
        key_rotation: duration('30d'),
        // RFC 8628: how long a device code and its user code live, and the polling interval it asks for.
        device_code_ttl: duration('10m'),
        device_poll_interval: duration('5s'),
      })
      .prefault({}),
    http: z
      .strictObject({
        body_limit: z
          .string()
          .default('1mb')
          .refine((text) => parseSize(text) !== undefined, { message: 'must be a size such as 100kb or 1mb' })
          .transform((text) => parseSize(text)!),
        // Past this nesting a JSON body is refused before it is parsed: deep nesting only serves to exhaust recursion.
        json_depth_limit: z.number().int().min(8).max(1000).default(64),
        shutdown_grace: duration('10s'),
        trust_proxy: z.union([z.boolean(), z.number().int().min(0), z.string()]).default(false),
        headers_timeout: duration('20s'),
        request_timeout: duration('2m'),
        keep_alive_timeout: duration('5s'),
        // MCP event streams send a keep-alive comment every 15 s: a shorter idle timeout would cut them.
        idle_timeout: duration('2m').refine((ms) => ms >= 20_000, {
          message: 'must be at least 20s (MCP event streams send a keep-alive every 15s)',
        }),
        max_connections: z.number().int().positive('must be a positive number').default(4096),
      })
      .refine((value) => value.headers_timeout <= value.request_timeout, {
        path: ['headers_timeout'],
        message: 'must not be longer than request_timeout',
      })
      .prefault({}),
    login: z
      .strictObject({
        accounts: z.array(account).default([]),
        builtin: z.boolean().default(true),
        idps: z.array(idpSchema).default([]),
        session_idle: duration('12h'),
        session_max: duration('7d'),
      })
      .prefault({}),
    clients: z
      .strictObject({
        unused_ttl: duration('30d'),
        metadata_documents: z.strictObject({ allow_private_addresses: z.boolean().default(false) }).prefault({}),
        // One-word private-use redirect schemes of native apps the operator trusts (RFC 8252 §7.1 asks for reverse-DNS ones).
        private_use_schemes: z
          .array(z.string().regex(/^[a-z][a-z0-9+-]*$/, 'must be a URI scheme without a dot, such as cursor'))
          .default([]),
      })
      .prefault({}),
    // The portal as an OAuth client of upstreams: where what an upstream publishes may lead it.
    upstream_oauth: z.strictObject({ allow_private_addresses: z.boolean().default(false) }).prefault({}),
    aggregate: z
      .strictObject({
        // Clients add prefixes of their own to tool names; some need the aggregate's shorter than 64.
        max_tool_name_length: z
          .number()
          .int('must be a whole number')
          .min(16, 'must be between 16 and 128')
          .max(128, 'must be between 16 and 128')
          .default(64),
        // `search`: two tools (search, call) stand for every tool, for aggregates too large to list.
        tool_mode: z.enum(TOOL_MODES, { error: `must be one of ${TOOL_MODES.join(', ')}` }).default('all'),
      })
      .prefault({}),
    mcp: z
      .strictObject({
        allowed_origins: z.array(z.url({ error: 'must be an origin such as https://agent.example.com' })).default([]),
      })
      .prefault({}),
    rate_limits: z
      .strictObject({
        login_per_minute: z.number().int().positive().default(10),
        register_per_minute: z.number().int().positive().default(20),
        token_per_minute: z.number().int().positive().default(60),
        // User codes typed at /device, per person: guessing one of a few live codes stays hopeless.
        user_code_per_minute: z.number().int().positive().default(10),
        token_per_client_per_minute: z.number().int().positive().default(600),
      })
      .prefault({}),
    admins: z.strictObject({ groups: names, emails: names }).prefault({}),
    audit: z
      .strictObject({
        stdout: z.boolean().default(false),
        file: z.string().min(1).optional(),
        stream_max_length: z.number().int().min(100).default(100_000),
        include_arguments: z.boolean().default(false),
        include_results: z.boolean().default(false),
        redact: z.array(z.string().min(1)).default(['password', 'secret', 'token', 'api_key', 'apikey', 'authorization', 'cookie']),
      })
      .prefault({}),
    service_clients: z.array(serviceClient).default([]),
    token_exchange: z.strictObject({ trusted_issuers: z.array(trustedIssuer).default([]) }).prefault({}),
    upstreams: z.array(upstreamSchema).default([]),
  })
  .superRefine((value, ctx) => {
    checkIdentityRules(value, ctx);
    const seen = new Set<string>();
    value.upstreams.forEach((u, i) => {
      if (seen.has(u.id)) ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'id'], message: `duplicates upstream "${u.id}"` });
      seen.add(u.id);
    });
    const hosts = new Set<string>();
    value.upstreams.forEach((u, i) => {
      // A host belongs to one app entirely: two apps on one host would make routing ambiguous.
      if (u.host && hosts.has(u.host))
        ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'host'], message: `is already the host of another upstream` });
      if (u.host) hosts.add(u.host);
    });
    // A trusted issuer's people are `{id}:{sub}`: its id must not be another source of people.
    const people = new Set(['local', 'service', ...value.login.idps.map((idp) => idp.id)]);
    value.token_exchange.trusted_issuers.forEach((issuer, i) => {
      if (people.has(issuer.id))
        ctx.addIssue({
          code: 'custom',
          path: ['token_exchange', 'trusted_issuers', i, 'id'],
          message: `"${issuer.id}" already names people signed in another way`,
        });
      people.add(issuer.id);
    });
    const ids = new Set(value.upstreams.map((u) => u.id));
    for (const [i, client] of value.service_clients.entries()) {
      for (const [j, id] of client.upstreams.entries()) {
        if (!ids.has(id))
          ctx.addIssue({ code: 'custom', path: ['service_clients', i, 'upstreams', j], message: `names no upstream "${id}"` });
      }
    }
  });

/** The schema inside optional/default/pipe wrappers, for walking the shape of the config. */
export function unwrapSchema(schema: z.core.$ZodType): z.core.$ZodType {
  const def = schema._zod.def as { innerType?: z.core.$ZodType; in?: z.core.$ZodType; schema?: z.core.$ZodType };
  const inner = def.innerType ?? def.in ?? def.schema;
  return inner ? unwrapSchema(inner) : schema;
}
