import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Router } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { UpstreamConfig } from '../config/schema.js';
import { apiCatalogRoutes } from './api-catalog.js';
import { createAppProxies } from './app-mounts.js';
import { agentAppOf, appRoutes, serveAgentAppRequest } from './app-routes.js';
import { appUpgradeHandler } from './app-upgrade.js';
import type { AppsDeps } from './apps-deps.js';
import { createMarkdownCache } from './markdown-cache.js';
import { fetchAppPage, type AppPage, type FetchAppPageOptions } from './fetch-page.js';
import { hostSignInRoutes } from './host-session.js';

/** The HTTP-app capability of the portal. */
export interface Apps {
  /** Proxied apps (by host and under `/apps/{id}`): mount before any body parser. */
  proxyRouter: Router;
  /** The path-routed app an agent's request (one with `Authorization`) is for, if the portal serves it on `node:http` directly: the hot path. */
  agentAppOf(req: IncomingMessage): UpstreamConfig | undefined;
  /** Serves an agent's request to the app {@link Apps.agentAppOf} named; rejects with the `HttpError` to answer. */
  serveAgent(req: IncomingMessage, res: ServerResponse, upstream: UpstreamConfig): Promise<void>;
  /** `/.well-known/api-catalog` and the host-routed sign-in hand-off (`/app-login/{id}`). */
  router: Router;
  /** The server's `'upgrade'` listener: WebSockets to apps, for signed-in people from the app's own origin and for agents with a bearer token. */
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** {@link fetchAppPage} with the portal's deps bound: for the MCP aggregate's `{id}__fetch` and app resources. */
  fetchPage(upstream: UpstreamConfig, path: string, options: FetchAppPageOptions): Promise<AppPage>;
  /** Closes idle upstream connections. */
  close(): void;
}

/** What the HTTP-app capability is built from: the portal's collaborators it uses, as `createPortal` builds them. */
export interface AppsOptions extends Pick<AppsDeps, 'store' | 'bearer' | 'resources' | 'people' | 'sessions' | 'credentials'> {
  config: Config;
  logger: Logger;
  /** The current upstreams (default: the config's). */
  upstreams?: () => readonly UpstreamConfig[];
}

/** Builds the HTTP-app capability; does no I/O. */
export function createApps(options: AppsOptions): Apps {
  const { config } = options;
  const deps: AppsDeps = {
    issuer: config.issuer,
    store: options.store,
    bearer: options.bearer,
    resources: options.resources,
    people: options.people,
    sessions: options.sessions,
    credentials: options.credentials,
    proxies: createAppProxies({ trustForwarded: Boolean(config.http.trustProxy) }),
    upstreams: options.upstreams ?? (() => config.upstreams),
    markdownCache: createMarkdownCache(),
  };
  const router = Router();
  router.use(apiCatalogRoutes(deps));
  router.use(hostSignInRoutes(deps));
  return {
    proxyRouter: appRoutes(deps),
    agentAppOf: (req) => agentAppOf(deps, req),
    serveAgent: (req, res, upstream) => serveAgentAppRequest(deps, upstream, req, res),
    router,
    onUpgrade: appUpgradeHandler(deps, (error) => options.logger.error({ err: error }, 'app upgrade failed')),
    fetchPage: (upstream, path, fetchOptions) => fetchAppPage(deps, upstream, path, fetchOptions),
    close: () => deps.proxies.close(),
  };
}
