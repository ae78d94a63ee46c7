import { rejectedRequest } from './errors.js';

/** How many rounds of percent-decoding we undo to catch double-encoded dot segments (`%252e%252e`). */
const DECODE_ROUNDS = 3;

/**
 * Maps the URL a client asked the portal for onto the upstream's path.
 *
 * `requestUrl` is the raw request target (`/apps/wiki/a/b?x=1`), `mountPath` the portal prefix
 * (`/apps/wiki`, or `''` for a host-routed app) and `basePath` the upstream URL's path
 * (`/` or `/wiki`). The prefix is replaced by the base path; the query is kept byte for byte.
 *
 * Browsers and HTTP clients remove dot segments before sending (RFC 3986 §5.2.4), so a request
 * that still carries one — raw (`/..`), percent-encoded (`%2e%2e`), double-encoded, or hidden
 * behind an encoded separator (`..%2f`, `..%5c`, `..\`) — is an attempt to reach outside the app and
 * is rejected with 400 rather than normalized: the upstream may decode differently than we do.
 * Encoded slashes between ordinary names (`a%2Fb`) pass: they cannot climb above the base.
 *
 * @returns the upstream path, or `undefined` when the URL is not under `mountPath` at all.
 * @throws HttpError 400 `invalid_request` for traversal shapes.
 */
export function toUpstreamPath(requestUrl: string, mountPath: string, basePath: string): string | undefined {
  if (!requestUrl.startsWith('/')) throw rejectedRequest('the request target must be an absolute path');
  const queryAt = requestUrl.indexOf('?');
  const path = queryAt === -1 ? requestUrl : requestUrl.slice(0, queryAt);
  const query = queryAt === -1 ? '' : requestUrl.slice(queryAt);
  const mount = mountPath.replace(/\/+$/, '');
  if (mount && path !== mount && !path.startsWith(`${mount}/`)) return undefined;
  const rest = path.slice(mount.length) || '/';
  for (const segment of rest.split('/')) assertSafeSegment(segment);
  const base = basePath.replace(/\/+$/, '');
  return `${base}${rest}${query}`;
}

function assertSafeSegment(segment: string): void {
  let decoded = segment;
  for (let round = 0; ; round++) {
    // Split on both separators: an upstream may decode `%2f` or treat `\` as `/` (IIS, some Java servers).
    if (decoded.includes('\0') || decoded.split(/[\\/]/).some((part) => part === '.' || part === '..')) {
      throw rejectedRequest('the path may not contain dot segments', `segment ${JSON.stringify(segment)}`);
    }
    const next = decodeAsciiEscapes(decoded);
    if (next === decoded) return;
    if (round === DECODE_ROUNDS) throw rejectedRequest('the path is percent-encoded too many times', `segment ${JSON.stringify(segment)}`);
    decoded = next;
  }
}

/** Decodes `%XX` escapes of ASCII bytes only; a stray `%` (`/100%`) stays as it is instead of failing. */
function decodeAsciiEscapes(text: string): string {
  return text.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
