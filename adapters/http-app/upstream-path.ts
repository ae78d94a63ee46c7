import { rejectedRequest } from './errors.js';

/** How many rounds of percent-decoding we undo to catch double-encoded dot segments (`%252e%252e`). */
const DECODE_ROUNDS = 3;

/** IIS's non-standard `%uXXXX` escape. */
const PERCENT_U = /%u[0-9a-f]{4}/i;

/** An overlong UTF-8 sequence (2, 3 or 4 bytes for what fits in fewer): lenient decoders read `%c0%ae` as `.`. */
const OVERLONG_UTF8 = /%c[01](?:%[89ab][0-9a-f])|%e0%[89][0-9a-f](?:%[89ab][0-9a-f])|%f0%8[0-9a-f](?:%[89ab][0-9a-f]){2}/gi;

/**
 * Maps the URL a client asked the portal for onto the upstream's path.
 *
 * `requestUrl` is the raw request target (`/apps/wiki/a/b?x=1`), `mountPath` the portal prefix
 * (`/apps/wiki`, or `''` for a host-routed app) and `basePath` the upstream URL's path
 * (`/` or `/wiki`). The prefix is replaced by the base path; the query is kept byte for byte.
 *
 * Browsers and HTTP clients remove dot segments before sending (RFC 3986 §5.2.4), so a request
 * that still carries one is an attempt to reach outside the app and is rejected with 400 rather
 * than normalized: the upstream may decode differently than we do. A dot segment counts in every
 * spelling some server reads as one — raw (`/..`), percent-encoded (`%2e%2e`), encoded several
 * times (`%252e%252e`), as IIS `%u002e` escapes, as overlong UTF-8 (`%c0%ae`), with a path
 * parameter (`..;x`, which servlet containers read as `..`), or behind an encoded separator
 * (`..%2f`, `..%5c`). A raw backslash is refused too (IIS and WHATWG URL parsers read it as `/`;
 * no browser sends one), and so is any `%u` escape (not percent-encoding at all, RFC 3986 §2.1).
 * Encoded slashes between ordinary names (`a%2Fb`) and path parameters on names (`page;v=1`) pass:
 * they cannot climb above the base.
 *
 * @returns the upstream path, or `undefined` when the URL is not under `mountPath` at all.
 * @throws GatewayError 400 `invalid_request` for traversal shapes.
 */
export function toUpstreamPath(requestUrl: string, mountPath: string, basePath: string): string | undefined {
  if (!requestUrl.startsWith('/')) throw rejectedRequest('the request target must be an absolute path');
  const queryAt = requestUrl.indexOf('?');
  const path = queryAt === -1 ? requestUrl : requestUrl.slice(0, queryAt);
  const query = queryAt === -1 ? '' : requestUrl.slice(queryAt);
  const mount = mountPath.replace(/\/+$/, '');
  if (mount && path !== mount && !path.startsWith(`${mount}/`)) return undefined;
  const rest = path.slice(mount.length) || '/';
  if (rest.includes('\\')) throw rejectedRequest('the path may not contain a backslash');
  for (const segment of rest.split('/')) assertSafeSegment(segment);
  const base = basePath.replace(/\/+$/, '');
  return `${base}${rest}${query}`;
}

function assertSafeSegment(segment: string): void {
  let decoded = segment;
  for (let round = 0; ; round++) {
    if (PERCENT_U.test(decoded)) throw rejectedRequest('the path may not contain %u escapes', `segment ${JSON.stringify(segment)}`);
    // Split on both separators: an upstream may decode `%2f` or treat `\` as `/` (IIS, some Java servers).
    if (decoded.includes('\0') || decoded.split(/[\\/]/).some(isDotSegment)) {
      throw rejectedRequest('the path may not contain dot segments', `segment ${JSON.stringify(segment)}`);
    }
    const next = decodeEscapes(decoded);
    if (next === decoded) return;
    if (round === DECODE_ROUNDS) throw rejectedRequest('the path is percent-encoded too many times', `segment ${JSON.stringify(segment)}`);
    decoded = next;
  }
}

/** `.` or `..`, also with a path parameter (`..;jsessionid=1`: Tomcat and Jetty drop it before resolving dots). */
function isDotSegment(part: string): boolean {
  const name = part.split(';', 1)[0];
  return name === '.' || name === '..';
}

/** Decodes `%XX` escapes of ASCII bytes and overlong UTF-8 sequences; a stray `%` (`/100%`) stays as it is instead of failing. */
function decodeEscapes(text: string): string {
  return text
    .replace(OVERLONG_UTF8, (sequence) => String.fromCodePoint(overlongCodePoint(sequence)))
    .replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The code point an overlong sequence spells: the lead byte's payload bits, then 6 bits per continuation byte. */
function overlongCodePoint(sequence: string): number {
  const [lead = 0, ...continuation] = sequence
    .split('%')
    .slice(1)
    .map((hex) => parseInt(hex, 16));
  const leadBits = lead >= 0xf0 ? lead & 0x07 : lead >= 0xe0 ? lead & 0x0f : lead & 0x1f;
  return continuation.reduce((code, byte) => (code << 6) | (byte & 0x3f), leadBits);
}
