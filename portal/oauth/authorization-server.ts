import { Router, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import { createRateLimit } from '../http/rate-limit.js';
import type { People } from '../login/people.js';
import type { SessionManager } from '../login/sessions.js';
import type { Store } from '../store/store.js';
import { createAccessTokens } from './access-tokens.js';
import { createAssertionLedger } from './assertion-ledger.js';
import { createAuthorizationCodes } from './authorization-codes.js';
import { createAuthorizationRequests } from './authorization-requests.js';
import { authorizeRoutes } from './authorize.js';
import { authenticateBearer, requireBearer, type BearerOptions } from './bearer.js';
import { createClientAssertions } from './client-assertion.js';
import { consentRoutes } from './consent.js';
import { deviceAuthorizationRoutes } from './device-authorization.js';
import { createDeviceAuthorizations } from './device-authorizations.js';
import { deviceRoutes } from './device-routes.js';
import type { ClientRegistry } from './clients.js';
import type { Consents } from './consents.js';
import type { OAuthDeps } from './deps.js';
import type { GrantStore } from './grant-store.js';
import type { ResourceCatalog } from './resources.js';
import type { SigningKeys } from './signing-keys.js';
import { createDpopProofs } from './dpop-proof.js';
import { introspectRoutes } from './introspect.js';
import { metadataRoutes } from './metadata.js';
import { createRefreshTokens } from './refresh-tokens.js';
import { createRemoteKeys } from './remote-keys.js';
import { revokeRoutes } from './revoke.js';
import { registerRoutes } from './register.js';
import { tokenRoutes } from './token.js';
import { inSpan } from '../tracing/spans.js';

/**
 * What the authorization server is built from. The state other capabilities read too (keys,
 * grants, clients, resources, people) is built by `createPortal` and handed in, so that each of
 * them gets only what it needs, never this server's internals.
 */
export interface AuthorizationServerOptions {
  config: Config;
  store: Store;
  logger: Logger;
  sessions: SessionManager;
  parsers: { json: RequestHandler; form: RequestHandler };
  people: Pick<People, 'current'>;
  keys: SigningKeys;
  consents: Consents;
  grants: GrantStore;
  clients: ClientRegistry;
  resources: ResourceCatalog;
  /** People's own accounts at `oauth` upstreams, for the consent page. */
  connections: OAuthDeps['connections'];
  /** Where tokens, codes, grants and caches read the time (default the real time). */
  clock?: Clock;
}

/** The bearer check of protected routes, for the capabilities that serve them. */
export interface BearerGuard {
  /** Express middleware: the bearer check of a route (see `requireBearer` in `bearer.ts`). */
  requireBearer(options: BearerOptions): RequestHandler;
  /** The same check for routes served outside express (the MCP endpoint, agents' app requests). */
  authenticate(
    req: Parameters<typeof authenticateBearer>[1],
    check: Parameters<typeof authenticateBearer>[2],
  ): ReturnType<typeof authenticateBearer>;
}

/** The portal's OAuth 2.1 authorization server: its routes, and the bearer check for protected routes. */
export interface AuthorizationServer extends BearerGuard {
  router: Router;
}

export function createAuthorizationServer(options: AuthorizationServerOptions): AuthorizationServer {
  const { config, store, logger } = options;
  const issuer = config.issuer;
  const { keys, grants, clients, resources } = options;
  const clock = options.clock ?? systemClock;
  const remoteKeys = createRemoteKeys();
  const assertions = createAssertionLedger(store, clock);
  const deps: OAuthDeps = {
    config,
    issuer,
    store,
    logger,
    clock,
    keys,
    accessTokens: createAccessTokens({ issuer, keys, clock }),
    refreshTokens: createRefreshTokens({ store, graceMs: config.tokens.refreshReuseGraceMs, clock }),
    dpop: createDpopProofs({ store, clock }),
    codes: createAuthorizationCodes({ store, ttlMs: config.tokens.codeTtlMs }),
    requests: createAuthorizationRequests({ store, ttlMs: 10 * 60_000, clock }),
    deviceAuthorizations: createDeviceAuthorizations({
      store,
      ttlMs: config.tokens.deviceCodeTtlMs,
      intervalMs: config.tokens.devicePollIntervalMs,
      clock,
    }),
    consents: options.consents,
    grants,
    clients,
    remoteKeys,
    assertions,
    clientAssertions: createClientAssertions({ issuer, remoteKeys, ledger: assertions, clock }),
    resources,
    sessions: options.sessions,
    limits: {
      register: createRateLimit(store, { name: 'register', limit: config.rateLimits.registerPerMinute, windowMs: 60_000 }),
      token: createRateLimit(store, { name: 'token', limit: config.rateLimits.tokenPerMinute, windowMs: 60_000 }),
      userCode: createRateLimit(store, { name: 'user-code', limit: config.rateLimits.userCodePerMinute, windowMs: 60_000 }),
      tokenPerClient: createRateLimit(store, { name: 'token-client', limit: config.rateLimits.tokenPerClientPerMinute, windowMs: 60_000 }),
    },
    parsers: options.parsers,
    people: options.people,
    connections: options.connections,
  };
  const router = Router();
  for (const routes of [
    metadataRoutes,
    registerRoutes,
    authorizeRoutes,
    consentRoutes,
    tokenRoutes,
    revokeRoutes,
    introspectRoutes,
    deviceAuthorizationRoutes,
    deviceRoutes,
  ]) {
    router.use(routes(deps));
  }
  return {
    router,
    requireBearer: (bearerOptions) => requireBearer(deps, bearerOptions),
    authenticate: (req, check) => inSpan('bearer check', {}, () => authenticateBearer(deps, req, check)),
  };
}
