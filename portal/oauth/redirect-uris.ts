/** Schemes that must never receive an authorization response. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'ws:', 'wss:', 'ftp:']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Why a redirect URI may not be registered, or `undefined` when it may: `https`, `http` on a
 * loopback host (RFC 8252 §7.3), or a private-use scheme (RFC 8252 §7.1); never a fragment,
 * a wildcard, credentials, or a script/data scheme.
 */
export function redirectUriProblem(uri: string): string | undefined {
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
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname) ? undefined : 'must use https unless the host is loopback (127.0.0.1, [::1], localhost)';
  if (!/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) return 'has an invalid scheme';
  return undefined;
}

/**
 * Whether a redirect URI sent to `/authorize` matches a registered one: exactly, except that
 * a loopback `http` URI may use any port (RFC 8252 §7.3, native apps bind a free port).
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
  if (a.protocol !== 'http:' || b.protocol !== 'http:' || !LOOPBACK_HOSTS.has(b.hostname)) return false;
  if (a.hash || requested.includes('#')) return false;
  return a.hostname === b.hostname && a.pathname === b.pathname && a.search === b.search && a.username === '' && a.password === '';
}
