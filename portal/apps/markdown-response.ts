import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ResponseInterceptor } from '../../adapters/http-app/proxy.js';
import { MARKDOWN_MEDIA_TYPE } from './accept.js';
import { DEFAULT_MAX_HTML_BYTES, htmlToMarkdown, type HtmlToMarkdownOptions } from './markdown.js';

/**
 * A response interceptor for the HTTP-app proxy (`forward.interceptResponse`) that answers an
 * agent which prefers Markdown (see `prefersMarkdown`) with the page converted: `200 text/html`
 * answers, not compressed, become `text/markdown` with `x-markdown-tokens` (an estimate: chars/4)
 * and `Vary: Accept`. Anything else — other statuses, other types, compressed bodies — streams
 * through untouched. A page over `maxBytes` is passed through as the HTML it is, without being
 * parsed (the bytes read so far are replayed, the rest streamed).
 *
 * The portal should send `Accept: text/html` and `Accept-Encoding: identity` upstream when it
 * uses this, so that the app answers something convertible.
 */
export function markdownInterceptor(options: HtmlToMarkdownOptions): (upstream: IncomingMessage, headers: OutgoingHttpHeaders) => ResponseInterceptor | undefined {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_HTML_BYTES;
  return (upstream, headers) => {
    const type = String(headers['content-type'] ?? '').toLowerCase();
    const encoding = String(headers['content-encoding'] ?? 'identity').toLowerCase();
    if (upstream.statusCode !== 200 || !type.startsWith('text/html') || encoding !== 'identity') return undefined;
    return async (res) => {
      const { chunks, complete } = await readUpTo(upstream, maxBytes);
      if (!complete) return passThrough(upstream, headers, chunks, res);
      const result = htmlToMarkdown(Buffer.concat(chunks), { ...options, maxBytes });
      if (!result.ok) return passThrough(upstream, headers, chunks, res);
      const body = Buffer.from(result.markdown);
      const out: OutgoingHttpHeaders = { ...headers, 'content-type': MARKDOWN_MEDIA_TYPE, 'content-length': body.length, 'x-markdown-tokens': String(result.tokens), vary: varyWithAccept(headers.vary) };
      for (const stale of ['etag', 'last-modified', 'content-md5', 'content-range', 'accept-ranges']) delete out[stale];
      res.writeHead(200, out).end(body);
    };
  };
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
