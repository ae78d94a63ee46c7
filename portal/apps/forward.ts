import type { IncomingHttpHeaders } from 'node:http';
import type { ForwardOptions } from '../../adapters/http-app/proxy.js';
import { toUpstreamPath } from '../../adapters/http-app/upstream-path.js';
import { UpstreamConnectRequiredError } from '../../adapters/upstream-errors.js';
import type { CredentialMinter } from '../credentials/credential-minter.js';
import { connectPageUrl, connectRequiredAsHttp } from '../credentials/upstream-credentials.js';
import { PORTAL_COOKIE_NAMES } from '../http/portal-cookies.js';
import type { AuthContext } from '../oauth/bearer.js';
import { prefersMarkdown } from './accept.js';
import type { AppMount } from './app-mounts.js';
import type { CachedMarkdown, MarkdownCache, MarkdownCacheRequest } from './markdown-cache.js';
import { markdownInterceptor } from './markdown-response.js';

/** What every proxied request needs from the portal. */
export interface ForwardDeps {
  /** The credential headers each upstream gets for the caller, by its credential type. */
  credentials: CredentialMinter;
  /** Largest HTML page converted to Markdown; larger pages are served as HTML. */
  maxMarkdownBytes?: number;
  /** Converted pages, by the upstream's validators and, for private pages, by caller. */
  markdownCache: MarkdownCache;
}

/** One request to forward: how to forward it, or the cached Markdown that answers it without asking the upstream. */
export interface AppForward {
  forward: ForwardOptions;
  /** A fresh cached conversion: answer with it (see `writeCachedMarkdown`) instead of proxying. */
  cached?: CachedMarkdown;
}

/** A browser whose person has not connected the app's `oauth` account: where to send it first. */
export interface ConnectFirst {
  connectUrl: string;
}

/** A GET's validators (RFC 9110 §13.1): an agent's own name the HTML, which it never got from the portal as such. */
const GET_VALIDATORS = ['if-none-match', 'if-modified-since'];

/**
 * The proxy's forward options for one request: the person's identity as the upstream's credential
 * headers (portal-jwt: `Gatehouse-Assertion`), the portal's cookies kept from the app both ways
 * ({@link PORTAL_COOKIE_NAMES}), and — for a `markdown: true` app and a caller that prefers
 * `text/markdown` — the HTML answer converted, with links pointing at the app's portal URL. The
 * upstream is then asked for uncompressed HTML, so that there is something to convert, and a GET
 * goes through the cache of converted pages: a fresh conversion answers without a request
 * upstream, a stale one sends its validators instead of the agent's own.
 */
export async function forwardOptions(
  deps: ForwardDeps,
  mount: AppMount,
  auth: AuthContext,
  request: { method: string; url: string; headers: IncomingHttpHeaders },
): Promise<AppForward | ConnectFirst> {
  let headers: Record<string, string>;
  try {
    headers = await deps.credentials.headersFor(mount.upstream, auth);
  } catch (error) {
    // An `oauth` app the person has not connected: a browser is sent to connect it, then back here.
    if (error instanceof UpstreamConnectRequiredError && /text\/html/.test(request.headers.accept ?? '')) {
      return { connectUrl: connectPageUrl(error, mount.mountPath.startsWith('/') ? request.url : undefined) };
    }
    throw connectRequiredAsHttp(error);
  }
  const forward: ForwardOptions = { headers, stripCookies: PORTAL_COOKIE_NAMES };
  if (!mount.upstream.markdown || !prefersMarkdown(request.headers.accept)) return { forward };
  const upstreamUrl = new URL(mount.upstream.url!);
  const path = toUpstreamPath(request.url, mount.mountPath, upstreamUrl.pathname.replace(/\/+$/, '')) ?? '/';
  Object.assign(headers, { accept: 'text/html', 'accept-encoding': 'identity' });
  const conversion = {
    // Concatenated, not resolved: a path such as `//other.host/x` must stay a path on the app.
    pageUrl: `${upstreamUrl.origin}${path}`,
    linkMap: { upstreamUrl: mount.upstream.url!, appUrl: mount.publicUrl },
    maxBytes: deps.maxMarkdownBytes,
  };
  if (request.method !== 'GET') {
    forward.interceptResponse = markdownInterceptor(conversion);
    return { forward };
  }
  for (const name of GET_VALIDATORS) delete request.headers[name];
  const cacheRequest: MarkdownCacheRequest = {
    page: `${mount.upstream.id}\n${mount.upstream.url}\n${mount.publicUrl}\n${path}`,
    caller: `${auth.person.id}\n${auth.clientId}`,
    perPersonCredential: mount.upstream.credentials.type !== 'none',
    headers: { ...request.headers, ...headers },
  };
  const cached = deps.markdownCache.lookup(cacheRequest);
  if (cached?.fresh) return { forward, cached };
  if (cached?.etag) headers['if-none-match'] = cached.etag;
  if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
  const revalidating = cached?.etag || cached?.lastModified ? cached : undefined;
  forward.interceptResponse = markdownInterceptor({
    ...conversion,
    caching: { cache: deps.markdownCache, request: cacheRequest, revalidating },
  });
  return { forward };
}
