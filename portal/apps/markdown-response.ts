import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ResponseInterceptor } from '../../adapters/http-app/proxy.js';
import { MARKDOWN_MEDIA_TYPE } from './accept.js';
import type { CachedMarkdown, MarkdownCache, MarkdownCacheRequest } from './markdown-cache.js';
import { DEFAULT_MAX_HTML_BYTES, htmlToMarkdown, type HtmlToMarkdownOptions } from './markdown.js';

/** How one proxied request uses the cache of converted pages. */
export interface MarkdownCaching {
  cache: MarkdownCache;
  request: MarkdownCacheRequest;
  /** The stale conversion whose validators went upstream: a `304` answers with it. */
  revalidating?: CachedMarkdown;
}

/** Options of {@link markdownInterceptor}. */
export interface MarkdownInterceptorOptions extends HtmlToMarkdownOptions {
  /** The cache to answer a `304` from and to store conversions in (GET requests only). */
  caching?: MarkdownCaching;
}

/**
 * A response interceptor for the HTTP-app proxy (`forward.interceptResponse`) that answers an
 * agent which prefers Markdown (see `prefersMarkdown`) with the page converted: `200 text/html`
 * answers, not compressed, become `text/markdown` with `x-markdown-tokens` (an estimate: chars/4)
 * and `Vary: Accept`. Anything else — other statuses, other types, compressed bodies — streams
 * through untouched. A page over `maxBytes` is passed through as the HTML it is, without being
 * parsed (the bytes read so far are replayed, the rest streamed).
 *
 * With `caching`, a `304` to the cache's validators answers with the stored Markdown, a converted
 * `200` is stored when its `Cache-Control` allows, and anything else forgets the stored page;
 * each answer says what the cache did in `Cache-Status` (RFC 9211).
 *
 * The portal should send `Accept: text/html` and `Accept-Encoding: identity` upstream when it
 * uses this, so that the app answers something convertible.
 */
export function markdownInterceptor(
  options: MarkdownInterceptorOptions,
): (upstream: IncomingMessage, headers: OutgoingHttpHeaders) => ResponseInterceptor | undefined {
  const { caching, ...conversion } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_HTML_BYTES;
  return (upstream, headers) => {
    const status = upstream.statusCode ?? 502;
    if (status === 304 && caching?.revalidating) {
      const reused = caching.cache.revalidated(caching.request, { status, headers: upstream.headers }) ?? caching.revalidating;
      return async (res) => {
        upstream.resume();
        writeCachedMarkdown(res, reused, 'fwd=stale; fwd-status=304');
      };
    }
    const type = String(headers['content-type'] ?? '').toLowerCase();
    const encoding = String(headers['content-encoding'] ?? 'identity').toLowerCase();
    if (status !== 200 || !type.startsWith('text/html') || encoding !== 'identity') {
      caching?.cache.forget(caching.request);
      return undefined;
    }
    return async (res) => {
      const { chunks, complete } = await readUpTo(upstream, maxBytes);
      const result = complete ? htmlToMarkdown(Buffer.concat(chunks), { ...conversion, maxBytes }) : undefined;
      if (!result?.ok) {
        caching?.cache.forget(caching.request);
        return passThrough(upstream, headers, chunks, res);
      }
      const body = Buffer.from(result.markdown);
      const out: OutgoingHttpHeaders = {
        ...headers,
        'content-type': MARKDOWN_MEDIA_TYPE,
        'content-length': body.length,
        'x-markdown-tokens': String(result.tokens),
        vary: varyWithAccept(headers.vary),
      };
      for (const stale of ['etag', 'last-modified', 'content-md5', 'content-range', 'accept-ranges']) delete out[stale];
      if (caching) {
        const stored = caching.cache.store(caching.request, { status, headers: upstream.headers }, body, out);
        out['cache-status'] = `gatehouse; fwd=${caching.revalidating ? 'stale' : 'uri-miss'}; fwd-status=200${stored ? '; stored' : ''}`;
      }
      res.writeHead(200, out).end(body);
    };
  };
}

/** Answers with a cached conversion; `forwarded` says why the upstream was asked (`Cache-Status` `fwd`), or that it was not (a hit). */
export function writeCachedMarkdown(res: ServerResponse, cached: CachedMarkdown, forwarded?: string): void {
  res
    .writeHead(200, { ...cached.headers, 'content-length': cached.body.length, 'cache-status': `gatehouse; ${forwarded ?? 'hit'}` })
    .end(cached.body);
}

/** Reads the body until it ends or passes `maxBytes`; `complete` says which. */
function readUpTo(stream: IncomingMessage, maxBytes: number): Promise<{ chunks: Buffer[]; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxBytes) {
        stream.pause();
        cleanup();
        resolve({ chunks, complete: false });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, complete: true });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => stream.off('data', onData).off('end', onEnd).off('error', onError);
    stream.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function passThrough(upstream: IncomingMessage, headers: OutgoingHttpHeaders, read: Buffer[], res: ServerResponse): Promise<void> {
  res.writeHead(200, { ...headers, vary: varyWithAccept(headers.vary) });
  for (const chunk of read) res.write(chunk);
  if (upstream.readableEnded) res.end();
  else upstream.pipe(res);
  return Promise.resolve();
}

function varyWithAccept(vary: OutgoingHttpHeaders['vary']): string {
  const current = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
  return /(^|,)\s*(accept|\*)\s*(,|$)/i.test(current) ? current : current ? `${current}, Accept` : 'Accept';
}
