import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Default memory bound of the cache of converted pages: 32 MiB of Markdown and headers per portal process. */
export const DEFAULT_MARKDOWN_CACHE_BYTES = 32 * 1024 * 1024;

/** Who asks for which page: what a cached conversion is looked up and stored under. */
export interface MarkdownCacheRequest {
  /** The page and its conversion: the app, the public URL its links are moved to, and the upstream path with its query. */
  page: string;
  /** The caller (person and agent): a private page is cached for this caller only. */
  caller: string;
  /**
   * Whether the portal fetched the page with a credential of the caller's own (a portal-jwt
   * assertion, an `oauth` token, a `static` secret with the assertion beside it): then the page is
   * the caller's, whatever its `Cache-Control` says.
   */
  perPersonCredential: boolean;
  /** The request headers as the upstream saw them: for `Vary` (RFC 9111 §4.1) and the request's own `Cache-Control`. */
  headers: IncomingHttpHeaders;
}

/** A converted page in the cache. */
export interface CachedMarkdown {
  /** The Markdown as sent. */
  body: Buffer;
  /** The Markdown response's headers (without `Set-Cookie`, never replayed, nor `Date` and `Age` of the moment it was made). */
  headers: OutgoingHttpHeaders;
  /** The upstream's validators of the HTML the Markdown was made from (RFC 9110 §8.8). */
  etag?: string;
  lastModified?: string;
  /** Fresh (RFC 9111 §4.2): may be answered without asking the upstream. Else it must be revalidated. */
  fresh: boolean;
}

/** What the upstream said about the page: its status, its response headers. */
export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * Converted pages, per portal process, bounded by bytes (least recently used go first): an
 * agent asking again for a page the upstream says is fresh gets it without a request upstream or
 * a conversion; a stale one is revalidated (`If-None-Match` / `If-Modified-Since`, RFC 9110
 * §13.1) and a `304` reuses the Markdown.
 *
 * RFC 9111 as it applies to a cache that stands between each person and the app:
 * - `no-store` (response or request) is never stored; `Vary: *` never either;
 * - a page is shared between callers only when it is `Cache-Control: public`, does not vary on
 *   `Cookie` or `Authorization`, and was fetched without a per-person credential; any other page
 *   (`private`, or no directive at all) is stored for its caller alone;
 * - freshness from `s-maxage` (shared entries), `max-age`, or `Expires` − `Date`, less `Age`;
 *   `no-cache` is stored but revalidated on every use, as is a page with validators and no
 *   freshness; a page with neither is not stored;
 * - the request's `Cache-Control: no-cache` (or `Pragma: no-cache`) forces revalidation.
 */
export interface MarkdownCache {
  /** The conversion to answer `request` with, fresh or to revalidate; `undefined` when none may be used. */
  lookup(request: MarkdownCacheRequest): CachedMarkdown | undefined;
  /** Stores the conversion of a `200` when its headers allow it (and forgets any older one); says whether it did. */
  store(request: MarkdownCacheRequest, upstream: UpstreamAnswer, body: Buffer, headers: OutgoingHttpHeaders): boolean;
  /** After a `304` to the cache's validators: the stored conversion with the freshness the `304` gives (RFC 9111 §4.3.4). */
  revalidated(request: MarkdownCacheRequest, upstream: UpstreamAnswer): CachedMarkdown | undefined;
  /** Forgets the page for `request` (the upstream answered something that replaces it). */
  forget(request: MarkdownCacheRequest): void;
  /** Bytes held now. */
  size(): number;
}

interface Entry {
  key: string;
  body: Buffer;
  headers: OutgoingHttpHeaders;
  /** The upstream's caching headers (`Cache-Control`, `Expires`, `Date`, `Age`, validators, `Vary`), updated by each `304`. */
  upstream: IncomingHttpHeaders;
  /** `Vary`'s header names and the request's values for them when stored. */
  vary: Array<[name: string, value: string]>;
  freshUntil: number;
  noCache: boolean;
  bytes: number;
}

