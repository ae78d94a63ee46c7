import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { portalHostConflict } from '../apps/app-mounts.js';
import { configFileSchema } from './schema.js';
import type { AccountConfig, IdpConfig, ServiceClientConfig, TrustedIssuerConfig, UpstreamConfig } from './config-types.js';
import type { ToolMode } from '../governance/tool-search.js';
import { readStaticSecret, tokenExchangeSecretProblem } from './credentials-schema.js';
import { deepFreeze } from './deep-freeze.js';
import { describeIssue } from './issue.js';
import type { ConnectionLimits } from '../http/server.js';

/**
 * The portal's runtime configuration: the config file, resolved against the environment, in
 * camelCase with units in the names. Frozen when loaded: derive what differs, never write to it.
 */
export interface Config {
  /** Where the config came from: a file path, or `built-in demo`. */
  readonly source: string;
  /** True when no config file was found and the built-in demo runs. */
  readonly demo: boolean;
  readonly host: string;
  readonly port: number;
  /** `PUBLIC_URL` exactly, without a trailing slash. */
  readonly issuer: string;
  readonly store: { readonly redisUrl?: string; readonly cluster: boolean; readonly keyPrefix: string; readonly connectTimeoutMs: number };
  /** Root secret for cookie signing and encryption at rest. */
  readonly secret: string;
  /** True when no `GATEHOUSE_SECRET` was given and one was generated for this process. */
  readonly secretGenerated: boolean;
  readonly logLevel: LogLevel;
  readonly tokens: {
    readonly accessTtlMs: number;
    readonly refreshTtlMs: number;
    readonly codeTtlMs: number;
    readonly refreshReuseGraceMs: number;
    readonly keyRotationMs: number;
    readonly deviceCodeTtlMs: number;
    readonly devicePollIntervalMs: number;
  };
  readonly login: {
    readonly sessionIdleMs: number;
    readonly sessionMaxMs: number;
    /** Whether the built-in accounts' form is offered (and accepted). */
    readonly builtin: boolean;
    /** Upstream OpenID Connect providers people sign in with. */
    readonly idps: readonly IdpConfig[];
  };
  readonly clients: {
    readonly unusedTtlMs: number;
    readonly allowPrivateMetadataAddresses: boolean;
    readonly privateUseSchemes: readonly string[];
  };
  /** The portal as an OAuth client of `oauth` upstreams: discovery may lead to non-public addresses. */
  readonly upstreamOAuth: { readonly allowPrivateAddresses: boolean };
  readonly rateLimits: {
    readonly loginPerMinute: number;
    readonly registerPerMinute: number;
    readonly tokenPerMinute: number;
    readonly userCodePerMinute: number;
    readonly tokenPerClientPerMinute: number;
  };
  /** Browser origins allowed to call the MCP endpoints besides the portal's own and loopback ones. */
  readonly mcp: { readonly allowedOrigins: readonly string[] };
  /** The aggregate `/mcp`: longest tool name it shows (longer ones are shortened, stably), and its tool mode. */
  readonly aggregate: { readonly maxToolNameLength: number; readonly toolMode: ToolMode };
  readonly http: {
    /** Largest request body the portal parses. */
    readonly bodyLimitBytes: number;
    /** Deepest nesting a JSON request body may have. */
    readonly jsonDepthLimit: number;
    readonly shutdownGraceMs: number;
    readonly trustProxy: boolean | number | string;
    /** How long clients may take and how many may be connected at once. */
    readonly connections: Readonly<ConnectionLimits>;
  };
  readonly accounts: readonly AccountConfig[];
  readonly admins: { readonly groups: readonly string[]; readonly emails: readonly string[] };
  /** The audit log: where events go, and what of arguments and results they keep. */
  readonly audit: {
    readonly stdout: boolean;
    readonly file?: string;
    readonly streamMaxLength: number;
    readonly includeArguments: boolean;
    readonly includeResults: boolean;
    readonly redactKeys: readonly string[];
  };
  readonly serviceClients: readonly ServiceClientConfig[];
  /** RFC 8693 token exchange: issuers whose JWTs the portal accepts as subject tokens. */
  readonly tokenExchange: { readonly trustedIssuers: readonly TrustedIssuerConfig[] };
  /** The config file's upstreams (the admin API's live in the Store). */
  readonly upstreams: readonly UpstreamConfig[];
  /** `static` upstream credentials: the header value by upstream id, read from `credentials.value_env` at start-up. */
  readonly upstreamSecrets: Readonly<Record<string, string>>;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A config problem, stated in one line that names the key: `config: upstreams[1].id: must match …`. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(
    readonly key: string,
    readonly problem: string,
    /** The config file the key is in, when it is one (`config: gatehouse.yaml: upstreams[1].id: …`). */
    readonly file?: string,
  ) {
    super(`config: ${file ? `${file}: ` : ''}${key ? `${key}: ` : ''}${problem}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** The file `--config` named, if it named one. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Loads the config: `--config PATH`, else `GATEHOUSE_CONFIG`, else `./gatehouse.yaml` if
 * present, else the built-in demo. `${VAR}` in string values is replaced from the environment,
 * then `PORT`, `HOST`, `PUBLIC_URL`, `REDIS_URL`, `GATEHOUSE_SECRET` and `LOG_LEVEL` apply.
 *
 * @throws {ConfigError} naming the first key that is wrong.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = locateConfigFile(options.configFile, env, cwd);
  const raw = file ? readConfigFile(file) : {};
  try {
    return resolveConfig(raw, env, file ?? 'built-in demo');
  } catch (error) {
    // A key of the file is named with the file (environment variables and options name themselves).
    if (!(error instanceof ConfigError) || !file || !error.key || /^(--|[A-Z_]+$)/.test(error.key)) throw error;
    throw new ConfigError(error.key, error.problem, file);
  }
}

/** Validates an already-parsed config document and applies the environment. */
export function resolveConfig(document: unknown, env: NodeJS.ProcessEnv, source: string): Config {
  const parsed = configFileSchema.safeParse(interpolate(document, env, ''));
  if (!parsed.success) throw toConfigError(parsed.error, document);
  const file = parsed.data;

  const port = env.PORT === undefined ? 8787 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('PORT', 'must be a port number (0-65535)');
  const issuer = normalizeIssuer(env.PUBLIC_URL ?? file.issuer ?? `http://localhost:${port}`, env.PUBLIC_URL ? 'PUBLIC_URL' : 'issuer');
  const redisUrl = env.REDIS_URL || file.store.redis;
  if (redisUrl && (!/^rediss?:\/\//.test(redisUrl) || !URL.canParse(redisUrl)))
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
  const cluster = env.REDIS_CLUSTER === undefined ? file.store.cluster : parseFlag('REDIS_CLUSTER', env.REDIS_CLUSTER);
  if (cluster && redisUrl && !/^\/?0?$/.test(new URL(redisUrl).pathname)) {
    throw new ConfigError(
      env.REDIS_URL ? 'REDIS_URL' : 'store.redis',
      'a Redis Cluster has only database 0: leave the path out of the URL',
    );
  }
  file.upstreams.forEach((upstream, i) => {
    const conflict = portalHostConflict(issuer, upstream);
    if (conflict) throw new ConfigError(`upstreams[${i}].host`, conflict);
  });
  const logLevel = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  let secret = env.GATEHOUSE_SECRET ?? '';
  const secretGenerated = secret === '';
  if (secretGenerated) {
    // Processes sharing a Redis must share the secret, or one could not read another's cookies.
    if (redisUrl) throw new ConfigError('GATEHOUSE_SECRET', 'must be set when the store is Redis (every portal process must share it)');
    secret = randomBytes(32).toString('base64url');
  } else if (secret.length < 32) {
    throw new ConfigError('GATEHOUSE_SECRET', 'must be at least 32 characters (e.g. `openssl rand -base64 32`)');
  }

  return deepFreeze({
    source,
    demo: source === 'built-in demo',
    host: env.HOST ?? '127.0.0.1',
    port,
    issuer,
    store: { redisUrl: redisUrl || undefined, cluster, keyPrefix: file.store.key_prefix, connectTimeoutMs: file.store.connect_timeout },
    secret,
    secretGenerated,
    logLevel,
    tokens: {
      accessTtlMs: file.tokens.access_ttl,
      refreshTtlMs: file.tokens.refresh_ttl,
      codeTtlMs: file.tokens.code_ttl,
      refreshReuseGraceMs: file.tokens.refresh_reuse_grace,
      keyRotationMs: file.tokens.key_rotation,
      deviceCodeTtlMs: file.tokens.device_code_ttl,
      devicePollIntervalMs: file.tokens.device_poll_interval,
    },
    login: {
      sessionIdleMs: file.login.session_idle,
      sessionMaxMs: file.login.session_max,
      builtin: file.login.builtin,
      idps: file.login.idps,
    },
    clients: {
      unusedTtlMs: file.clients.unused_ttl,
      allowPrivateMetadataAddresses: file.clients.metadata_documents.allow_private_addresses,
      privateUseSchemes: file.clients.private_use_schemes,
    },
    upstreamOAuth: { allowPrivateAddresses: file.upstream_oauth.allow_private_addresses },
    mcp: { allowedOrigins: file.mcp.allowed_origins.map((origin) => new URL(origin).origin) },
    aggregate: { maxToolNameLength: file.aggregate.max_tool_name_length, toolMode: file.aggregate.tool_mode },
    rateLimits: {
      loginPerMinute: file.rate_limits.login_per_minute,
      registerPerMinute: file.rate_limits.register_per_minute,
      tokenPerMinute: file.rate_limits.token_per_minute,
      userCodePerMinute: file.rate_limits.user_code_per_minute,
      tokenPerClientPerMinute: file.rate_limits.token_per_client_per_minute,
    },
    http: {
      bodyLimitBytes: file.http.body_limit,
      jsonDepthLimit: file.http.json_depth_limit,
      shutdownGraceMs: file.http.shutdown_grace,
      trustProxy: file.http.trust_proxy,
      connections: {
        headersTimeoutMs: file.http.headers_timeout,
        requestTimeoutMs: file.http.request_timeout,
        keepAliveTimeoutMs: file.http.keep_alive_timeout,
        idleTimeoutMs: file.http.idle_timeout,
        maxConnections: file.http.max_connections,
      },
    },
    accounts: file.login.accounts,
    admins: file.admins,
    audit: {
      stdout: file.audit.stdout,
      file: file.audit.file,
      streamMaxLength: file.audit.stream_max_length,
      includeArguments: file.audit.include_arguments,
      includeResults: file.audit.include_results,
      redactKeys: file.audit.redact,
    },
    serviceClients: file.service_clients,
    tokenExchange: { trustedIssuers: file.token_exchange.trusted_issuers },
    upstreams: file.upstreams,
    upstreamSecrets: staticSecrets(file.upstreams, env),
  });
}

/**
 * Each `static` upstream's secret from its `value_env`; a variable that is not set (or, for
 * `token-exchange`, a client secret or private key variable that is not usable) stops start-up naming it.
 */
function staticSecrets(upstreams: readonly UpstreamConfig[], env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets: Record<string, string> = {};
  upstreams.forEach((upstream, i) => {
    const problem = tokenExchangeSecretProblem(upstream.credentials, env);
    if (problem) throw new ConfigError(`upstreams[${i}].credentials.${problem.key}`, problem.problem);
    const name = upstream.credentials.type === 'static' ? upstream.credentials.valueEnv! : undefined;
    if (name === undefined) return;
    const secret = readStaticSecret(name, env);
    if ('problem' in secret) throw new ConfigError(`upstreams[${i}].credentials.value_env`, secret.problem);
    secrets[upstream.id] = secret.value;
  });
  return secrets;
}

function locateConfigFile(given: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  if (given !== undefined) {
    if (!given) throw new ConfigError('--config', 'needs a file path');
    return path.resolve(cwd, given);
  }
  if (env.GATEHOUSE_CONFIG) return path.resolve(cwd, env.GATEHOUSE_CONFIG);
  const local = path.join(cwd, 'gatehouse.yaml');
  return existsSync(local) ? local : undefined;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError('', `${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** Replaces `${VAR}` in every string value; a variable that is not set is an error naming the key. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, key: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const replacement = env[name];
      if (replacement === undefined) throw new ConfigError(key, `environment variable ${name} is not set`);
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, `${key}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, key ? `${key}.${k}` : k)]));
  }
  return value;
}

/** An on/off environment variable: `true`/`1` or `false`/`0`; anything else is a mistake worth stopping for. */
function parseFlag(key: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(key, 'must be true, false, 1 or 0');
}

function normalizeIssuer(value: string, key: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, 'must be an absolute http(s) URL');
  }
  if (!/^https?:$/.test(url.protocol) || url.search || url.hash || url.username) {
    throw new ConfigError(key, 'must be an http(s) URL without query, fragment or credentials');
  }
  return url.toString().replace(/\/+$/, '');
}

function toConfigError(error: z.ZodError, document: unknown): ConfigError {
  const { key, problem } = describeIssue(error, document, configFileSchema);
  return new ConfigError(key, problem);
}
