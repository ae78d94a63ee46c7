/**
 * Rewrites upstream response headers that name upstream locations so that they point under the
 * portal mount instead: `Location` (RFC 9110 §10.2.2) and the `Path`/`Domain` attributes of
 * `Set-Cookie` (RFC 6265 §5.2).
 */

import { isListedCookie } from './cookie-names.js';

/** The upstream as the rewriters see it. */
export interface RewriteTarget {
  /** The upstream origin, e.g. `http://127.0.0.1:4000`. */
  upstreamOrigin: string;
  /** The upstream's base path without a trailing slash (`''` for `/`). */
  basePath: string;
  /** The portal prefix the app is mounted under (`/apps/wiki`, or `''` for host routing). */
  mountPath: string;
}

/**
 * The `Location` a client of the portal should follow. Absolute URLs on the upstream origin and
 * path-absolute references under the base path become portal paths (`/base/x` → `/apps/wiki/x`);
 * relative references already resolve under the mount; other origins are left alone.
 */
export function rewriteLocation(location: string, target: RewriteTarget): string {
  if (!location.startsWith('/') || location.startsWith('//')) {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return location; // a relative reference: the client resolves it against the portal URL
    }
    if (url.origin !== target.upstreamOrigin) return location;
    return underMount(`${url.pathname}${url.search}${url.hash}`, target) ?? location;
  }
  return underMount(location, target) ?? location;
}

/**
 * A `Set-Cookie` value fitted to the portal: `Path` moved under the mount (a path outside the
 * upstream base is confined to the mount), `Domain` dropped (it names the upstream host, which a
 * browser would refuse; host-only scopes the cookie to the portal). `undefined` drops the cookie:
 * an upstream may not set one of the portal's own cookies (see {@link isListedCookie}).
 */
export function rewriteSetCookie(setCookie: string, target: RewriteTarget, portalCookies: readonly string[]): string | undefined {
  const [pair = '', ...attributes] = setCookie.split(';');
  if (isListedCookie(pair, portalCookies)) return undefined;
  const mountRoot = target.mountPath || '/';
  const kept: string[] = [pair.trim()];
  for (const attribute of attributes) {
    const [key = '', ...rest] = attribute.split('=');
    const lowerKey = key.trim().toLowerCase();
    if (lowerKey === 'domain') continue;
    if (lowerKey === 'path') {
      const path = rest.join('=').trim();
      // `/apps/wiki` rather than `/apps/wiki/`: it path-matches both the mount and everything below.
      const moved = (path.startsWith('/') && underMount(path, target)) || mountRoot;
      kept.push(`Path=${moved.length > 1 ? moved.replace(/\/+$/, '') : moved}`);
      continue;
    }
    kept.push(attribute.trim());
  }
  // Without Path the browser uses the request's directory, which is already under the mount.
  return kept.filter(Boolean).join('; ');
}

/** `path` (which may carry a query) moved from under the base path to under the mount, else `undefined`. */
function underMount(path: string, target: RewriteTarget): string | undefined {
  const { basePath, mountPath } = target;
  if (basePath && path !== basePath && !path.startsWith(`${basePath}/`) && !path.startsWith(`${basePath}?`)) return undefined;
  const rest = path.slice(basePath.length);
  if (!rest || rest.startsWith('?')) return `${mountPath || '/'}${rest}`;
  return `${mountPath}${rest}`;
}
