import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { HttpError } from '../http/errors.js';
import type { Person } from '../login/person.js';
import { SCOPES } from '../oauth/scopes.js';
import { isAdmin } from '../policy/admins.js';
import type { AdminDeps } from './admin-deps.js';
import { auditRequest } from '../audit/request-audit.js';
import { findContext } from '../http/request-context.js';

/** Who is using the admin API, and how they proved it. */
export interface AdminCaller {
  person: Person;
  via: 'session' | 'bearer';
}

/** The admin of each request that passed {@link requireAdmin}. */
const callers = new WeakMap<IncomingMessage, AdminCaller>();

/** Who passed {@link requireAdmin} for this request; throws for a route behind another gate (a wiring mistake). */
export function adminOf(req: IncomingMessage): AdminCaller {
  const caller = callers.get(req);
  if (!caller) throw new Error('this request did not pass requireAdmin');
  return caller;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The admin API's gate. A request with `Authorization` must carry a token for `{issuer}/admin`
 * with the `admin` scope (the portal's one bearer check: 401 with a challenge otherwise);
 * anything else needs a browser session. Either way the person must be an admin by the
 * `admins` config as it is now (403 otherwise), and every refusal is audited.
 * A session may change state only from the portal's own origin (a cross-site request cannot).
 */
export function requireAdmin(deps: AdminDeps): RequestHandler[] {
  const { issuer } = deps.config;
  const adminResource = `${issuer}/admin`;
  // Any of this portal's tokens passes the signature check here, so that an agent's token is
  // answered 403 insufficient_scope (a valid token without the privilege), not 401.
  const bearer = deps.bearer.requireBearer({
    resource: () => ({ url: adminResource, path: '/admin' }),
    alsoAccept: () => deps.resources.all().map((r) => r.url),
    scope: [SCOPES.admin],
  });
  const deny = (req: Request, person: Person | undefined, reason: string) => {
    auditRequest(req, { event: 'admin_denied', outcome: 'denied', person, details: { method: req.method, path: req.path, reason } });
    return new HttpError(403, 'forbidden', reason);
  };
  return [
    async (req, res, next) => {
      if (req.headers.authorization) return bearer(req, res, next);
      const session = await deps.sessions.read(req);
      if (!session) throw new HttpError(401, 'login_required', 'sign in at /login, or send a bearer token with the "admin" scope');
      if (!SAFE_METHODS.has(req.method) && !sameOrigin(req, issuer)) throw deny(req, session.person, 'cross-origin request refused');
      callers.set(req, { person: session.person, via: 'session' });
      next();
    },
    async (req, _res, next) => {
      const auth = findContext(req)?.auth;
      if (auth && auth.resource !== adminResource) throw deny(req, auth.person, 'this token is not for the admin API');
      const signedIn = callers.get(req);
      const claimed = signedIn?.person ?? auth?.person;
      // Accounts and groups change: decide on the person as they are now, not as they were at sign-in.
      const person = claimed && (await deps.people.current(claimed));
      if (!person || !isAdmin(person, deps.config.admins)) throw deny(req, claimed, 'you are not an administrator of this portal');
      callers.set(req, { person, via: signedIn?.via ?? 'bearer' });
      next();
    },
  ];
}

/** `Origin` (or, without it, `Sec-Fetch-Site`) says the request comes from the portal's own pages. */
function sameOrigin(req: Request, issuer: string): boolean {
  const origin = req.get('origin');
  if (origin) return origin === new URL(issuer).origin;
  return req.get('sec-fetch-site') === 'same-origin';
}
