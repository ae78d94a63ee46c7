import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { sha256 } from '../crypto/hash.js';
import { auditRequest } from '../audit/request-audit.js';
import { HttpError, wantsHtml } from '../http/errors.js';
import { findContext, requestPath } from '../http/request-context.js';
import type { Person } from '../login/person.js';
import type { SessionManager } from '../login/sessions.js';
import type { People } from '../login/people.js';
import type { BearerGuard } from '../oauth/authorization-server.js';
import type { ResourceCatalog } from '../oauth/resources.js';
import type { AuthContext } from '../oauth/bearer.js';
import { mayUseUpstream } from '../policy/access.js';
import type { AppMount } from './app-mounts.js';

/** The client id a browser session's identity carries in upstream assertions (`act.sub`). */
export const BROWSER_CLIENT_ID = 'browser';

/** What the app routes need to establish who is calling. */
export interface AppCallerDeps {
  issuer: string;
  bearer: Pick<BearerGuard, 'authenticate'>;
  /** The aggregate's audience, accepted for apps in the grant. */
  resources: Pick<ResourceCatalog, 'aggregate'>;
  people: Pick<People, 'current'>;
  sessions: SessionManager;
}

/**
 * The outcome of the caller check: an identity to forward, or "send this browser to sign in"
 * (the route decides where: `/login` for path routing, the host hand-off for host routing).
 */
export type AppCaller = { kind: 'identity'; auth: AuthContext } | { kind: 'sign-in' };

/**
 * Who is calling an app, by one policy for two kinds of caller:
 * - a request with `Authorization` is an agent: the bearer check (`aud` = the app's resource, or
 *   the aggregate's with the app in the grant), else 401 with the app's RFC 9728 challenge;
 * - a request with a live session cookie is that person's browser;
 * - a browser without a session (HTML preferred, no `Authorization`) must sign in;
 * - anything else gets the 401 challenge.
 * Then `access` rules decide: 403 `access_denied` for a person the app is not open to.
 */
export async function resolveAppCaller(deps: AppCallerDeps, mount: AppMount, req: Request): Promise<AppCaller> {
  let caller: AppCaller;
  if (req.headers.authorization) {
    caller = { kind: 'identity', auth: await bearerIdentity(deps, mount, req) };
  } else {
    const auth = await sessionIdentity(deps, mount, req);
    if (auth) caller = { kind: 'identity', auth };
    else if (wantsHtml(req)) return { kind: 'sign-in' };
    else caller = { kind: 'identity', auth: await bearerIdentity(deps, mount, req) }; // throws the 401 challenge
  }
  admitCaller(req, mount, caller.auth);
  return caller;
}

/** The `access` rules' decision on an identified caller: a `policy_denied` audit event and 403 `access_denied` when they refuse. */
export function admitCaller(req: IncomingMessage, mount: Pick<AppMount, 'upstream'>, auth: AuthContext): void {
  if (!mayUseUpstream(auth.person, mount.upstream)) {
    const path = requestPath(req);
    auditRequest(req, {
      event: 'policy_denied',
      outcome: 'denied',
      person: auth.person,
      client: { id: auth.clientId, name: auth.clientName },
      upstream: mount.upstream.id,
      details: { rule: 'access', method: req.method, path },
    });
  }
  assertMayUse(auth.person, mount);
}

/** 403 `access_denied` unless the upstream's `access` rules admit the person. */
export function assertMayUse(person: Person, mount: Pick<AppMount, 'upstream'>): void {
  if (!mayUseUpstream(person, mount.upstream)) {
    throw new HttpError(
      403,
      'access_denied',
      `You are signed in as ${person.email ?? person.username ?? person.id}, who may not use ${mount.upstream.title ?? mount.upstream.id}.`,
    );
  }
}

/**
 * Runs the portal's one bearer check for this app (plain requests and WebSocket upgrades alike):
 * resolves its `AuthContext` or rejects with the 401/403 `OAuthError` and its challenge.
 */
export function bearerIdentity(deps: AppCallerDeps, mount: AppMount, req: IncomingMessage): Promise<AuthContext> {
  const aggregate = deps.resources.aggregate().url;
  const pathResource = `${deps.issuer}/apps/${mount.upstream.id}`;
  return deps.bearer.authenticate(req, {
    resource: { url: mount.resourceUrl, path: `/apps/${mount.upstream.id}`, metadataUrl: mount.metadataUrl },
    // A host-routed app also honours tokens for its `/apps/{id}` resource: it is the same app.
    audiences: mount.resourceUrl === pathResource ? [aggregate] : [pathResource, aggregate],
    upstreamId: mount.upstream.id,
    // A host-routed app's requests come to its own origin: a DPoP proof's `htu` names that.
    publicBaseUrl: mount.mountPath ? deps.issuer : mount.publicUrl,
  });
}

/** Runs a `requireBearer` middleware as a promise: its `AuthContext`, or its 401/403 `OAuthError`. */
export function runBearerCheck(check: RequestHandler, req: Request, res: Response): Promise<AuthContext> {
  return new Promise<AuthContext>((resolve, reject) => {
    const next = (error?: unknown) => {
      const auth = findContext(req)?.auth;
      if (error !== undefined && error !== 'route') reject(error);
      else if (auth) resolve(auth);
      else reject(new Error('bearer check passed without an auth context'));
    };
    Promise.resolve(check(req, res, next)).catch(reject);
  });
}

/**
 * The signed-in person of a browser session, as an `AuthContext` for the upstream assertion. The
 * account is looked up again (groups change), and the grant id is derived from the session, so
 * that cached assertions are never shared between sessions.
 */
export async function sessionIdentity(
  deps: AppCallerDeps,
  mount: Pick<AppMount, 'upstream' | 'resourceUrl'>,
  req: IncomingMessage,
): Promise<AuthContext | undefined> {
  const session = await deps.sessions.read(req as Request);
  if (!session) return undefined;
  const person = await deps.people.current(session.person);
  if (!person) return undefined;
  return {
    person,
    clientId: BROWSER_CLIENT_ID,
    clientName: 'Web browser',
    grantId: `session:${sha256(session.id)}`,
    scope: [],
    resource: mount.resourceUrl,
    upstreamIds: [mount.upstream.id],
    expiresAt: Math.floor(Date.now() / 1000) + 60,
  };
}
