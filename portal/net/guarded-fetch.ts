import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { classifyAddress, ipLiteral, isLoopbackHost } from './addresses.js';
import { GuardedFetchError, loggableUrl } from './fetch-errors.js';
import { readBounded, sendHop, type Hop, type HopTransport } from './http-exchange.js';

/** One policy for one purpose (client metadata documents, upstream discovery, IdP discovery). */
export interface GuardedFetchOptions {
  /**
   * Reach private, loopback, link-local and other non-public addresses, and plain http on loopback
   * hosts. Off, a URL learned from someone else cannot make the portal reach inside its network.
   */
  allowPrivateAddresses: boolean;
  /** Largest answer body, in bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** The whole exchange (DNS, connect, every redirect, the body) must end within this (default 10 s). */
  deadlineMs?: number;
  /** Redirects followed, each checked like the first URL (default 3; 0: a redirect is an error). */
  maxRedirects?: number;
  /** Trusted CA certificates (PEM) instead of the default ones: a company CA, tests. */
  ca?: string | string[];
}

/** One request: what `fetch` takes, plus the origins the operator vouches for. */
export interface GuardedRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams | Uint8Array | null;
  /** The caller's signal (its own request ended): it stops waiting, and the fetch stops when no caller waits. */
  signal?: AbortSignal | null;
  /** `manual` answers a redirect as it is (oauth4webapi asks for this); `follow` (default) follows up to `maxRedirects`. */
  redirect?: 'follow' | 'manual';
  /**
   * Origins the operator configured (an upstream's own URL, its configured authorization server):
   * reached at whatever address they resolve to, over the scheme the operator wrote. A redirect
   * to any other origin is checked as if learned.
   */
  trustedOrigins?: readonly string[];
}

/** A `fetch` for URLs the portal learns from someone else; it is also oauth4webapi's `customFetch`. */
export type GuardedFetch = (url: string | URL, init?: GuardedRequestInit) => Promise<Response>;

/** A complete answer: read to its end within the limits, shareable between callers. */
interface Answer {
  status: number;
  rawHeaders: string[];
  body: Buffer;
}

