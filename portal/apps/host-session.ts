import { Router, type Request, type Response } from 'express';
import { constantTimeEqual, randomToken, sha256 } from '../crypto/hash.js';
import { clearCookie, readCookie, writeCookie } from '../http/cookies.js';
import { HttpError } from '../http/errors.js';
import { portalCookieName } from '../http/portal-cookies.js';
import type { Person } from '../login/person.js';
import { safeReturnTo } from '../login/return-to.js';
import type { SessionManager } from '../login/sessions.js';
import { renderContinuePage } from '../web/continue-page.js';
import { storeKey, setJson, takeJson, type Store } from '../store/store.js';
import type { UpstreamConfig } from '../config/schema.js';
import { assertMayUse } from './app-caller.js';
import { hostOrigin } from './app-mounts.js';
import { contextOf } from '../http/request-context.js';

/**
 * Sign-in for host-routed apps. The portal's session cookie is host-only (and `__Host-` under
 * https), so a browser on `wiki.example.com` never sends it. The hand-off:
 *
 * 1. the app host gives a browser without a session a random hand-off nonce in a cookie of its
 *    own host, and sends it to `{issuer}/app-login/{id}?return_to=/page&binding=…`, where
 *    `binding` is the nonce's SHA-256 (the nonce itself never leaves the app host's cookie);
 * 2. there, a person signed in at the portal (else: `/login` first, and back) gets a one-time
 *    ticket (60 s, bound to the app and to `binding`) and is sent on to
 *    `{app origin}/.gatehouse/session?ticket=…` (by a page that refreshes itself: the login form's
 *    CSP would block a cross-origin redirect);
 * 3. the app host redeems the ticket only in the browser whose nonce hashes to its binding (as a
 *    client checks OAuth `state`, RFC 6749 §10.12), starts a session of its own (its own cookie,
 *    on its own host) and sends the browser back to the page.
 *
 * The binding is what makes a ticket useless away from its browser: a leaked ticket URL (history,
 * logs, a `Referer`) cannot sign anyone else in, and an attacker's own ticket cannot sign a victim
 * into the attacker's account. Any redemption spends the ticket, refused or not: a ticket that was
 * opened in the wrong browser (one made for a binding an attacker chose, say) is never good later.
 *
 * That session is independent of the portal's: signing out at the portal does not end it (it ends
 * with its idle and absolute timeouts, like any session).
 */

/** The path, on an app's own host, that the portal reserves for the hand-off (never proxied). */
export const HOST_SESSION_PATH = '/.gatehouse/session';
const TICKET_TTL_MS = 60_000;
/** How long a browser has, from the app host to the ticket, to sign in at the portal. */
const HAND_OFF_TTL_MS = 10 * 60_000;
const NONCE = /^[A-Za-z0-9_-]{32,64}$/;
/** A base64url SHA-256, as {@link sha256} writes it. */
const BINDING = /^[A-Za-z0-9_-]{43}$/;

interface Ticket {
  appId: string;
  person: Person;
  returnTo: string;
  /** SHA-256 of the hand-off nonce of the browser that asked. */
  binding: string;
}

export interface HostSessionDeps {
  issuer: string;
  store: Store;
  sessions: SessionManager;
  upstreams: () => readonly UpstreamConfig[];
}

/**
 * Step 1, on the app's host: binds this browser to a hand-off (its nonce cookie, reused when
 * present so that two tabs signing in at once both finish) and returns where to send it.
 */
export function startHostSignIn(issuer: string, appId: string, req: Request, res: Response): string {
  const secure = issuer.startsWith('https:');
  const cookie = portalCookieName('appHandOff', secure);
  const existing = readCookie(req, cookie);
  const nonce = existing && NONCE.test(existing) ? existing : randomToken(24);
  writeCookie(res, cookie, nonce, { secure, maxAgeMs: HAND_OFF_TTL_MS });
  return `${issuer}/app-login/${encodeURIComponent(appId)}?return_to=${encodeURIComponent(req.originalUrl)}&binding=${sha256(nonce)}`;
}

/** Step 2, on the portal host: `GET /app-login/{id}`. */
export function hostSignInRoutes(deps: HostSessionDeps): Router {
  const router = Router();
  router.get('/app-login/:id', async (req, res) => {
    const upstream = deps.upstreams().find((u) => u.kind === 'http' && u.host && u.id === req.params.id);
    if (!upstream?.host) throw new HttpError(404, 'not_found', 'no such app');
    const returnTo = safeReturnTo(req.query.return_to);
    const binding = typeof req.query.binding === 'string' && BINDING.test(req.query.binding) ? req.query.binding : undefined;
    if (!binding) {
      // Not started by the app host (an old link, a bookmark): no ticket without a browser to bind it to; start over there.
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, `${hostOrigin(deps.issuer, upstream.host)}${returnTo}`);
      return;
    }
    const session = await deps.sessions.read(req);
    if (!session) {
      res.redirect(303, `/login?return_to=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    assertMayUse(session.person, { upstream });
    const ticket = randomToken();
    await setJson(deps.store, ticketKey(ticket), { appId: upstream.id, person: session.person, returnTo, binding } satisfies Ticket, {
      ttlMs: TICKET_TTL_MS,
    });
    res.setHeader('Cache-Control', 'no-store');
    // A page, not a 303: this request may be the end of the sign-in form's redirect chain (see renderContinuePage).
    res.type('html').send(
      renderContinuePage({
        url: `${hostOrigin(deps.issuer, upstream.host)}${HOST_SESSION_PATH}?ticket=${ticket}`,
        going: `Opening ${upstream.title ?? upstream.id}`,
      }),
    );
  });
  return router;
}

/** Step 3, on the app's host: takes the ticket, in the browser it is bound to, and starts the app host's own session. */
export async function redeemHostTicket(deps: HostSessionDeps, upstream: UpstreamConfig, req: Request, res: Response): Promise<void> {
  const secure = deps.issuer.startsWith('https:');
  const cookie = portalCookieName('appHandOff', secure);
  const ticket = typeof req.query.ticket === 'string' ? req.query.ticket : '';
  const expired = new HttpError(400, 'invalid_request', 'This sign-in link has expired or was already used. Open the page again.');
  const record = ticket ? await takeJson<Ticket>(deps.store, ticketKey(ticket)) : null;
  if (!record || record.appId !== upstream.id) throw expired;
  const nonce = readCookie(req, cookie);
  if (!nonce || !constantTimeEqual(sha256(nonce), record.binding)) {
    contextOf(req).log.warn(
      { event: 'app_sign_in_refused', upstream: upstream.id, reason: 'browser_mismatch' },
      'hand-off ticket opened in another browser than the one that asked for it',
    );
    throw new HttpError(
      400,
      'invalid_request',
      'This sign-in link was opened in another browser than the one that asked for it. Open the page again in this browser.',
    );
  }
  await deps.sessions.create(res, record.person);
  clearCookie(res, cookie, { secure });
  res.setHeader('Cache-Control', 'no-store');
  res.redirect(303, safeReturnTo(record.returnTo));
}

function ticketKey(ticket: string): string {
  return storeKey('app-ticket', sha256(ticket));
}
