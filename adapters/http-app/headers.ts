import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { isListedCookie } from './cookie-names.js';
import { rejectedRequest } from './errors.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** Request headers only the portal may set: an agent must not be able to forge identity or the forwarding chain. */
const PORTAL_OWNED_PREFIX = 'gatehouse-';
const FORWARDING = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-prefix', 'x-real-ip', 'forwarded'];

/** What the portal adds to and removes from one proxied request. */
export interface ForwardOptions {
  /** Credential and identity headers for the upstream (e.g. `Gatehouse-Assertion`); they replace any the client sent. */
  headers?: Record<string, string>;
  /** The portal's own cookie names, removed from the `Cookie` header and refused in upstream `Set-Cookie`. */
  stripCookies?: readonly string[];
  /**
   * Looks at the upstream's status and (already rewritten, hop-by-hop-free) headers before anything
   * is sent. Return a function to answer the client yourself from the unread upstream body (e.g.
   * HTML → Markdown), or `undefined` to stream the response through unchanged.
   */
  interceptResponse?: (upstream: IncomingMessage, headers: OutgoingHttpHeaders) => ResponseInterceptor | undefined;
}

/** Answers the client from an upstream response; a rejection before the headers go out becomes the portal's error answer. */
export type ResponseInterceptor = (res: ServerResponse) => Promise<void>;

/** The names a `Connection` header lists (RFC 9110 §7.6.1), lower-cased. */
export function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  return new Set(
    (value ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * Refuses requests whose body length is ambiguous (RFC 9112 §6.3, request smuggling): both
 * `Content-Length` and `Transfer-Encoding`, several different or malformed `Content-Length`s, or a
 * `Transfer-Encoding` whose last coding is not `chunked`. Node's parser refuses most of these
 * already; this is the second line, for parsers run with `insecureHTTPParser` or future changes.
 */
export function assertUnambiguousFraming(req: IncomingMessage): void {
  const lengths = req.headersDistinct['content-length'] ?? [];
  const encodings = req.headersDistinct['transfer-encoding'] ?? [];
  if (lengths.length > 0 && encodings.length > 0) throw rejectedRequest('the request has both Content-Length and Transfer-Encoding');
  const values = new Set(lengths.flatMap((value) => value.split(',')).map((value) => value.trim()));
  if (values.size > 1) throw rejectedRequest('the request has conflicting Content-Length headers');
  for (const value of values) if (!/^\d+$/.test(value)) throw rejectedRequest('the request has a malformed Content-Length');
  if (encodings.length > 0) {
    const codings = encodings
      .join(',')
      .split(',')
      .map((coding) => coding.trim().toLowerCase());
    if (codings.at(-1) !== 'chunked') throw rejectedRequest('the request Transfer-Encoding must end with chunked');
  }
}

/** Where the request came from, for the `X-Forwarded-*` headers. */
export interface ForwardedContext {
  /** Append to an incoming `X-Forwarded-*` chain instead of replacing it (only behind a proxy you run). */
  trustForwarded: boolean;
  /** The portal prefix the app is mounted under (`X-Forwarded-Prefix`); `''` for host routing. */
  mountPath: string;
}

/**
 * The headers sent upstream: the client's end-to-end headers minus hop-by-hop ones, the agent's
 * `Authorization` and `DPoP` proof (RFC 9449), portal-owned `Gatehouse-*` headers and the portal's cookies; plus
 * `X-Forwarded-For/Proto/Host/Prefix` and the caller's credential headers. `Host` is the
 * upstream's own, as a virtual-hosted legacy app expects.
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  upstreamHost: string,
  forward: ForwardOptions,
  context: ForwardedContext,
): OutgoingHttpHeaders {
  const named = connectionTokens(req.headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (name === 'authorization' || name === 'dpop' || name === 'host' || name.startsWith(PORTAL_OWNED_PREFIX) || FORWARDING.includes(name))
      continue;
    out[name] = value;
  }
  const cookie = withoutCookies(req.headers.cookie, forward.stripCookies ?? []);
  if (cookie) out.cookie = cookie;
  else delete out.cookie;
  // A chunked request body must stay chunked: without the header Node would write a DELETE's or
  // GET's body unframed, which is exactly what a smuggler wants the upstream to see.
  if (req.headers['transfer-encoding']) out['transfer-encoding'] = 'chunked';
  Object.assign(out, forwardedHeaders(req, context));
  out.host = upstreamHost;
  for (const [name, value] of Object.entries(forward.headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

function forwardedHeaders(req: IncomingMessage, context: ForwardedContext): OutgoingHttpHeaders {
  const clientIp = req.socket.remoteAddress ?? 'unknown';
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;
  const trusted = context.trustForwarded;
  const chain = trusted ? req.headers['x-forwarded-for'] : undefined;
  const out: OutgoingHttpHeaders = {
    'x-forwarded-for': chain ? `${chain}, ${clientIp}` : clientIp,
    'x-forwarded-proto': (trusted && first(req.headers['x-forwarded-proto'])) || ((req.socket as TLSSocket).encrypted ? 'https' : 'http'),
  };
  const host = (trusted && first(req.headers['x-forwarded-host'])) || req.headers.host;
  if (host) out['x-forwarded-host'] = host;
  if (context.mountPath) out['x-forwarded-prefix'] = context.mountPath;
  return out;
}

/** The `Cookie` header without the named cookies (see {@link isListedCookie}); `undefined` when nothing is left. */
export function withoutCookies(header: string | undefined, names: readonly string[]): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair && !isListedCookie(pair, names));
  return kept.length ? kept.join('; ') : undefined;
}

/** The upstream response's headers without hop-by-hop ones (including those its `Connection` names). */
export function endToEndResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) out[name] = value;
  }
  return out;
}
