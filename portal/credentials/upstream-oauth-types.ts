import type { UpstreamConfig } from '../config/schema.js';
import type { UpstreamIdentity } from './upstream-identity.js';

/** Tokens as the portal keeps them; `expiresAt` in ms since the epoch, absent when the AS did not say. */
export interface UpstreamTokenSet {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: number;
  scope: string[];
}

/** What a completed connect yields: the tokens, and whose account they are for when the AS said (an ID token). */
export interface ConnectedTokens extends UpstreamTokenSet {
  identity?: UpstreamIdentity;
}

/** Where the person's tokens come from: enough to refresh and revoke them later, in any process. */
export interface TokenOrigin {
  /**
   * The authorization server's issuer identifier (RFC 8414 §2), from its validated metadata. A
   * connect in progress checks the response's `iss` against it (RFC 9207 §2.4); tokens are
   * refreshed and revoked only there.
   */
  asIssuer: string;
  /** `configured`, or the store key of the client registered at `asIssuer` (keys are per issuer). */
  clientKey: string;
  /** The RFC 8707 resource the tokens are for. */
  resource: string;
}

/** One connect in progress: the PKCE verifier, the `state`, and the issuer it was sent to (RFC 7636 §4.1, RFC 9207 §2.4). */
export interface PendingAuthorization extends TokenOrigin {
  state: string;
  codeVerifier: string;
  redirectUri: string;
  scope: string[];
}

export interface UpstreamOAuth {
  /**
   * Discovers the upstream's authorization server, gets a client there, and builds the
   * authorization request. `signal`: the person's request went away (discovery stops).
   * `chooseAccount`: the person holds another account there already, so the AS is asked to let
   * them pick or sign in afresh rather than reuse its session (OpenID Connect Core 1.0 §3.1.2.1
   * `prompt`; an OAuth-only AS ignores it, RFC 6749 §3.1).
   */
  begin(
    upstream: UpstreamConfig,
    options: { redirectUri: string; extraScope?: string[]; previousScope?: string[]; chooseAccount?: boolean; signal?: AbortSignal },
  ): Promise<{ url: URL; pending: PendingAuthorization }>;
  /**
   * Validates the callback, its `iss` against the recorded issuer first (RFC 9207 §2.4), then
   * `state`, and redeems the code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5, RFC 8707 §2.2).
   * An ID token in the answer is validated and names the account.
   */
  finish(upstream: UpstreamConfig, callbackUrl: URL, pending: PendingAuthorization): Promise<ConnectedTokens>;
  /** The refresh grant (RFC 6749 §6); a rotated refresh token replaces the old one, else the old one stays. */
  refresh(upstream: UpstreamConfig, origin: TokenOrigin, refreshToken: string): Promise<UpstreamTokenSet>;
  /** Revokes a token (RFC 7009 §2.1) when the AS has a revocation endpoint; resolves whether it was sent. */
  revoke(upstream: UpstreamConfig, origin: TokenOrigin, token: string, hint: 'access_token' | 'refresh_token'): Promise<boolean>;
}
