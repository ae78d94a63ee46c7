import { classifyOAuthFailure, type OAuthFailureKind } from '../oauth-client/failure.js';

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

/** What each kind of failure means for a connection: a denial at the AS and a refusal by its endpoints are both the AS refusing. */
const UPSTREAM_OAUTH_ERROR_CODES: Record<OAuthFailureKind, UpstreamOAuthErrorCode> = {
  unavailable: 'as_unavailable',
  denied: 'as_refused',
  refused: 'as_refused',
  invalid_response: 'as_invalid_response',
};

/** Names any failure of an exchange with an upstream's authorization server in what the connection can do about it. */
export function toOAuthError(error: unknown): UpstreamOAuthError {
  if (error instanceof UpstreamOAuthError) return error;
  const failure = classifyOAuthFailure(error);
  return new UpstreamOAuthError(UPSTREAM_OAUTH_ERROR_CODES[failure.kind], failure.internal, failure.oauthError);
}
