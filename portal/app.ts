import type { RequestListener } from 'node:http';
import express from 'express';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config/load.js';
import type { Store } from './store/store.js';
import { bodyParsers } from './http/body.js';
import { compileTrustProxy } from './http/client-ip.js';
import { errorHandler, HttpError, writeError } from './http/errors.js';
import { singleHostHeader } from './http/host-header.js';
import { healthRoutes } from './http/health.js';
import { createMetrics } from './http/metrics.js';
import { createRateLimit } from './http/rate-limit.js';
import { runMiddleware, type Middleware } from './http/middleware.js';
import { requestContext, requestPath } from './http/request-context.js';
import { securityHeaders } from './http/security-headers.js';
import { createAccounts } from './login/accounts.js';
import { createIdentity } from './login/identity.js';
import { loginRoutes } from './login/login-routes.js';
import { createSessionManager } from './login/sessions.js';
import { createMcpEndpoints, mcpEndpointOf } from './mcp/mcp-endpoints.js';
import { APPS_PREFIX, appForHost } from './apps/app-mounts.js';
import { createAuthorizationServer, type AuthorizationServer } from './oauth/authorization-server.js';
import { createApps, type Apps } from './apps/apps.js';
import type { Writable } from 'node:stream';
import { createAudit, type Audit } from './audit/audit.js';
import { requestAudit } from './audit/request-audit.js';
import { adminApi } from './admin/admin-api.js';
import type { AdminDeps } from './admin/admin-deps.js';
import { adminPageRoutes } from './admin/admin-page-routes.js';
import { createGrantUsage } from './admin/grant-usage.js';
import { createUpstreamRegistry, type UpstreamRegistry } from './admin/upstream-registry.js';
import { connectionsRoutes } from './connections/connections-routes.js';
import { homeRoutes } from './home/home-routes.js';
import { createToolPins } from './governance/tool-pins.js';
import { createToolQuotas } from './governance/tool-quotas.js';
import { createToolApprovals } from './governance/tool-approvals.js';
import { approvalRoutes } from './governance/approval-routes.js';
import { createSealer } from './crypto/seal.js';
import { createCredentials } from './credentials/credentials.js';
import type { UpstreamConnections } from './credentials/connections.js';
import { startTracing } from './tracing/otlp.js';
import { requestSpan } from './tracing/spans.js';

/** What a portal is built from; `createPortal` does no I/O, so tests build a portal in one call. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** Extra trusted CAs (PEM) for fetching client metadata documents. */
  metadataDocumentCa?: string | string[];
  /** Where `audit.stdout` writes audit lines (default `process.stdout`). */
  auditStdout?: Writable;
  /** The environment the config was resolved against (default `process.env`): admin-API `static` upstreams name variables in it. */
  env?: NodeJS.ProcessEnv;
  /** Where the portal reads the time: expiry of tokens, codes, sessions and caches (default the real time). */
  clock?: Clock;
}

export interface Portal {
  /** The HTTP request listener: `http.createServer(portal.handle)`. */
  handle: RequestListener;
  oauth: AuthorizationServer;
  /** HTTP apps: `apps.fetchPage` serves the MCP aggregate's `{id}__fetch`. */
  apps: Apps;
  /** The HTTP server's `'upgrade'` listener (WebSockets to apps): `server.on('upgrade', portal.onUpgrade)`. */
  onUpgrade: Apps['onUpgrade'];
  /** The audit log: `audit.record(...)`, `audit.flush()`. */
  audit: Audit;
  /** Config and admin-API upstreams. */
  upstreams: UpstreamRegistry;
  /** People's own accounts at `oauth` upstreams: `listConnections(person)`, `disconnect(person, id)`. */
  connections: UpstreamConnections;
  /** Closes upstream connections and processes (call after the HTTP server stopped). */
  close(): Promise<void>;
}

const VERSION = '0.1.0';

/**
 * Wires the portal: request context, metrics, security headers, capability routes, one error
 * mapping. The MCP endpoints and agents' requests to path-routed apps (the two hot paths) are
 * served on `node:http` directly, with the same per-request steps and error mapping as the express
 * app that serves everything else.
 */
