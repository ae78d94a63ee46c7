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
import { contextOf, requestContext, requestPath } from './http/request-context.js';
import { securityHeaders } from './http/security-headers.js';
import { createAccounts } from './login/accounts.js';
import { createIdentity } from './login/identity.js';
import { loginRoutes } from './login/login-routes.js';
import { createSessionManager } from './login/sessions.js';
import { createMcpEndpoints, mcpEndpointOf } from './mcp/mcp-endpoints.js';
import { APPS_PREFIX, appForHost } from './apps/app-mounts.js';
import { createAuthorizationServer, type AuthorizationServer } from './oauth/authorization-server.js';
import { createClientMetadataDocuments } from './oauth/client-metadata-document.js';
import { createClientRegistry, type ClientRegistry } from './oauth/clients.js';
import { createConsents, type Consents } from './oauth/consents.js';
import { createGrantStore, type GrantStore } from './oauth/grant-store.js';
import { createResourceCatalog } from './oauth/resources.js';
import { createSigningKeys, type SigningKeys } from './oauth/signing-keys.js';
import type { People } from './login/people.js';
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
import { createCredentialMinter, type CredentialMinter } from './credentials/credential-minter.js';
import { createCredentials } from './credentials/credentials.js';
import { createPortalAssertions } from './credentials/portal-jwt.js';
import type { UpstreamConnections } from './credentials/connections.js';
import { startTracing } from './tracing/otlp.js';
import { requestSpan } from './tracing/spans.js';
import { PORTAL_VERSION } from './version.js';

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
  /** The authorization server's routes and the bearer check of protected routes. */
  oauth: AuthorizationServer;
  /** The portal's signing keys (its JWKS): what its access tokens and upstream assertions are signed with. */
  keys: SigningKeys;
  /** What people allowed agents; revoking one revokes everything issued under it. */
  grants: GrantStore;
  /** Remembered consents, forgotten when their grant is revoked. */
  consents: Consents;
  /** Registered, configured and metadata-document OAuth clients. */
  clients: ClientRegistry;
  /** Who a person is now (accounts and IdP claims change). */
  people: People;
  /** What the portal sends each upstream for a caller (portal-jwt assertions, people's own tokens, secrets). */
  credentials: CredentialMinter;
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

/**
 * Wires the portal: request context, metrics, security headers, capability routes, one error
 * mapping. The MCP endpoints and agents' requests to path-routed apps (the two hot paths) are
 * served on `node:http` directly, with the same per-request steps and error mapping as the express
 * app that serves everything else.
 */
