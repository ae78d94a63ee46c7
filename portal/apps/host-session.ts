import { Router, type Request, type Response } from 'express';
import { randomToken, sha256 } from '../crypto/hash.js';
import { HttpError } from '../http/errors.js';
import type { Person } from '../login/person.js';
import { safeReturnTo } from '../login/return-to.js';
import type { SessionManager } from '../login/sessions.js';
import { renderContinuePage } from '../web/continue-page.js';
import { storeKey, setJson, takeJson, type Store } from '../store/store.js';
import type { UpstreamConfig } from '../config/schema.js';
import { assertMayUse } from './app-caller.js';
import { hostOrigin } from './app-mounts.js';

/**
 * Sign-in for host-routed apps. The portal's session cookie is host-only (and `__Host-` under
 * https), so a browser on `wiki.example.com` never sends it. The hand-off:
 *
 * 1. the app host sends a browser without a session to `{issuer}/app-login/{id}?return_to=/page`;
 * 2. there, a person signed in at the portal (else: `/login` first, and back) gets a one-time
 *    ticket (60 s, bound to the app) and is sent on to `{app origin}/.gatehouse/session?ticket=…`
 *    (by a page that refreshes itself: the login form's CSP would block a cross-origin redirect);
 * 3. the app host takes the ticket once, starts a session of its own (its own cookie, on its own
 *    host) and sends the browser back to the page.
 *
 * That session is independent of the portal's: signing out at the portal does not end it (it ends
 * with its idle and absolute timeouts, like any session).
 */

/** The path, on an app's own host, that the portal reserves for the hand-off (never proxied). */
export const HOST_SESSION_PATH = '/.gatehouse/session';
const TICKET_TTL_MS = 60_000;

interface Ticket {
  appId: string;
  person: Person;
  returnTo: string;
}

export interface HostSessionDeps {
  issuer: string;
  store: Store;
  sessions: SessionManager;
  upstreams: () => UpstreamConfig[];
}

/** Where a host-routed app sends a browser that has no session there. */
export function hostSignInUrl(issuer: string, appId: string, returnTo: string): string {
  return `${issuer}/app-login/${encodeURIComponent(appId)}?return_to=${encodeURIComponent(returnTo)}`;
}

/** Step 2, on the portal host: `GET /app-login/{id}`. */
export function hostSignInRoutes(deps: HostSessionDeps): Router {
  const router = Router();
  router.get('/app-login/:id', async (req, res) => {
    const upstream = deps.upstreams().find((u) => u.kind === 'http' && u.host && u.id === req.params.id);
    if (!upstream?.host) throw new HttpError(404, 'not_found', 'no such app');
    const returnTo = safeReturnTo(req.query.return_to);
    const session = await deps.sessions.read(req);
    if (!session) {
      res.redirect(303, `/login?return_to=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    assertMayUse(session.person, { upstream });
    const ticket = randomToken();
    await setJson(deps.store, ticketKey(ticket), { appId: upstream.id, person: session.person, returnTo } satisfies Ticket, { ttlMs: TICKET_TTL_MS });
    res.setHeader('Cache-Control', 'no-store');
    // A page, not a 303: this request may be the end of the sign-in form's redirect chain (see renderContinuePage).
    res.type('html').send(renderContinuePage({ url: `${hostOrigin(deps.issuer, upstream.host)}${HOST_SESSION_PATH}?ticket=${ticket}`, appName: upstream.title ?? upstream.id }));
  });
  return router;
}

/** Step 3, on the app's host: takes the ticket and starts the app host's own session. */
export async function redeemHostTicket(deps: HostSessionDeps, upstream: UpstreamConfig, req: Request, res: Response): Promise<void> {
  const ticket = typeof req.query.ticket === 'string' ? req.query.ticket : '';
  const record = ticket ? await takeJson<Ticket>(deps.store, ticketKey(ticket)) : null;
  if (!record || record.appId !== upstream.id) throw new HttpError(400, 'invalid_request', 'This sign-in link has expired or was already used. Open the page again.');
  await deps.sessions.create(res, record.person);
  res.setHeader('Cache-Control', 'no-store');
  res.redirect(303, safeReturnTo(record.returnTo));
}

function ticketKey(ticket: string): string {
  return storeKey('app-ticket', sha256(ticket));
}
