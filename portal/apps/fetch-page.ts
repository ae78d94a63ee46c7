import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { badGateway, type GatewayError, gatewayTimeout } from '../../adapters/http-app/errors.js';
import { rewriteLocation } from '../../adapters/http-app/rewrite.js';
import { toUpstreamPath } from '../../adapters/http-app/upstream-path.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { CredentialMinter } from '../credentials/credential-minter.js';
import { connectRequiredAsHttp } from '../credentials/upstream-credentials.js';
import { HttpError } from '../http/errors.js';
import type { AuthContext } from '../oauth/bearer.js';
import { assertMayUse } from './app-caller.js';
import { pathMount } from './app-mounts.js';
import { MARKDOWN_MEDIA_TYPE } from './accept.js';
import type { CachedMarkdown, MarkdownCache, MarkdownCacheRequest } from './markdown-cache.js';
import { DEFAULT_MAX_HTML_BYTES, htmlToMarkdown } from './markdown.js';

/** What {@link fetchAppPage} needs from the portal (a subset of `AppsDeps`). */
export interface FetchAppPageDeps {
  issuer: string;
  /** The credential headers each upstream gets for the caller, by its credential type. */
  credentials: CredentialMinter;
  /** Largest page read, in bytes (default 2 MiB, the Markdown bound). */
  maxMarkdownBytes?: number;
  /** Converted pages, by the upstream's validators and, for private pages, by caller. */
  markdownCache: MarkdownCache;
}

/** Options of {@link fetchAppPage}. */
export interface FetchAppPageOptions {
  /** `markdown` (default): HTML is converted; `html`: the page as the app serves it. */
  format?: 'markdown' | 'html';
  /** Who is asking: the person and agent of the MCP request (its grant must cover the app). */
  auth: AuthContext;
  /** Same-app redirects followed before answering the redirect itself. Default 5. */
  maxRedirects?: number;
}

/** One page of an app, as text. */
export interface AppPage {
  /** The app's status (after same-app redirects). */
  status: number;
  /** `text/markdown; charset=utf-8; variant=gfm` when converted, else the app's `Content-Type`. */
  contentType: string;
  body: string;
  /** The page's portal URL (`{issuer}/apps/{id}/path`), after redirects: links in the Markdown are relative to nothing, this says where it came from. */
  url: string;
  /** For a redirect the portal did not follow (another origin, or too many hops): where it points. */
  location?: string;
  /** `x-markdown-tokens` estimate, when converted. */
  tokens?: number;
}

const REDIRECT = new Set([301, 302, 303, 307, 308]);
const TEXTUAL = /^(text\/|application\/(json|xml|xhtml\+xml|[a-z0-9.+-]+\+(json|xml))|image\/svg\+xml)/i;

/**
 * GETs a page of an HTTP app for the MCP aggregate (`{id}__fetch`, app resources), by the same
 * rules as the proxy — without a round trip through the portal's own HTTP server:
 *
 * - policy: the grant must cover the app and its `access` rules must admit the person (403);
 * - identity: the upstream's credential headers (portal-jwt `Gatehouse-Assertion`), nothing else
 *   of the caller's;
 * - path: `path` is an app path (`/policies/expenses?x=1`); traversal shapes are refused (400) as
 *   in the proxy; same-app redirects are followed (at most `maxRedirects`);
 * - timeouts: the upstream's `connect_timeout` (504), `call_timeout` of silence (504), 502 when
 *   unreachable;
 * - size: bodies over `maxMarkdownBytes` are refused with 413 `page_too_large`, whatever the format;
 * - format: `markdown` converts `text/html` answers (main content, absolute links onto the app's
 *   portal URL) whether or not the app has `markdown: true` (that flag governs HTTP negotiation);
 *   other text passes as is; binary types are refused (415);
 * - cache: conversions are kept and revalidated as for the proxy (see `MarkdownCache`).
 *
 * Rejects with the portal's `HttpError`s and the proxy's `GatewayError`s only (both known to
 * `knownHttpError`), so callers can map `status`/`code` to a tool error.
 */
