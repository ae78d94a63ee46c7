import type { z } from 'zod';
import { privateKeyAlgorithm } from './idp-schema.js';
import type { UpstreamCredentials } from './config-types.js';

/** An environment variable name (POSIX portable: letters, digits, `_`, not starting with a digit). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An HTTP field name (RFC 9110 §5.1 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `upstreams[].credentials` as written, the shape {@link checkCredentials} validates. */
interface CredentialsShape {
  type: 'portal-jwt' | 'oauth' | 'static' | 'token-exchange' | 'none';
  header?: string;
  value_env?: string;
  client_id?: string;
  client_secret?: string;
  token_endpoint?: string;
  audience?: string;
  client_secret_env?: string;
  private_key_env?: string;
  scopes: string[];
  authorization_server?: string;
}

/**
 * A `static` credential's header value, read from the variable `name` of `env`, or why it cannot
 * be one (unset, or a line break that would split the request it is sent in).
 */
export function readStaticSecret(name: string, env: NodeJS.ProcessEnv): { value: string } | { problem: string } {
  const value = env[name];
  if (!value) return { problem: `environment variable ${name} is not set` };
  if (/[\r\n\0]/.test(value)) return { problem: `environment variable ${name} contains a line break` };
  return { value };
}

/** A `token-exchange` credential's PEM private key, from the variable `name` of `env`, or why it cannot be one. */
function readPrivateKey(name: string, env: NodeJS.ProcessEnv): { value: string } | { problem: string } {
  const value = env[name];
  if (!value) return { problem: `environment variable ${name} is not set` };
  if (privateKeyAlgorithm(value) === undefined)
    return { problem: `environment variable ${name} is not a PKCS#8 PEM RSA, EC or Ed25519 private key` };
  return { value };
}

/**
 * A `token-exchange` credential's secret (client secret, or PEM private key), read from its variable
 * of `env` when it is used, so that upstreams added through the admin API work too.
 */
export function readTokenExchangeSecret(
  credentials: Pick<UpstreamCredentials, 'clientSecretEnv' | 'privateKeyEnv'>,
  env: NodeJS.ProcessEnv,
): { value: string; kind: 'client_secret' | 'private_key' } | { problem: string } {
  if (credentials.privateKeyEnv) {
    const key = readPrivateKey(credentials.privateKeyEnv, env);
    return 'problem' in key ? key : { value: key.value, kind: 'private_key' };
  }
  const secret = readStaticSecret(credentials.clientSecretEnv ?? '', env);
  return 'problem' in secret ? secret : { value: secret.value, kind: 'client_secret' };
}

/** Why a `token-exchange` credential's secret variable is unusable (the key to name), or `undefined` (usable, or another type). */
export function tokenExchangeSecretProblem(
  credentials: UpstreamCredentials,
  env: NodeJS.ProcessEnv,
): { key: string; problem: string } | undefined {
  if (credentials.type !== 'token-exchange') return undefined;
  const secret = readTokenExchangeSecret(credentials, env);
  return 'problem' in secret
    ? { key: credentials.privateKeyEnv ? 'private_key_env' : 'client_secret_env', problem: secret.problem }
    : undefined;
}

/**
 * Which `credentials` keys belong to which strategy (DESIGN.md "Tokens and identity"): a key that
 * the chosen strategy would ignore is an error, so that a typo never silently sends nothing.
 * Whether `value_env` is actually set is checked where the environment is known (`load.ts`).
 */
export function checkCredentials(
  upstream: { url?: string; command?: string[]; credentials: CredentialsShape },
  ctx: z.core.$RefinementCtx,
): void {
  const { credentials } = upstream;
  const at = (key: string) => ['credentials', key];
  if (credentials.header !== undefined && !HEADER_NAME.test(credentials.header))
    ctx.addIssue({ code: 'custom', path: at('header'), message: 'must be an HTTP header name' });
  if ((credentials.type === 'oauth' || credentials.type === 'static') && !upstream.url) {
    ctx.addIssue({
      code: 'custom',
      path: at('type'),
      message: `${credentials.type} needs an upstream reached by url (a stdio upstream takes its secrets from env)`,
    });
  }
  if (credentials.type === 'static') {
    if (!credentials.value_env) ctx.addIssue({ code: 'custom', path: at('value_env'), message: 'is required for type static' });
    else if (!ENV_NAME.test(credentials.value_env))
      ctx.addIssue({ code: 'custom', path: at('value_env'), message: 'must be an environment variable name' });
  } else if (credentials.value_env !== undefined) {
    ctx.addIssue({ code: 'custom', path: at('value_env'), message: 'is only for type static' });
  }
  checkTokenExchange(upstream, ctx);
  const oauthOnly = (['client_id', 'client_secret', 'authorization_server'] as const).filter(
    (key) => credentials[key] !== undefined && !(key === 'client_id' && credentials.type === 'token-exchange'),
  );
  if (credentials.type !== 'oauth') {
    for (const key of oauthOnly) ctx.addIssue({ code: 'custom', path: at(key), message: 'is only for type oauth' });
    if (credentials.scopes.length) ctx.addIssue({ code: 'custom', path: at('scopes'), message: 'is only for type oauth' });
    return;
  }
  if (credentials.client_secret !== undefined && !credentials.client_id)
    ctx.addIssue({ code: 'custom', path: at('client_id'), message: 'is required with client_secret' });
  // Scopes go into a space-separated parameter (RFC 6749 §3.3): no spaces or quotes inside one.
  credentials.scopes.forEach((scope, i) => {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope))
      ctx.addIssue({ code: 'custom', path: [...at('scopes'), i], message: 'must be a scope token (RFC 6749 §3.3)' });
  });
}

/**
 * `token-exchange` (RFC 8693 at the upstream's STS): `token_endpoint`, `audience`, `client_id`, and
 * exactly one of `client_secret_env` / `private_key_env` (environment variable names); these keys
 * belong to no other type.
 */
function checkTokenExchange(upstream: { url?: string; credentials: CredentialsShape }, ctx: z.core.$RefinementCtx): void {
  const { credentials } = upstream;
  const at = (key: string) => ['credentials', key];
  const own = ['token_endpoint', 'audience', 'client_secret_env', 'private_key_env'] as const;
  if (credentials.type !== 'token-exchange') {
    for (const key of own)
      if (credentials[key] !== undefined) ctx.addIssue({ code: 'custom', path: at(key), message: 'is only for type token-exchange' });
    return;
  }
  if (!upstream.url)
    ctx.addIssue({
      code: 'custom',
      path: at('type'),
      message: 'token-exchange needs an upstream reached by url (a stdio upstream takes its secrets from env)',
    });
  for (const key of ['token_endpoint', 'audience', 'client_id'] as const) {
    if (!credentials[key]) ctx.addIssue({ code: 'custom', path: at(key), message: 'is required for type token-exchange' });
  }
  const secrets = (['client_secret_env', 'private_key_env'] as const).filter((key) => credentials[key] !== undefined);
  if (secrets.length !== 1)
    ctx.addIssue({
      code: 'custom',
      path: at('client_secret_env'),
      message: 'give exactly one of client_secret_env or private_key_env for type token-exchange',
    });
  for (const key of secrets)
    if (!ENV_NAME.test(credentials[key]!)) ctx.addIssue({ code: 'custom', path: at(key), message: 'must be an environment variable name' });
}