/** Headers of the upstream's answer the cache keeps and a `304` may update (RFC 9111 §3.2). */
const CACHING_HEADERS = ['cache-control', 'expires', 'date', 'age', 'etag', 'last-modified', 'vary'] as const;
/** An entry this share of the whole bound or larger is not stored: one page must not empty the cache. */
const LARGEST_ENTRY_SHARE = 4;

/** Creates the cache of converted pages; `now` is the clock (ms) freshness is measured against. */
export function createMarkdownCache(options: { maxBytes?: number; now?: () => number } = {}): MarkdownCache {
  const maxBytes = options.maxBytes ?? DEFAULT_MARKDOWN_CACHE_BYTES;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let bytes = 0;

  const keys = (request: MarkdownCacheRequest) => ({
    caller: `caller\n${request.caller}\n${request.page}`,
    shared: `shared\n${request.page}`,
  });
  const remove = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    bytes -= entry.bytes;
  };
  const find = (request: MarkdownCacheRequest): Entry | undefined => {
    const { caller, shared } = keys(request);
    // A request the upstream would see the caller's identity in never reads a shared entry (the app's credentials may have changed since).
    const entry = entries.get(caller) ?? (request.perPersonCredential ? undefined : entries.get(shared));
    if (!entry?.vary.every(([name, value]) => headerValue(request.headers, name) === value)) return undefined;
    // Most recently used last: eviction takes from the front.
    entries.delete(entry.key);
    entries.set(entry.key, entry);
    return entry;
  };
  const view = (entry: Entry, request: MarkdownCacheRequest): CachedMarkdown => ({
    body: entry.body,
    headers: entry.headers,
    etag: single(entry.upstream.etag),
    lastModified: single(entry.upstream['last-modified']),
    fresh: !entry.noCache && !requestForbidsCached(request.headers) && now() < entry.freshUntil,
  });
  const put = (request: MarkdownCacheRequest, upstream: IncomingHttpHeaders, body: Buffer, headers: OutgoingHttpHeaders): boolean => {
    const { caller, shared } = keys(request);
    remove(caller);
    remove(shared);
    const policy = storagePolicy(request, upstream, now());
    if (!policy) return false;
    const key = policy.shared ? shared : caller;
    const vary = varyNames(upstream).map((name): [string, string] => [name, headerValue(request.headers, name)]);
    const stored = Object.fromEntries(CACHING_HEADERS.filter((name) => upstream[name] !== undefined).map((name) => [name, upstream[name]]));
    const { 'set-cookie': _cookies, date: _date, age: _age, ...replayed } = headers;
    const entry: Entry = {
      key,
      body,
      headers: replayed,
      upstream: stored,
      vary,
      freshUntil: policy.freshUntil,
      noCache: policy.noCache,
      bytes: 0,
    };
    entry.bytes = body.length + key.length + JSON.stringify(replayed).length + JSON.stringify(stored).length;
    if (entry.bytes * LARGEST_ENTRY_SHARE > maxBytes) return false;
    entries.set(key, entry);
    bytes += entry.bytes;
    for (const [oldest, old] of entries) {
      if (bytes <= maxBytes) break;
      entries.delete(oldest);
      bytes -= old.bytes;
    }
    return true;
  };

  return {
    lookup(request) {
      if (requestForbidsStore(request.headers)) return undefined;
      const entry = find(request);
      return entry && view(entry, request);
    },
    store(request, upstream, body, headers) {
      if (upstream.status !== 200 || requestForbidsStore(request.headers)) {
        this.forget(request);
        return false;
      }
      return put(request, upstream.headers, body, headers);
    },
    revalidated(request, upstream) {
      const entry = find(request);
      if (!entry || upstream.status !== 304) return undefined;
      const updated: IncomingHttpHeaders = { ...entry.upstream };
      for (const name of CACHING_HEADERS) if (upstream.headers[name] !== undefined) updated[name] = upstream.headers[name] as string;
      // A 304 without Age or Date describes this moment, not the stored one's.
      if (upstream.headers.age === undefined) delete updated.age;
      if (upstream.headers.date === undefined) delete updated.date;
      const answer = view(entry, request);
      if (!put(request, updated, entry.body, entry.headers)) return { ...answer, fresh: false };
      return view(entries.get(entry.key) ?? entry, request);
    },
    forget(request) {
      const { caller, shared } = keys(request);
      remove(caller);
      remove(shared);
    },
    size: () => bytes,
  };
}

