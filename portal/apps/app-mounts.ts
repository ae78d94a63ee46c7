import { createHttpAppProxy, type HttpAppProxy } from '../../adapters/http-app/proxy.js';
import type { UpstreamConfig } from '../config/schema.js';
import { isLoopbackHost } from '../net/addresses.js';

/** A `kind: http` upstream as the portal serves it for one request: by path or by host. */
export interface AppMount {
  upstream: UpstreamConfig;
  /** `/apps/{id}` for path routing, `''` when the whole host belongs to the app. */
  mountPath: string;
  /** The app's public base URL: `{issuer}/apps/{id}` or `{scheme}://{host}`. Links in Markdown point here. */
  publicUrl: string;
  /** The RFC 8707 resource a token for this app names (`aud`): `{issuer}/apps/{id}`, or the app's origin when host-routed. */
  resourceUrl: string;
  /** The RFC 9728 metadata URL for the `WWW-Authenticate` challenge. */
  metadataUrl: string;
}

/** Path-routed apps live under this prefix. */
export const APPS_PREFIX = '/apps';

/** The public origin of a host-routed app: the issuer's scheme with the configured `host` (which may carry a port). */
export function hostOrigin(issuer: string, host: string): string {
  return `${new URL(issuer).protocol}//${host}`;
}

/** The mount of an app served under `/apps/{id}` on the portal's own host. */
export function pathMount(issuer: string, upstream: UpstreamConfig): AppMount {
  const publicUrl = `${issuer}${APPS_PREFIX}/${upstream.id}`;
  return {
    upstream,
    mountPath: `${APPS_PREFIX}/${upstream.id}`,
    publicUrl,
    resourceUrl: publicUrl,
    metadataUrl: `${issuer}/.well-known/oauth-protected-resource${APPS_PREFIX}/${upstream.id}`,
  };
}

/** The mount of an app that owns its whole host (DESIGN.md: "a host-routed app's resource is its origin"). */
export function hostMount(issuer: string, upstream: UpstreamConfig & { host: string }): AppMount {
  const origin = hostOrigin(issuer, upstream.host);
  return { upstream, mountPath: '', publicUrl: origin, resourceUrl: origin, metadataUrl: `${origin}/.well-known/oauth-protected-resource` };
}

/** The `kind: http` upstream whose `host` is this `Host` header (compared case-insensitively), if any. */
export function appForHost(
  upstreams: readonly UpstreamConfig[],
  hostHeader: string | undefined,
): (UpstreamConfig & { host: string }) | undefined {
  if (!hostHeader) return undefined;
  const wanted = hostHeader.toLowerCase();
  return upstreams.find((u): u is UpstreamConfig & { host: string } => u.kind === 'http' && !!u.host && u.host === wanted);
}

/** The `kind: http` upstream named by a path under `/apps/{id}` (`/apps/{id}` itself, `/apps/{id}/…`, `/apps/{id}?…`). */
export function appForPath(upstreams: readonly UpstreamConfig[], url: string): UpstreamConfig | undefined {
  const match = /^\/apps\/([^/?#]+)(?:[/?#]|$)/.exec(url);
  return match ? upstreams.find((u) => u.kind === 'http' && u.id === match[1]) : undefined;
}

/**
 * Whether a `Host` header names the portal itself (the issuer's host). Loopback aliases on the same
 * port count (one machine), so that the demo works from either `localhost` or `127.0.0.1`.
 */
export function isPortalHost(issuer: string, hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  // Asked on every app request, with the same few hosts: parsed once per process.
  const key = `${issuer} ${hostHeader}`;
  let known = portalHosts.get(key);
  if (known === undefined) {
    if (portalHosts.size >= PORTAL_HOSTS_KEPT) portalHosts.clear();
    known = parsePortalHost(issuer, hostHeader);
    portalHosts.set(key, known);
  }
  return known;
}

/** {@link isPortalHost}'s answers so far; a bound on memory (any client may send any `Host`), not on correctness. */
const portalHosts = new Map<string, boolean>();
const PORTAL_HOSTS_KEPT = 1_000;

function parsePortalHost(issuer: string, hostHeader: string): boolean {
  const own = new URL(issuer);
  let asked: URL;
  try {
    asked = new URL(`${own.protocol}//${hostHeader}`);
  } catch {
    return false;
  }
  if (asked.host === own.host) return true;
  return asked.port === own.port && isLoopbackHost(asked.hostname) && isLoopbackHost(own.hostname);
}

/**
 * Why an app may not have this `host`, or `undefined` when it may: the portal's own host (see
 * {@link isPortalHost}) belongs to the portal, and host routing comes first, so an app there would
 * answer the portal's sign-in, OAuth and admin routes. Said as a config problem, after the key.
 */
export function portalHostConflict(issuer: string, upstream: Pick<UpstreamConfig, 'id' | 'host'>): string | undefined {
  if (!upstream.host || !isPortalHost(issuer, upstream.host)) return undefined;
  return `is the portal's own host; an app there would take over the portal's sign-in and OAuth routes (give it a host of its own, or serve it under ${APPS_PREFIX}/${upstream.id})`;
}

/**
 * One streaming proxy per app and mount, made on first use and remade when the upstream's URL or
 * timeouts change (the admin API may edit upstreams while the portal runs).
 */
export interface AppProxies {
  get(mount: Pick<AppMount, 'upstream' | 'mountPath'>): HttpAppProxy;
  /** Closes the idle keep-alive connections of every proxy. */
  close(): void;
}

export function createAppProxies(options: { trustForwarded: boolean }): AppProxies {
  const proxies = new Map<string, { signature: string; proxy: HttpAppProxy }>();
  return {
    get({ upstream, mountPath }) {
      const key = `${upstream.id}\n${mountPath}`;
      const signature = `${upstream.url}\n${upstream.connectTimeoutMs}\n${upstream.callTimeoutMs}`;
      const known = proxies.get(key);
      if (known?.signature === signature) return known.proxy;
      known?.proxy.close();
      const proxy = createHttpAppProxy({
        upstreamUrl: upstream.url!,
        mountPath,
        connectTimeoutMs: upstream.connectTimeoutMs,
        responseTimeoutMs: upstream.callTimeoutMs,
        trustForwarded: options.trustForwarded,
      });
      proxies.set(key, { signature, proxy });
      return proxy;
    },
    close() {
      for (const { proxy } of proxies.values()) proxy.close();
    },
  };
}
