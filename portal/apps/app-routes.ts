import { Router, type Request, type Response } from 'express';
import type { UpstreamConfig } from '../config/schema.js';
import { auditRequest } from '../audit/request-audit.js';
import { HttpError } from '../http/errors.js';
import type { AuthContext } from '../oauth/bearer.js';
import { SCOPES } from '../oauth/scopes.js';
import { resolveAppCaller } from './app-caller.js';
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
    if (!isPortalHost(deps.issuer, req.headers.host)) {
      throw new HttpError(421, 'misdirected_request', `apps are served at ${deps.issuer}/apps/`);
    }
    const mount = pathMount(deps.issuer, upstream);
    // `/apps/wiki` → `/apps/wiki/`: the app's relative links resolve against the directory.
    const bare = req.originalUrl.split('?')[0] === mount.mountPath;
    if (bare && (req.method === 'GET' || req.method === 'HEAD')) {
      const query = req.originalUrl.slice(mount.mountPath.length);
      res.redirect(301, `${mount.mountPath}/${query}`);
      return;
    }
    await proxyToApp(deps, mount, req, res, () => `/login?return_to=${encodeURIComponent(req.originalUrl)}`);
  });
  return router;
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
  if (caller.kind === 'identity') auditAppRequest(req, res, mount, caller.auth);
  if (caller.kind === 'sign-in') {
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, signInUrl());
    return;
  }
  const { forward, cached } = await forwardOptions(deps, mount, caller.auth, { method: req.method, url: req.originalUrl, headers: req.headers });
  // The portal's page policy (`default-src 'none'`) would block the app's own styles and scripts:
  // the app's responses carry the app's policy. Framing stays limited to the app's own origin.
  res.removeHeader('Content-Security-Policy');
  res.removeHeader('Cross-Origin-Opener-Policy');
  res.setHeader('X-Frame-Options', 'SAMEORIGIN');
  if (cached) writeCachedMarkdown(res, cached);
  else await deps.proxies.get(mount)(req, res, forward);
}

/** One `app_request` audit event per proxied request, when its response is done (method, path without query, status, latency). */
function auditAppRequest(req: Request, res: Response, mount: AppMount, auth: AuthContext): void {
  const started = performance.now();
  const method = req.method;
  const path = req.originalUrl.split('?')[0];
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