/** Whether and how a `200` may be stored: shared or per caller, fresh until when, revalidated on every use. */
function storagePolicy(
  request: MarkdownCacheRequest,
  headers: IncomingHttpHeaders,
  now: number,
): { shared: boolean; freshUntil: number; noCache: boolean } | undefined {
  const directives = cacheControl(headers['cache-control']);
  const vary = varyNames(headers);
  if (directives.has('no-store') || vary.includes('*')) return undefined;
  const shared =
    directives.has('public') &&
    !directives.has('private') &&
    !vary.includes('cookie') &&
    !vary.includes('authorization') &&
    !request.perPersonCredential;
  const lifetime = freshnessLifetime(directives, headers, shared);
  const age = Math.max(0, Number(single(headers.age)) || 0);
  const hasValidator = headers.etag !== undefined || headers['last-modified'] !== undefined;
  if (!hasValidator && !(lifetime > age)) return undefined;
  return { shared, freshUntil: now + Math.max(0, lifetime - age) * 1000, noCache: directives.has('no-cache') };
}

/** RFC 9111 §4.2.1: `s-maxage` (shared only), else `max-age`, else `Expires` − `Date`; in seconds, 0 when none. */
function freshnessLifetime(directives: Map<string, string>, headers: IncomingHttpHeaders, shared: boolean): number {
  for (const name of shared ? ['s-maxage', 'max-age'] : ['max-age']) {
    const value = directives.get(name);
    if (value !== undefined) return /^\d+$/.test(value) ? Number(value) : 0;
  }
  const expires = Date.parse(single(headers.expires) ?? '');
  const date = Date.parse(single(headers.date) ?? '');
  // An invalid Expires (such as "0") means already expired (RFC 9111 §5.3).
  if (headers.expires !== undefined) return Number.isNaN(expires) || Number.isNaN(date) ? 0 : Math.max(0, (expires - date) / 1000);
  return 0;
}

/** `Cache-Control` directives (RFC 9111 §5.2), names lower-cased, values unquoted. */
function cacheControl(header: string | string[] | undefined): Map<string, string> {
  const directives = new Map<string, string>();
  for (const part of (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',')) {
    const [name = '', value = ''] = part.split('=', 2).map((piece) => piece.trim());
    if (name) directives.set(name.toLowerCase(), value.replace(/^"(.*)"$/, '$1'));
  }
  return directives;
}

function requestForbidsStore(headers: IncomingHttpHeaders): boolean {
  return cacheControl(headers['cache-control']).has('no-store');
}

function requestForbidsCached(headers: IncomingHttpHeaders): boolean {
  const directives = cacheControl(headers['cache-control']);
  return (
    directives.has('no-cache') ||
    directives.get('max-age') === '0' ||
    (!headers['cache-control'] && /no-cache/i.test(single(headers.pragma) ?? ''))
  );
}

function varyNames(headers: IncomingHttpHeaders): string[] {
  const vary = headers.vary;
  return (Array.isArray(vary) ? vary.join(',') : (vary ?? ''))
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
}

/** A request header's value for `Vary` matching: repeated fields joined, whitespace normalised (RFC 9111 §4.1). */
function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value.join(', ') : (value ?? '')).replace(/\s+/g, ' ').trim();
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
