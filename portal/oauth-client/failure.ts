import * as oauth from 'oauth4webapi';
import { GuardedFetchError } from '../net/fetch-errors.js';

/**
 * What went wrong talking to an authorization server, in terms a caller can act on. Each caller
 * (IdP sign-in, upstream connect) names these in its own error codes.
 */
export type OAuthFailureKind =
  /** Unreachable, timed out, or answered 5xx: the same request may succeed later. */
  | 'unavailable'
  /** The authorization response carried an error (RFC 6749 §4.1.2.1), e.g. `access_denied`. */
  | 'denied'
  /** An endpoint answered an OAuth error (RFC 6749 §5.2), e.g. `invalid_grant`. */
  | 'refused'
  /** An answer failed validation (metadata, token response, ID token), or a URL it named was refused. */
  | 'invalid_response';

/** A failed exchange with an authorization server, classified. `internal` is for logs only. */
export class OAuthClientError extends Error {
  constructor(
    readonly kind: OAuthFailureKind,
    readonly internal: string,
    /** The server's own error code, when it sent one that is safe to log and show (printable ASCII, short). */
    readonly oauthError?: string,
  ) {
    super(internal);
    this.name = 'OAuthClientError';
  }
}

/**
 * The one classification of what oauth4webapi and the guarded fetcher throw, by type and code:
 * slow or down is `unavailable`; an address, scheme or size the portal refuses is the server's
 * doing (`invalid_response`), as is anything oauth4webapi found wrong in an answer.
 */
export function classifyOAuthFailure(error: unknown): OAuthClientError {
  if (error instanceof OAuthClientError) return error;
  if (error instanceof GuardedFetchError)
    return new OAuthClientError(error.transient ? 'unavailable' : 'invalid_response', `${error.code}: ${error.message}`);
  if (error instanceof oauth.AuthorizationResponseError)
    return new OAuthClientError('denied', `authorization error: ${error.error}`, safeOAuthError(error.error));
  if (error instanceof oauth.ResponseBodyError) {
    if (error.status >= 500) return new OAuthClientError('unavailable', `answered ${error.status} ${error.error}`);
    return new OAuthClientError('refused', `refused: ${error.error}`, safeOAuthError(error.error));
  }
  const status = unexpectedResponseStatus(error);
  if (status !== undefined && status >= 500) return new OAuthClientError('unavailable', `answered ${status}`);
  const code = (error as { code?: unknown })?.code;
  return new OAuthClientError(
    'invalid_response',
    `${typeof code === 'string' ? code : 'error'}: ${error instanceof Error ? error.message : String(error)}`,
  );
}

/**
 * The HTTP status of an answer oauth4webapi rejected as a whole (it keeps the `Response` as the
 * error's `cause`), e.g. a 404 at a well-known metadata URL; `undefined` for any other failure.
 */
export function unexpectedResponseStatus(error: unknown): number | undefined {
  const cause = error instanceof oauth.OperationProcessingError ? error.cause : undefined;
  return cause instanceof Response ? cause.status : undefined;
}

/** An error code from the server, if it is something a log line or a page may carry. */
function safeOAuthError(code: string): string | undefined {
  return /^[\x20-\x7e]{1,64}$/.test(code) ? code : undefined;
}