export function createPortal(deps: AppDeps): Portal {
  const { config, store, logger, clock } = deps;
  const secure = config.issuer.startsWith('https:');
  const tracing = startTracing(deps.env ?? process.env, { version: PORTAL_VERSION, logger });
  const metrics = createMetrics();
  const parsers = bodyParsers(config.http);
  const audit = createAudit({
    store,
    secret: config.secret,
    config: config.audit,
    logger,
    stdout: deps.auditStdout,
    observe: metrics.observeAuditEvent,
  });
  // Config-file upstreams plus those added through the admin API, live on every process.
  const upstreams = createUpstreamRegistry({
    issuer: config.issuer,
    store,
    logger,
    configured: () => config.upstreams,
    env: deps.env ?? process.env,
  });
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
  const credentials = createCredentials({
    config,
    store,
    logger,
    sessions,
    form: parsers.form,
    upstreams: upstreams.all,
    env: deps.env ?? process.env,
    clock,
  });
  // The authorization server's state that other capabilities read too: each gets only what it needs.
  const keys = createSigningKeys({
    clock,
    store,
    secret: config.secret,
    rotateAfterMs: config.tokens.keyRotationMs,
    retainAfterRotationMs: config.tokens.accessTtlMs + 60_000,
  });
  const consents = createConsents({ store, ttlMs: config.tokens.refreshTtlMs, clock });
  const grants = createGrantStore(store, consents);
  const clients = createClientRegistry({
    store,
    serviceClients: config.serviceClients,
    unusedClientTtlMs: config.clients.unusedTtlMs,
    clock,
    metadataDocuments: createClientMetadataDocuments({
      allowPrivateAddresses: config.clients.allowPrivateMetadataAddresses,
      privateUseSchemes: config.clients.privateUseSchemes,
      ca: deps.metadataDocumentCa,
      clock,
      onError: (clientId, reason) => logger.warn({ clientId, reason }, 'client metadata document rejected'),
    }),
  });
  const resources = createResourceCatalog({ issuer: config.issuer, upstreams: upstreams.all });
  const people = identity.people;
  const oauth = createAuthorizationServer({
    config,
    store,
    logger,
    sessions,
    parsers,
    people,
    keys,
    consents,
    grants,
    clients,
    resources,
    connections: credentials.connections,
    clock,
  });
  // Tool definitions pinned at first sight (rug-pull protection): the MCP endpoints check, admins approve.
  const pins = createToolPins({ store, logger, audit: (input) => audit.record(input) });
  const quotas = createToolQuotas({ store, onRefused: metrics.toolQuotaRefused });
  // Calls to sensitive tools wait for their person, who decides on /approve/{request}.
  const approvals = createToolApprovals({ store, sealer: createSealer(config.secret, 'tool-approval'), issuer: config.issuer });
  // One minter (and one cache of portal assertions) for every path to an upstream.
  const minter = createCredentialMinter({
    assertions: createPortalAssertions({ issuer: config.issuer, keys, clock }),
    sources: credentials.sources,
  });
  const apps = createApps({
    config,
    store,
    logger,
    sessions,
    bearer: oauth,
    resources,
    people,
    credentials: minter,
    upstreams: upstreams.all,
  });

  const trust = compileTrustProxy(config.http.trustProxy);
  // The admin-defined upstreams load once per process; until the store answers, the config's are served.
  const upstreamsReady = () => upstreams.ready().catch(() => {});
  // What every request gets, in express and on the MCP endpoints alike.
  const contextStep = requestContext(logger);
  const afterContext: Middleware[] = [
    requestSpan,
    singleHostHeader,
    requestAudit(audit, trust),
    usage.middleware,
    metrics.middleware,
    securityHeaders({ https: secure }),
  ];
  const perRequest: Middleware[] = [contextStep, ...afterContext];
  // Outside express no route matches: the request is labelled (metrics, span name) as soon as it has a context.
  const perRequestAt = (route: string): Middleware[] => {
    const label: Middleware = (req, _res, next) => {
      contextOf(req).metricsRoute = route;
      next();
    };
    return [contextStep, label, ...afterContext];
  };

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
    bearer: oauth,
    resources,
    issuer: config.issuer,
    store,
    logger,
    json: parsers.json,
    secret: config.secret,
    version: PORTAL_VERSION,
    upstreams: upstreams.all,
    fetchAppPage: apps.fetchPage,
    allowedOrigins: config.mcp.allowedOrigins,
    credentials: minter,
    connections: credentials.connections,
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
  app.use(
    approvalRoutes({ issuer: config.issuer, secret: config.secret, sessions, approvals, upstreams: upstreams.all, form: parsers.form }),
  );
  const adminDeps: AdminDeps = {
    config,
    store,
    logger,
    bearer: oauth,
    resources,
    people,
    grants,
    clients,
    sessions,
    upstreams,
    audit,
    usage,
    parsers,
    pins,
  };
  app.use(adminApi(adminDeps));
  app.use(adminPageRoutes(adminDeps));
  app.use(connectionsRoutes({ config, sessions, grants, resources, usage, parsers, connections: credentials.connections }));
  app.use(homeRoutes({ config, sessions, people, upstreams, pins, approvals, connections: credentials.connections }));

  app.use((req) => {
    throw new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(logger));

  async function serveMcp(req: Parameters<RequestListener>[0], res: Parameters<RequestListener>[1], endpoint: string): Promise<void> {
    try {
      await upstreamsReady();
      // A host-routed app owns its whole host, `/mcp` included.
      if (appForHost(upstreams.all(), req.headers.host)) return void app(req, res);
      // The endpoint runs as the chain's last step, inside what the steps set up (the request's span).
      const handle: Middleware = async (_req, _res, next) => {
        await mcp.handle(req, res, endpoint);
        next();
      };
      await runMiddleware([...perRequestAt(endpoint === 'aggregate' ? '/mcp' : '/mcp/:id'), handle], req, res);
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
      await runMiddleware(perRequestAt('/apps/:id'), req, res);
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
    keys,
    grants,
    consents,
    clients,
    people,
    credentials: minter,
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
