import * as oauth from 'oauth4webapi';
import { GuardedFetchError } from '../net/fetch-errors.js';

/** Why talking to an upstream's authorization server failed, as a stable code. */
export type UpstreamOAuthErrorCode =
  /** Unreachable, timed out, or 5xx. Transient: nothing about the connection changes. */
  | 'as_unavailable'
  /** The authorization server or resource answered something that fails validation (metadata, token response). */
  | 'as_invalid_response'
  /** The authorization server refused (an OAuth error such as `invalid_grant`, RFC 6749 §5.2). */
  | 'as_refused'
  /**
   * The authorization response does not come from the authorization server the request went to
   * (RFC 9207 §2.4 `iss`): a possible mix-up attack. Nothing in it was used.
   */
  | 'as_issuer_mismatch'
  /** The upstream cannot be used with the `oauth` strategy as configured (no discoverable AS, no way to get a client). */
  | 'as_unsupported';

/** A failed exchange with an upstream's authorization server. `internal` is for logs only. */
export class UpstreamOAuthError extends Error {
  constructor(
    readonly code: UpstreamOAuthErrorCode,
    readonly internal: string,
    readonly oauthError?: string,
  ) {
    super(internal);
    this.name = 'UpstreamOAuthError';
  }
}

/** Sorts oauth4webapi's and the guarded fetcher's errors into what the connection can do about them. */
export function toOAuthError(error: unknown): UpstreamOAuthError {
  if (error instanceof UpstreamOAuthError) return error;
  // Slow or down is an outage; an address, scheme or size the portal refuses is the upstream's doing.
  if (error instanceof GuardedFetchError) return new UpstreamOAuthError(error.transient ? 'as_unavailable' : 'as_invalid_response', `${error.code}: ${error.message}`);
  if (error instanceof oauth.AuthorizationResponseError) return new UpstreamOAuthError('as_refused', `authorization error: ${error.error}`, safeCode(error.error));
  if (error instanceof oauth.ResponseBodyError) {
    if (error.status >= 500) return new UpstreamOAuthError('as_unavailable', `AS answered ${error.status} ${error.error}`);
    return new UpstreamOAuthError('as_refused', `AS refused: ${error.error}`, safeCode(error.error));
  }
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Response && cause.status >= 500) return new UpstreamOAuthError('as_unavailable', `AS answered ${cause.status}`);
  return new UpstreamOAuthError('as_invalid_response', `${(error as { code?: string }).code ?? 'error'}: ${(error as Error)?.message ?? String(error)}`);
}

function safeCode(code: string): string | undefined {
  return /^[\x20-\x7e]{1,64}$/.test(code) ? code : undefined;
}