export async function fetchAppPage(
  deps: FetchAppPageDeps,
  upstream: UpstreamConfig,
  path: string,
  options: FetchAppPageOptions,
): Promise<AppPage> {
  if (upstream.kind !== 'http' || !upstream.url) throw new HttpError(404, 'not_found', `no HTTP app "${upstream.id}"`);
  if (!options.auth.upstreamIds.includes(upstream.id))
    throw new HttpError(403, 'access_denied', `the grant does not cover "${upstream.id}"`);
  assertMayUse(options.auth.person, { upstream });
  const mount = pathMount(deps.issuer, upstream);
  const appUrl = new URL(upstream.url);
  const basePath = appUrl.pathname.replace(/\/+$/, '');
  const format = options.format ?? 'markdown';
  const maxBytes = deps.maxMarkdownBytes ?? DEFAULT_MAX_HTML_BYTES;
  const credentials = await deps.credentials.headersFor(upstream, options.auth).catch((error: unknown) => {
    throw connectRequiredAsHttp(error);
  });
  const issuerUrl = new URL(deps.issuer);

  // Agents write paths as text (`/search?q=two words`): escape what may not appear in a request line.
  const escaped = /[^\x21-\x7e]/.test(path) ? encodeURI(path) : path;
  let portalPath = `${mount.mountPath}${escaped.startsWith('/') ? escaped : `/${escaped}`}`;
  for (let hop = 0; ; hop++) {
    const upstreamPath = toUpstreamPath(portalPath, mount.mountPath, basePath) ?? '/';
    const url = `${deps.issuer}${portalPath}`;
    const headers: Record<string, string> = {
      ...credentials,
      accept: format === 'markdown' ? 'text/html, text/*;q=0.9, application/json;q=0.8' : 'text/html, */*;q=0.8',
      'accept-encoding': 'identity',
      'x-forwarded-proto': issuerUrl.protocol.slice(0, -1),
      'x-forwarded-host': issuerUrl.host,
      'x-forwarded-prefix': mount.mountPath,
    };
    const cacheRequest: MarkdownCacheRequest | undefined =
      format === 'markdown'
        ? {
            page: `fetch\n${upstream.id}\n${upstream.url}\n${mount.publicUrl}\n${upstreamPath}`,
            caller: `${options.auth.person.id}\n${options.auth.clientId}`,
            perPersonCredential: upstream.credentials.type !== 'none',
            headers: { ...headers },
          }
        : undefined;
    const cached = cacheRequest && deps.markdownCache.lookup(cacheRequest);
    if (cached?.fresh) return cachedPage(cached, url);
    if (cached?.etag) headers['if-none-match'] = cached.etag;
    if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
    const answer = await getOnce(upstream, appUrl, upstreamPath, headers, maxBytes);
    if (answer.status === 304 && cacheRequest && (cached?.etag || cached?.lastModified)) {
      return cachedPage(deps.markdownCache.revalidated(cacheRequest, answer) ?? cached, url);
    }
    if (REDIRECT.has(answer.status) && answer.location) {
      if (cacheRequest) deps.markdownCache.forget(cacheRequest);
      const location = rewriteLocation(answer.location, { upstreamOrigin: appUrl.origin, basePath, mountPath: mount.mountPath });
      const sameApp = location.startsWith(`${mount.mountPath}/`) || location === mount.mountPath;
      if (sameApp && hop < (options.maxRedirects ?? 5)) {
        portalPath = location;
        continue;
      }
      const absolute = new URL(location, url).href;
      return {
        status: answer.status,
        contentType: 'text/plain; charset=utf-8',
        body: `Redirects to ${absolute}\n`,
        url,
        location: absolute,
      };
    }
    const type = answer.contentType.toLowerCase();
    if (cacheRequest && type.startsWith('text/html')) {
      const result = htmlToMarkdown(answer.body, {
        pageUrl: `${appUrl.origin}${upstreamPath}`,
        linkMap: { upstreamUrl: upstream.url, appUrl: mount.publicUrl },
        maxBytes,
      });
      if (result.ok) {
        deps.markdownCache.store(cacheRequest, answer, Buffer.from(result.markdown), {
          'content-type': MARKDOWN_MEDIA_TYPE,
          'x-markdown-tokens': String(result.tokens),
        });
        return { status: answer.status, contentType: MARKDOWN_MEDIA_TYPE, body: result.markdown, url, tokens: result.tokens };
      }
    }
    if (cacheRequest) deps.markdownCache.forget(cacheRequest);
    if (answer.body.length && !TEXTUAL.test(type))
      throw new HttpError(415, 'unsupported_media_type', `the page is ${type || 'of no declared type'}, not text`);
    return { status: answer.status, contentType: answer.contentType, body: answer.body.toString('utf8'), url };
  }
}

/** A page answered from the cache of converted pages. */
function cachedPage(cached: CachedMarkdown, url: string): AppPage {
  return {
    status: 200,
    contentType: MARKDOWN_MEDIA_TYPE,
    body: cached.body.toString('utf8'),
    url,
    tokens: Number(cached.headers['x-markdown-tokens']),
  };
}

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  contentType: string;
  location?: string;
  body: Buffer;
}

/** One GET with the proxy's timeouts: connect within `connect_timeout`, then no silence longer than `call_timeout`. */
function getOnce(
  upstream: UpstreamConfig,
  appUrl: URL,
  path: string,
  headers: Record<string, string>,
  maxBytes: number,
): Promise<RawAnswer> {
  const transport = appUrl.protocol === 'https:' ? https : http;
  return new Promise<RawAnswer>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const fail = (error: HttpError | GatewayError) => {
      clearTimeout(timer);
      request.destroy();
      reject(error);
    };
    const arm = (ms: number, reason: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(gatewayTimeout(reason)), ms);
    };
    // `path` goes verbatim to the app's host: it is never resolved as a URL that could name another host.
    const request = transport.request({
      host: appUrl.hostname.replace(/^\[|\]$/g, ''),
      port: appUrl.port || undefined,
      method: 'GET',
      path,
      headers: { ...headers, host: appUrl.host },
    });
    arm(upstream.connectTimeoutMs, `no connection within ${upstream.connectTimeoutMs} ms`);
    request.on('socket', (socket) => {
      const connected = () => arm(upstream.callTimeoutMs, `no answer within ${upstream.callTimeoutMs} ms`);
      if (!socket.connecting) connected();
      else socket.once(appUrl.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    request.on('error', (error: NodeJS.ErrnoException) => fail(badGateway(`${error.code ?? 'error'}: ${error.message}`, error)));
    request.on('response', (response) => {
      timer?.refresh();
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        timer?.refresh();
        size += chunk.length;
        if (size > maxBytes) fail(new HttpError(413, 'page_too_large', `the page is larger than ${maxBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', () => fail(badGateway('upstream response aborted')));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 502,
          headers: response.headers,
          contentType: String(response.headers['content-type'] ?? ''),
          location: response.headers.location,
          body: Buffer.concat(chunks),
        });
      });
    });
    request.end();
  });
}
