import { pageCsp } from './html.js';
import { constantTimeEqual, hmac } from '../crypto/hash.js';
import { deriveKey } from '../crypto/seal.js';
import { HttpError } from '../http/errors.js';
import type { Session } from '../login/sessions.js';

/**
 * CSRF tokens for the forms of signed-in pages (`/connections`, `/admin`): an HMAC of the
 * session id, so a token is good only for the session it was rendered in. (The session cookie
 * is also SameSite=Lax; this holds even where that does not.)
 */
export interface PageCsrf {
  token(session: Session): string;
  /**
   * A posted form's fields, once its `csrf` field proved it was rendered for this session.
   * @throws {HttpError} 403 `invalid_csrf` otherwise.
   */
  form(session: Session, body: unknown): Record<string, unknown>;
}

export function createPageCsrf(secret: string): PageCsrf {
  const key = deriveKey(secret, 'page-csrf');
  const token = (session: Session) => hmac(key, `page:${session.id}`);
  return {
    token,
    form(session, body) {
      const fields = (body ?? {}) as Record<string, unknown>;
      if (typeof fields.csrf !== 'string' || !constantTimeEqual(fields.csrf, token(session))) {
        throw new HttpError(403, 'invalid_csrf', 'This form was not issued to you, or it expired. Reload the page and try again.');
      }
      return fields;
    },
  };
}

/** Pages with forms: posts only to the portal, no scripts, no framing. */
export const PAGE_CSP = pageCsp();

/** `2025-01-31 14:05 UTC` in a `<time>`-friendly pair. */
export function displayTime(ms: number | undefined): { iso: string; text: string } | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return { iso, text: `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` };
}