/** One fetch in flight and the callers waiting for it. */
interface SharedFetch {
  answer: Promise<Answer>;
  stop: AbortController;
  callers: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([204, 205, 304]);

/**
 * The one way the portal fetches a URL it learned from someone else (client ID metadata
 * documents, an upstream's RFC 9728 and RFC 8414 metadata and the endpoints they name, an IdP's
 * JWKS). Against server-side request forgery: https only (http only on the operator's own
 * origins, or loopback hosts when private addresses are allowed); every host is resolved once and
 * connected to at the address that was checked, so DNS rebinding cannot swap it; a non-public
 * address is refused unless allowed, on every redirect hop. Against exhaustion: a body limit
 * counted as it streams, one deadline for the whole exchange (a slow drip cannot hold a caller),
 * and identical GETs in flight at once share one request. A caller that goes away stops waiting;
 * the request stops when its last caller has gone.
 *
 * @throws {GuardedFetchError} with a stable `code` (rejections of the returned promise).
 */
export function createGuardedFetch(options: GuardedFetchOptions): GuardedFetch {
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const deadlineMs = options.deadlineMs ?? 10_000;
  const maxRedirects = options.maxRedirects ?? 3;
  const inFlight = new Map<string, SharedFetch>();

  /** How a hop to `url` may connect; refuses, before anything is sent, what the policy forbids. */
  function transportFor(url: URL, trusted: ReadonlySet<string>): HopTransport {
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new GuardedFetchError('invalid_url', `${loggableUrl(url)}: not an http(s) URL`);
    if (url.username || url.password) throw new GuardedFetchError('invalid_url', `${loggableUrl(url)}: credentials in the URL`);
    if (trusted.has(url.origin)) return { ca: options.ca };
    const literal = ipLiteral(url.hostname);
    const kind = literal === undefined ? undefined : classifyAddress(literal);
    if (!options.allowPrivateAddresses && kind !== undefined && kind !== 'public') {
      throw new GuardedFetchError('blocked_address', `${loggableUrl(url)}: ${literal} is a ${kind} address`);
    }
    if (url.protocol === 'http:' && !(options.allowPrivateAddresses && isLoopbackHost(url.hostname))) {
      throw new GuardedFetchError('not_https', `${loggableUrl(url)}: must be https`);
    }
    // A DNS name is checked when it resolves, and connected to at the addresses checked.
    return { lookup: options.allowPrivateAddresses || literal !== undefined ? undefined : publicOnlyLookup, ca: options.ca };
  }

  /** Every hop of one fetch under one deadline; `stop` aborts when no caller waits any more. */
  async function fetchAnswer(first: Hop, trusted: ReadonlySet<string>, follow: boolean, stop: AbortSignal): Promise<Answer> {
    const halt = new AbortController();
    const timer = setTimeout(
      () => halt.abort(new GuardedFetchError('deadline', `${loggableUrl(first.url)}: no complete answer within ${deadlineMs} ms`)),
      deadlineMs,
    );
    const forward = () => halt.abort(stop.reason);
    stop.addEventListener('abort', forward, { once: true });
    try {
      let hop = first;
      for (let redirects = 0; ; redirects++) {
        const res = await sendHop(hop, transportFor(hop.url, trusted), halt.signal);
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (follow && REDIRECTS.has(status) && location !== undefined) {
          res.destroy();
          if (redirects >= maxRedirects)
            throw new GuardedFetchError('too_many_redirects', `${loggableUrl(first.url)}: more than ${maxRedirects} redirects`);
          hop = nextHop(hop, status, location);
          continue;
        }
        if (status < 200 || status > 599) {
          res.destroy();
          throw new GuardedFetchError('invalid_response', `${loggableUrl(hop.url)}: answered status ${status}`);
        }
        return { status, rawHeaders: res.rawHeaders, body: await readBounded(res, hop.url, maxBodyBytes, halt.signal) };
      }
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', forward);
    }
  }

  /** The caller's share of the fetch for `key` (one is started when none is in flight; `undefined` never shares). */
  function join(
    key: string | undefined,
    url: URL,
    start: (stop: AbortSignal) => Promise<Answer>,
    signal: AbortSignal | undefined,
  ): Promise<Answer> {
    const gone = () => new GuardedFetchError('aborted', `${loggableUrl(url)}: the caller went away`);
    if (signal?.aborted) return Promise.reject(gone());
    let shared = key === undefined ? undefined : inFlight.get(key);
    if (!shared) {
      const stop = new AbortController();
      const created: SharedFetch = { answer: start(stop.signal), stop, callers: 0 };
      if (key !== undefined) {
        inFlight.set(key, created);
        const forget = () => inFlight.get(key) === created && inFlight.delete(key);
        created.answer.then(forget, forget);
      }
      shared = created;
    }
    const joined = shared;
    joined.callers++;
    if (!signal) return joined.answer;
    return new Promise((resolve, reject) => {
      const leave = () => {
        reject(gone());
        if (--joined.callers > 0) return;
        // Nobody waits any more: a new caller starts afresh rather than joining a fetch being stopped.
        if (key !== undefined && inFlight.get(key) === joined) inFlight.delete(key);
        joined.stop.abort(gone());
      };
      signal.addEventListener('abort', leave, { once: true });
      joined.answer.then(resolve, reject).finally(() => signal.removeEventListener('abort', leave));
    });
  }

  return async (input, init = {}) => {
    const url = parseUrl(input);
    const trusted = new Set((init.trustedOrigins ?? []).map((origin) => new URL(origin).origin));
    const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
    const hop: Hop = { url, method: (init.method ?? 'GET').toUpperCase(), headers, body: toBuffer(init.body) };
    const follow = init.redirect !== 'manual';
    const key =
      hop.method === 'GET' && !hop.body
        ? JSON.stringify([url.href, follow, [...trusted].sort(), Object.entries(headers).sort()])
        : undefined;
    const answer = await join(key, url, (stop) => fetchAnswer(hop, trusted, follow, stop), init.signal ?? undefined);
    return toResponse(answer);
  };
}

/** `dns.lookup` that refuses a host when any of its addresses is not public (the connection then uses the addresses checked here). */
const publicOnlyLookup: LookupFunction = (hostname, lookupOptions, callback) => {
  dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.find((a) => classifyAddress(a.address) !== 'public');
    if (refused) {
      return callback(
        new GuardedFetchError(
          'blocked_address',
          `${hostname} resolves to ${refused.address}, a ${classifyAddress(refused.address)} address`,
        ) as NodeJS.ErrnoException,
        [],
      );
    }
    if (lookupOptions.all) return callback(null, addresses);
    const [first] = addresses as [LookupAddress];
    callback(null, first.address, first.family);
  });
};

/** The request for the next hop (Fetch standard §4.4 HTTP-redirect fetch): 303, and 301/302 after POST, become GET; credentials stay on their origin. */
function nextHop(hop: Hop, status: number, location: string): Hop {
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    throw new GuardedFetchError('invalid_url', `${loggableUrl(hop.url)}: redirect to an unusable Location`);
  }
  const headers = { ...hop.headers };
  if (url.origin !== hop.url.origin) {
    delete headers.authorization;
    delete headers.cookie;
  }
  const toGet = status === 303 ? hop.method !== 'HEAD' : (status === 301 || status === 302) && hop.method === 'POST';
  if (!toGet) return { url, method: hop.method, headers, body: hop.body };
  delete headers['content-type'];
  return { url, method: 'GET', headers };
}

function parseUrl(input: string | URL): URL {
  try {
    return new URL(input);
  } catch {
    throw new GuardedFetchError('invalid_url', 'not an absolute URL');
  }
}

function toBuffer(body: GuardedRequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof URLSearchParams) return Buffer.from(body.toString());
  return Buffer.from(body);
}

/** A fresh `Response` for one caller (callers sharing a fetch each get their own). */
function toResponse(answer: Answer): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2) {
    try {
      headers.append(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
    } catch {
      // A header value fetch cannot carry is dropped; nothing the portal reads is lost.
    }
  }
  return new Response(NULL_BODY.has(answer.status) ? null : new Uint8Array(answer.body), { status: answer.status, headers });
}
