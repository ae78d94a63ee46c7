import { isLoopbackHost } from '../net/addresses.js';

/** Schemes that must never receive an authorization response. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'ws:', 'wss:', 'ftp:']);

/**
 * The kind of client (OpenID Connect Dynamic Client Registration 1.0 §2 `application_type`),
 * which decides the redirect URIs it may register: a `web` client is served from a host of its
 * own, a `native` one runs on the person's device (desktop, mobile, CLI, or a web app on
 * `localhost`: MCP 2026-07-28 "Application Type and Redirect URI Constraints").
 */
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/** The values of `application_type` the portal knows; any other is `invalid_client_metadata`. */
export const APPLICATION_TYPES = ['web', 'native'] as const;

/**
 * The application type a client that did not state one is taken to be: `native` when any
 * redirect URI is loopback `http` or a private-use scheme (RFC 8252 §7.1, §7.3), else `web`.
 * Clients from before MCP 2026-07-28 send no `application_type` and register loopback URIs;
 * the OpenID default (`web`) would refuse them, so the portal reads their URIs instead, as the
 * MCP SDK does when it fills the field in.
 */
export function impliedApplicationType(redirectUris: readonly string[]): ApplicationType {
  for (const uri of redirectUris) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      continue;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'native';
    if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return 'native';
  }
  return 'web';
}

/**
 * Why a redirect URI may not be registered by a client of `applicationType`, or `undefined` when
 * it may. Never a fragment, a wildcard, credentials, or a script/data scheme. Any client may use
 * `https`. Only a `native` client may use `http` on a loopback host (RFC 8252 §7.3) or a
 * private-use scheme in reverse-DNS form, i.e. containing a dot (RFC 8252 §7.1), or one of
 * `oneWordSchemes` the operator allows; a `web` client
 * uses `https` alone (OpenID Connect Dynamic Client Registration 1.0 §2; MCP 2026-07-28: every
 * redirect URI is `localhost` or `https`).
 */
export function redirectUriProblem(
  uri: string,
  applicationType: ApplicationType,
  oneWordSchemes: readonly string[] = [],
): string | undefined {
  if (uri.length > 2000) return 'is longer than 2000 characters';
  if (uri.includes('*')) return 'must not contain wildcards';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.protocol === 'https:') return undefined;
  const native = applicationType === 'native';
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname))
      return native ? 'must use https unless the host is loopback (127.0.0.1, [::1], localhost)' : 'must use https';
    return native ? undefined : 'must use https: loopback http URIs are for application_type "native"';
  }
  if (!/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) return 'has an invalid scheme';
  if (!native) return 'must use https: private-use URI schemes are for application_type "native"';
  // A one-word scheme (`myapp:`) is easily claimed by another app on the device, which would receive the code.
  // The operator may allow one-word schemes of apps they trust (`clients.private_use_schemes`, e.g. `cursor`).
  if (url.protocol.includes('.') || oneWordSchemes.includes(url.protocol.slice(0, -1))) return undefined;
  return `must use a reverse-DNS private-use scheme of a domain the app controls, such as com.example.app (RFC 8252 §7.1); an operator may allow "${url.protocol.slice(0, -1)}" with clients.private_use_schemes`;
}

/**
 * Whether a redirect URI sent to `/authorize` matches a registered one: exactly, except that
 * a loopback `http` URI may use any port (RFC 8252 §7.3, native apps bind a free port). Only
 * `native` clients can hold loopback `http` URIs, so the exception is theirs alone.
 */
export function redirectUriMatches(requested: string, registered: string): boolean {
  if (requested === registered) return true;
  let a: URL;
  let b: URL;
  try {
    a = new URL(requested);
    b = new URL(registered);
  } catch {
    return false;
  }
  if (a.protocol !== 'http:' || b.protocol !== 'http:' || !isLoopbackHost(b.hostname)) return false;
  if (a.hash || requested.includes('#')) return false;
  return a.hostname === b.hostname && a.pathname === b.pathname && a.search === b.search && a.username === '' && a.password === '';
}
