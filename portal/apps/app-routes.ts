import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type Request, type Response } from 'express';
import type { UpstreamConfig } from '../config/schema.js';
import { auditRequest } from '../audit/request-audit.js';
import { HttpError } from '../http/errors.js';
import { requestPath } from '../http/request-context.js';
import type { AuthContext } from '../oauth/bearer.js';
import { SCOPES } from '../oauth/scopes.js';
import { admitCaller, bearerIdentity, resolveAppCaller } from './app-caller.js';
import { appForHost, appForPath, hostMount, isPortalHost, pathMount, type AppMount } from './app-mounts.js';
import type { AppsDeps } from './apps-deps.js';
import { forwardOptions } from './forward.js';
import { writeCachedMarkdown } from './markdown-response.js';
import { HOST_SESSION_PATH, redeemHostTicket, startHostSignIn } from './host-session.js';

/**
 * Serves `kind: http` upstreams: every request on an app's own `host`, and `/apps/{id}/…` on the
 * portal's host. Mount it before anything that reads bodies: the proxy streams them.
 *
 * A `Host` that names no app is never proxied by host: such requests go on to the portal's own
 * routes, and `/apps/…` on a host that is not the portal's answers 421 (the app's resource URL,
 * cookies and links all belong to the issuer's origin).
 */
export function appRoutes(deps: AppsDeps): Router {
  const router = Router();
  router.use(async (req, res, next) => {
    // The portal's own host is never an app's, even if one slipped past validation (see portalHostConflict).
    const hostApp = isPortalHost(deps.issuer, req.headers.host) ? undefined : appForHost(deps.upstreams(), req.headers.host);
    if (hostApp) {
      await serveHostApp(deps, hostApp, req, res);
      return;
    }
    const upstream = appForPath(deps.upstreams(), req.originalUrl);
    if (!upstream) {
      next();
      return;
    }
    const mount = checkedPathMount(deps, upstream, req.headers.host);
    if (redirectBare(mount, req.originalUrl, req.method, res)) return;
    await proxyToApp(deps, mount, req, res, () => `/login?return_to=${encodeURIComponent(req.originalUrl)}`);
  });
  return router;
}

/**
 * The path-routed app an agent's request is for, when the portal serves it on `node:http` without
 * express (the proxy's hot path, see {@link serveAgentAppRequest}): a request with `Authorization`
 * to `/apps/{id}/…`, on a `Host` that no app owns. `undefined` sends the request to {@link appRoutes}.
 */
export function agentAppOf(deps: AppsDeps, req: IncomingMessage): UpstreamConfig | undefined {
  if (!req.headers.authorization) return undefined;
  const upstreams = deps.upstreams();
  if (!isPortalHost(deps.issuer, req.headers.host) && appForHost(upstreams, req.headers.host)) return undefined;
  return appForPath(upstreams, req.url ?? '/');
}

/**
 * Serves an agent's request to a path-routed app (see {@link agentAppOf}) as {@link appRoutes}
 * would, with the bearer check as the only way in: there is no browser to send to sign in.
 */
export async function serveAgentAppRequest(
  deps: AppsDeps,
  upstream: UpstreamConfig,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const mount = checkedPathMount(deps, upstream, req.headers.host);
  if (redirectBare(mount, req.url ?? '/', req.method, res)) return;
  const auth = await bearerIdentity(deps, mount, req);
  admitCaller(req, mount, auth);
  await forwardToApp(deps, mount, auth, req, res);
}

/** The mount of a path-routed app, or 421 when the request came on a host that is not the portal's. */
function checkedPathMount(deps: AppsDeps, upstream: UpstreamConfig, host: string | undefined): AppMount {
  if (!isPortalHost(deps.issuer, host)) throw new HttpError(421, 'misdirected_request', `apps are served at ${deps.issuer}/apps/`);
  return pathMount(deps.issuer, upstream);
}

/** `/apps/wiki` → `/apps/wiki/` (301), so that the app's relative links resolve against the directory; whether it answered. */
function redirectBare(mount: AppMount, url: string, method: string | undefined, res: ServerResponse): boolean {
  if ((method !== 'GET' && method !== 'HEAD') || url.split('?')[0] !== mount.mountPath) return false;
  const query = url.slice(mount.mountPath.length);
  res.writeHead(301, { Location: `${mount.mountPath}/${query}`, 'Content-Length': 0 }).end();
  return true;
}

async function serveHostApp(deps: AppsDeps, upstream: UpstreamConfig & { host: string }, req: Request, res: Response): Promise<void> {
  const mount = hostMount(deps.issuer, upstream);
  const path = req.originalUrl.split('?')[0];
  if (path === HOST_SESSION_PATH && req.method === 'GET') return redeemHostTicket(deps, upstream, req, res);
  if (path === '/.well-known/oauth-protected-resource' && req.method === 'GET') {
    // RFC 9728 §3: the host-routed app's own metadata, at its host's root.
    res.set({ 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' }).json({
      resource: mount.resourceUrl,
      authorization_servers: [deps.issuer],
      scopes_supported: [SCOPES.mcp, SCOPES.offlineAccess],
      bearer_methods_supported: ['header'],
      resource_name: upstream.title ?? upstream.id,
    });
    return;
  }
  await proxyToApp(deps, mount, req, res, () => startHostSignIn(deps.issuer, upstream.id, req, res));
}

async function proxyToApp(deps: AppsDeps, mount: AppMount, req: Request, res: Response, signInUrl: () => string): Promise<void> {
  const caller = await resolveAppCaller(deps, mount, req);
  if (caller.kind === 'sign-in') {
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, signInUrl());
    return;
  }
  await forwardToApp(deps, mount, caller.auth, req, res);
}

/** Proxies an identified caller's request to the app, with its credential headers, and audits it when the response is done. */
async function forwardToApp(deps: AppsDeps, mount: AppMount, auth: AuthContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  auditAppRequest(req, res, mount, auth);
  const decided = await forwardOptions(deps, mount, auth, {
    method: req.method ?? 'GET',
    url: (req as Partial<Request>).originalUrl ?? req.url ?? '/',
    headers: req.headers,
  });
  if ('connectUrl' in decided) {
    res.writeHead(303, { Location: decided.connectUrl, 'Cache-Control': 'no-store' }).end();
    return;
  }
  const { forward, cached } = decided;
  // The portal's page policy (`default-src 'none'`) would block the app's own styles and scripts:
  // the app's responses carry the app's policy. Framing stays limited to the app's own origin.
  res.removeHeader('Content-Security-Policy');
  res.removeHeader('Cross-Origin-Opener-Policy');
  res.setHeader('X-Frame-Options', 'SAMEORIGIN');
  if (cached) writeCachedMarkdown(res, cached);
  else await deps.proxies.get(mount)(req, res, forward);
}

/** One `app_request` audit event per proxied request, when its response is done (method, path without query, status, latency). */
function auditAppRequest(req: IncomingMessage, res: ServerResponse, mount: AppMount, auth: AuthContext): void {
  const started = performance.now();
  const method = req.method;
  const path = requestPath(req);
  res.on('finish', () => {
    const status = res.statusCode;
    auditRequest(req, {
      event: 'app_request',
      outcome: status >= 500 ? 'error' : status === 401 || status === 403 ? 'denied' : 'success',
      person: auth.person,
      client: { id: auth.clientId, name: auth.clientName },
      upstream: mount.upstream.id,
      latencyMs: performance.now() - started,
      details: { method, path, status },
    });
  });
}
