import type { Request } from 'express';
import { pageCsp, type SignedIn } from './html.js';
import { constantTimeEqual, hmac } from '../crypto/hash.js';
import { deriveKey } from '../crypto/seal.js';
import { HttpError } from '../http/errors.js';
import type { Session } from '../login/sessions.js';

/**
 * The one CSRF check of every form the portal's pages post (sign-in, sign-out, consent,
 * connections, connect, admin). A signed-in page's token is an HMAC of the session id, and for a
 * form about one thing (a consent request) of that thing too, so it is good only in the session
 * it was rendered for. The sign-in form comes before any session: its token is an HMAC of a
 * nonce the page set as a cookie (double submit). The session cookie is also SameSite=Lax;
 * this holds where that does not (OWASP CSRF Prevention Cheat Sheet: synchronizer token).
 */
export interface PageCsrf {
  /** The `csrf` field of a form rendered for `session`; `subject` binds it to one thing as well. */
  token(session: Session, subject?: string): string;
  /**
   * The posted form's fields, once its `csrf` field proved it was rendered for this session (and
   * `subject`). With `sameOriginSuffices`, a same-origin `Origin` header (Fetch §3.1: browsers
   * send it on every POST) proves it too: for sign-out, which any portal page may offer.
   * @throws {HttpError} 403 `invalid_csrf` otherwise.
   */
  form(req: Request, session: Session, options?: { subject?: string; sameOriginSuffices?: boolean }): Record<string, unknown>;
  /** The sign-in form's `csrf` field, for the browser holding `nonce` (a cookie of the sign-in page). */
  signInToken(nonce: string): string;
  /**
   * The posted sign-in form's fields, once its `csrf` field matches the browser's `nonce` cookie.
   * @throws {HttpError} 403 `invalid_csrf` otherwise (no cookie, no field, or another browser's).
   */
  signInForm(req: Request, nonce: string | undefined): Record<string, unknown>;
}

/** The portal's {@link PageCsrf}: every instance made from one secret and issuer accepts the others' tokens. */
export function createPageCsrf(options: { secret: string; issuer: string }): PageCsrf {
  const key = deriveKey(options.secret, 'page-csrf');
  const portalOrigin = new URL(options.issuer).origin;
  const token = (session: Session, subject = '') => hmac(key, `session\n${session.id}\n${subject}`);
  const signInToken = (nonce: string) => hmac(key, `sign-in\n${nonce}`);
  const fieldsOf = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const matches = (fields: Record<string, unknown>, expected: string) =>
    typeof fields.csrf === 'string' && constantTimeEqual(fields.csrf, expected);
  const refused = (message: string) => new HttpError(403, 'invalid_csrf', message);

  return {
    token,
    form(req, session, formOptions = {}) {
      const fields = fieldsOf(req);
      if (matches(fields, token(session, formOptions.subject))) return fields;
      if (formOptions.sameOriginSuffices && req.headers.origin === portalOrigin) return fields;
      throw refused('This form was not issued to you, or it expired. Reload the page and try again.');
    },
    signInToken,
    signInForm(req, nonce) {
      const fields = fieldsOf(req);
      if (nonce && matches(fields, signInToken(nonce))) return fields;
      throw refused('The sign-in form expired. Go back, reload the page and try again.');
    },
  };
}

/** The header of a signed-in person's page: their name, and a sign-out form good for this session. */
export function signedInHeader(csrf: PageCsrf, session: Session, name: string): SignedIn {
  return { name, signOutCsrf: csrf.token(session) };
}

/** Pages with forms: posts only to the portal, no scripts, no framing. */
export const PAGE_CSP = pageCsp();

/** `2025-01-31 14:05 UTC` in a `<time>`-friendly pair. */
export function displayTime(ms: number | undefined): { iso: string; text: string } | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return { iso, text: `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` };
}
