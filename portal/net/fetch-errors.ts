/** Why the guarded fetcher did not return an answer, as a stable code. */
export type GuardedFetchErrorCode =
  /** Not an absolute http(s) URL, a URL with credentials in it, or a redirect without a usable `Location`. */
  | 'invalid_url'
  /** Plain http where https is required: anywhere but the operator's own origins and allowed loopback hosts. */
  | 'not_https'
  /** The host is, or resolves to, an address that is not public (loopback, private, link-local, …) and was not allowed. */
  | 'blocked_address'
  /** DNS failed, the connection was refused or reset, or TLS failed. */
  | 'unreachable'
  /** The answer's body grew past the limit (counted as it streams, whatever `Content-Length` said). */
  | 'too_large'
  /** The whole exchange, redirects and body included, did not finish within the deadline. */
  | 'deadline'
  /** More redirects than allowed (or any, where none are). */
  | 'too_many_redirects'
  /** Every caller waiting for the answer went away. */
  | 'aborted'
  /** An answer HTTP cannot carry (a status outside 200-599). */
  | 'invalid_response';

const TRANSIENT: ReadonlySet<GuardedFetchErrorCode> = new Set(['unreachable', 'deadline', 'aborted']);

/** A refused or failed guarded fetch. The message names the URL (without its query) for logs; never show it to callers. */
export class GuardedFetchError extends Error {
  constructor(
    readonly code: GuardedFetchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GuardedFetchError';
  }

  /** Whether the same fetch may succeed later (the peer was slow or down); the others are refusals that will not change. */
  get transient(): boolean {
    return TRANSIENT.has(this.code);
  }
}

/** A URL as it may appear in logs: origin and path, no query (which may carry codes or tokens). */
export function loggableUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
