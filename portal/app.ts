import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Config } from './config/load.js';
import type { Store } from './store/store.js';
import { bodyParsers } from './http/body.js';
import { errorHandler, HttpError } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { createMetrics } from './http/metrics.js';
import { createRateLimit } from './http/rate-limit.js';
import { requestContext } from './http/request-context.js';
import { securityHeaders } from './http/security-headers.js';
import { createAccounts } from './login/accounts.js';
import { loginRoutes } from './login/login-routes.js';
import { createSessionManager } from './login/sessions.js';
import { createMcpEndpoints } from './mcp/mcp-routes.js';
import { createAuthorizationServer, type AuthorizationServer } from './oauth/authorization-server.js';
import { createApps, type Apps } from './apps/apps.js';

/** What a portal is built from; `createApp` does no I/O, so tests build a portal in one call. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** Extra trusted CAs (PEM) for fetching client metadata documents. */
  metadataDocumentCa?: string | string[];
}

export interface Portal {
  app: Express;
  oauth: AuthorizationServer;
  /** HTTP apps (issue 7): `apps.fetchPage` serves the MCP aggregate's `{id}__fetch`. */
  apps: Apps;
  /** The HTTP server's `'upgrade'` listener (WebSockets to apps): `server.on('upgrade', portal.onUpgrade)`. */
  onUpgrade: Apps['onUpgrade'];
  /** Closes upstream connections and processes (call after the HTTP server stopped). */
  close(): Promise<void>;
}

const VERSION = '0.1.0';

/** Wires the portal: request context, metrics, security headers, capability routes, one error handler. */
export function createPortal(deps: AppDeps): Portal {
  const { config, store, logger } = deps;
  const secure = config.issuer.startsWith('https:');
  const metrics = createMetrics();
  const parsers = bodyParsers(config.http.bodyLimit);
  const accounts = createAccounts(() => config.accounts);
  const sessions = createSessionManager({
    store,
    secret: config.secret,
    secure,
    idleTimeoutMs: config.login.sessionIdleMs,
    absoluteTimeoutMs: config.login.sessionMaxMs,
  });
  const oauth = createAuthorizationServer({
    config,
    store,
    logger,
    sessions,
    upstreams: () => config.upstreams,
    parsers,
    people: { current: async (person) => (person.idp === 'local' ? accounts.lookup(person.username ?? '') : person) },
    metadataDocumentCa: deps.metadataDocumentCa,
  });
  const apps = createApps({ config, oauth, sessions, logger });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.http.trustProxy);
  app.set('query parser', 'simple');

  app.use(requestContext(logger));
  app.use(metrics.middleware);
  app.use(securityHeaders({ https: secure }));
  // Before anything that reads bodies (the proxy streams them), and before the portal's own routes
  // (a host-routed app owns its whole host).
  app.use(apps.proxyRouter);
  app.use(apps.router);
  app.use(healthRoutes({ store, metrics }));
  app.use(oauth.router);
  app.use(
    loginRoutes({
      accounts,
      sessions,
      secret: config.secret,
      secure,
      form: parsers.form,
      perIp: createRateLimit(store, { name: 'login-ip', limit: config.rateLimits.loginPerMinute, windowMs: 60_000 }),
      perAccount: createRateLimit(store, { name: 'login-account', limit: config.rateLimits.loginPerMinute, windowMs: 15 * 60_000 }),
    }),
  );
  const mcp = createMcpEndpoints({
    oauth,
    store,
    logger,
    json: parsers.json,
    version: VERSION,
    upstreams: () => config.upstreams,
    fetchAppPage: apps.fetchPage,
  });
  app.use(mcp.router);

  app.use((req) => {
    throw new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(logger));
  return {
    app,
    oauth,
    apps,
    onUpgrade: apps.onUpgrade,
    close: () => {
      apps.close();
      return mcp.close();
    },
  };
}

/** The portal's request handler (see {@link createPortal}). */
export function createApp(deps: AppDeps): Express {
  return createPortal(deps).app;
}
