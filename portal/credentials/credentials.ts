import type { RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { UpstreamConfig } from '../config/schema.js';
import { createSealer } from '../crypto/seal.js';
import type { SessionManager } from '../login/sessions.js';
import type { Store } from '../store/store.js';
import { connectRoutes } from './connect-routes.js';
import { createExchangedTokens } from './exchanged-tokens.js';
import { createUpstreamAccounts } from './upstream-accounts.js';
import { createUpstreamConnections, type UpstreamConnections } from './connections.js';
import type { CredentialSources } from './upstream-credentials.js';
import { createUpstreamOAuth } from './upstream-oauth.js';
import { createUpstreamTokenStore } from './upstream-tokens.js';

/** The per-upstream credential strategies beyond the portal's own assertions. */
export interface Credentials {
  /** What `upstreamCredentialHeaders` draws on for `oauth` and `static` upstreams. */
  sources: CredentialSources;
  /** People's connections to `oauth` upstreams: the `/connections` page lists and disconnects them here. */
  connections: UpstreamConnections;
  /** `/connect/{id}` (a new account, or `?account=` to re-connect one), its callback, and disconnect. */
  router: Router;
}

/** Builds the credential strategies; does no I/O. */
export function createCredentials(deps: {
  config: Config;
  store: Store;
  logger: Logger;
  sessions: SessionManager;
  form: RequestHandler;
  upstreams: () => UpstreamConfig[];
  /** Where `token-exchange` credentials read their client secret or private key. */
  env: NodeJS.ProcessEnv;
  /** When upstream tokens expire (default the real time). */
  clock?: Clock;
}): Credentials {
  const { config, store, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const oauth = createUpstreamOAuth({
    store,
    sealer: createSealer(config.secret, 'upstream-clients'),
    portalIssuer: config.issuer,
    allowPrivateAddresses: config.upstreamOAuth.allowPrivateAddresses,
    clock,
  });
  const tokens = createUpstreamTokenStore(store, createSealer(config.secret, 'upstream-tokens'));
  const connections = createUpstreamConnections({
    issuer: config.issuer,
    store,
    tokens,
    accounts: createUpstreamAccounts(store, tokens, clock),
    oauth,
    logger,
    upstreams: deps.upstreams,
    clock,
  });
  const router = connectRoutes({
    issuer: config.issuer,
    secret: config.secret,
    store,
    sealer: createSealer(config.secret, 'upstream-connect'),
    sessions: deps.sessions,
    connections,
    oauth,
    logger,
    upstreams: deps.upstreams,
    form: deps.form,
  });
  const exchangedTokens = createExchangedTokens({ env: deps.env, logger, clock });
  return { sources: { connections, staticSecrets: config.upstreamSecrets, exchangedTokens, logger }, connections, router };
}