export function createPortal(deps: AppDeps): Portal {
  const { config, store, logger, clock } = deps;
  const secure = config.issuer.startsWith('https:');
  const tracing = startTracing(deps.env ?? process.env, { version: VERSION, logger });
  const metrics = createMetrics();
  const parsers = bodyParsers(config.http);
  const audit = createAudit({ store, secret: config.secret, config: config.audit, logger, stdout: deps.auditStdout, observe: metrics.observeAuditEvent });
  // Config-file upstreams plus those added through the admin API, live on every process.
  const upstreams = createUpstreamRegistry({ issuer: config.issuer, store, logger, configured: () => config.upstreams, env: deps.env ?? process.env });
  const usage = createGrantUsage({ store, ttlMs: config.tokens.refreshTtlMs, clock });
  const accounts = createAccounts(() => config.accounts);
  const sessions = createSessionManager({
    store,
    secret: config.secret,
    secure,
    idleTimeoutMs: config.login.sessionIdleMs,
    absoluteTimeoutMs: config.login.sessionMaxMs,
    clock,
  });
  const identity = createIdentity({ config, store, accounts, sessions, clock });
  const credentials = createCredentials({ config, store, logger, sessions, form: parsers.form, upstreams: upstreams.all, env: deps.env ?? process.env, clock });
  const oauth = createAuthorizationServer({
    config,
    store,
    logger,
    sessions,
    upstreams: upstreams.all,
    parsers,
    people: identity.people,
    metadataDocumentCa: deps.metadataDocumentCa,
    connections: credentials.connections,
    clock,
  });
  // Tool definitions pinned at first sight (rug-pull protection): the MCP endpoints check, admins approve.
  const pins = createToolPins({ store, logger, audit: (input) => audit.record(input) });
  const quotas = createToolQuotas({ store, onRefused: metrics.toolQuotaRefused });
  // Calls to sensitive tools wait for their person, who decides on /approve/{request}.
  const approvals = createToolApprovals({ store, sealer: createSealer(config.secret, 'tool-approval'), issuer: config.issuer });
  const apps = createApps({ config, oauth, sessions, logger, upstreams: upstreams.all, credentials: credentials.sources });

  const trust = compileTrustProxy(config.http.trustProxy);
  // The admin-defined upstreams load once per process; until the store answers, the config's are served.
  const upstreamsReady = () => upstreams.ready().catch(() => {});
  // What every request gets, in express and on the MCP endpoints alike.
  const perRequest: Middleware[] = [requestContext(logger), requestSpan, singleHostHeader, requestAudit(audit, trust), usage.middleware, metrics.middleware, securityHeaders({ https: secure })];

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trust);
  app.set('query parser', 'simple');
  app.use(async (_req, _res, next) => {
    await upstreamsReady();
    next();
  });
  for (const step of perRequest) app.use(step);
  // Before anything that reads bodies (the proxy streams them), and before the portal's own routes
  // (a host-routed app owns its whole host).
  app.use(apps.proxyRouter);
  app.use(apps.router);
  const mcp = createMcpEndpoints({
    oauth,
    store,
    logger,
    json: parsers.json,
    secret: config.secret,
    version: VERSION,
    upstreams: upstreams.all,
    fetchAppPage: apps.fetchPage,
    allowedOrigins: config.mcp.allowedOrigins,
    credentials: credentials.sources,
    pins,
    quotas,
    approvals,
    maxToolNameLength: config.aggregate.maxToolNameLength,
    toolMode: config.aggregate.toolMode,
  });
  app.use(healthRoutes({ store, metrics }));
  app.use(oauth.router);
  app.use(
    loginRoutes({
      accounts,
      sessions,
      secret: config.secret,
      issuer: config.issuer,
      secure,
      form: parsers.form,
      perIp: createRateLimit(store, { name: 'login-ip', limit: config.rateLimits.loginPerMinute, windowMs: 60_000 }),
      perAccount: createRateLimit(store, { name: 'login-account', limit: config.rateLimits.loginPerMinute, windowMs: 15 * 60_000 }),
      ...identity.loginOptions,
    }),
  );
  app.use(identity.router);
  app.use(credentials.router);
  app.use(approvalRoutes({ issuer: config.issuer, secret: config.secret, sessions, approvals, upstreams: upstreams.all, form: parsers.form }));
  const adminDeps: AdminDeps = { config, store, logger, oauth, sessions, upstreams, audit, usage, parsers, pins };
  app.use(adminApi(adminDeps));
  app.use(adminPageRoutes(adminDeps));
  app.use(connectionsRoutes({ ...adminDeps, connections: credentials.connections }));
  app.use(homeRoutes({ ...adminDeps, connections: credentials.connections }));

  app.use((req) => {
    throw new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(logger));

  async function serveMcp(req: Parameters<RequestListener>[0], res: Parameters<RequestListener>[1], endpoint: string): Promise<void> {
    try {
      await upstreamsReady();
      // A host-routed app owns its whole host, `/mcp` included.
      if (appForHost(upstreams.all(), req.headers.host)) return void app(req, res);
      req.metricsRoute = endpoint === 'aggregate' ? '/mcp' : '/mcp/:id';
      // The endpoint runs as the chain's last step, inside what the steps set up (the request's span).
      const handle: Middleware = async (_req, _res, next) => {
        await mcp.handle(req, res, endpoint);
        next();
      };
      await runMiddleware([...perRequest, handle], req, res);
    } catch (error) {
      writeError(req, res, error, { logger });
    }
  }

  // An agent's request to a path-routed app: the proxy's hot path, with no express layers on it.
  async function serveAgentApp(req: Parameters<RequestListener>[0], res: Parameters<RequestListener>[1]): Promise<void> {
    try {
      await upstreamsReady();
      const upstream = apps.agentAppOf(req);
      if (!upstream) return void app(req, res);
      req.metricsRoute = '/apps/:id';
      await runMiddleware(perRequest, req, res);
      await apps.serveAgent(req, res, upstream);
    } catch (error) {
      writeError(req, res, error, { logger });
    }
  }

  return {
    handle: (req, res) => {
      const path = requestPath(req);
      const endpoint = mcpEndpointOf(path);
      if (endpoint !== undefined) void serveMcp(req, res, endpoint);
      else if (path.startsWith(`${APPS_PREFIX}/`) && req.headers.authorization) void serveAgentApp(req, res);
      else app(req, res);
    },
    oauth,
    apps,
    onUpgrade: apps.onUpgrade,
    audit,
    upstreams,
    connections: credentials.connections,
    close: async () => {
      apps.close();
      await mcp.close();
      await pins.close();
      await upstreams.close();
      await audit.close();
      await tracing?.shutdown();
    },
  };
}
