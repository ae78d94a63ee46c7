import type * as oauth from 'oauth4webapi';

/**
 * Who a person is at an upstream, as its authorization server said in the ID token of a connect
 * (OpenID Connect Core 1.0 §2: `iss` and `sub` name the account; §5.1: the readable claims).
 * Untrusted text: it is bounded here and escaped wherever it is shown.
 */
export interface UpstreamIdentity {
  issuer: string;
  subject: string;
  /** `email`, else `preferred_username`, else `name`, else `sub`: what a person recognizes the account by. */
  name?: string;
}

/** Longest claim shown: an ID token is the authorization server's text, not the portal's. */
const MAX_CLAIM = 200;
/** OpenID Connect Core 1.0 §2: `sub` is at most 255 ASCII characters. */
const MAX_SUBJECT = 255;

/**
 * The identity in an ID token that oauth4webapi already validated (`iss`, `aud`, `exp`, no
 * `nonce`: OpenID Connect Core 1.0 §3.1.3.7; the signature is not needed for a token received
 * straight from the token endpoint over TLS, ibid. item 6). `undefined` without an ID token.
 */
export function identityFromIdToken(claims: oauth.IDToken | undefined): UpstreamIdentity | undefined {
  if (!claims) return undefined;
  const subject = claims.sub;
  if (typeof subject !== 'string' || !subject || subject.length > MAX_SUBJECT) return undefined;
  const name = readable(claims.email) ?? readable(claims.preferred_username) ?? readable(claims.name) ?? readable(subject);
  return { issuer: claims.iss, subject, ...(name ? { name } : {}) };
}

/** Two identities name one account: same issuer, same subject (OpenID Connect Core 1.0 §2, `sub`). */
export function sameIdentity(a: UpstreamIdentity | undefined, b: UpstreamIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.issuer === b.issuer && a.subject === b.subject;
}

function readable(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Control and format characters (bidirectional overrides among them) would let a claim pose as another.
  const text = value.replace(/[\p{Cc}\p{Cf}]/gu, '').trim();
  return text ? text.slice(0, MAX_CLAIM) : undefined;
}
