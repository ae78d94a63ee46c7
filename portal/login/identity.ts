import type { Router } from 'express';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import { createRateLimit } from '../http/rate-limit.js';
import type { Store } from '../store/store.js';
import type { Accounts } from './accounts.js';
import { createIdpClient } from './idp-client.js';
import { createIdpPeople } from './idp-people.js';
import { idpRoutes } from './idp-routes.js';
import type { LoginRoutesOptions } from './login-routes.js';
import { createPendingLogins } from './pending-logins.js';
import { createPeople, type People } from './people.js';
import type { SessionManager } from './sessions.js';

/** A pending IdP sign-in is answered within this long, or not at all. */
export const PENDING_LOGIN_TTL_MS = 10 * 60_000;

export interface Identity {
  /** Who a person is now, for refresh, app sessions and the admin API. */
  people: People;
  /** `GET /login/{idp}` and `GET /login/{idp}/callback`. */
  router: Router;
  /** What the sign-in page offers: the built-in form or not, and the IdP buttons. */
  loginOptions: Pick<LoginRoutesOptions, 'builtin' | 'idps'>;
}

/** Wires sign-in through `login.idps` and the "who is this person now" lookup over both kinds of account. */
export function createIdentity(deps: {
  config: Config;
  store: Store;
  accounts: Accounts;
  sessions: SessionManager;
  clock?: Clock;
}): Identity {
  const { config, store, clock } = deps;
  const clients = config.login.idps.map((idp) => createIdpClient(idp, { clock }));
  const idpPeople = createIdpPeople({ store, idps: () => config.login.idps, clock });
  return {
    people: createPeople({ accounts: deps.accounts, idpPeople, builtin: () => config.login.builtin }),
    router: idpRoutes({
      issuer: config.issuer,
      secure: config.issuer.startsWith('https:'),
      idps: clients,
      pending: createPendingLogins({ store, ttlMs: PENDING_LOGIN_TTL_MS }),
      idpPeople,
      sessions: deps.sessions,
      // Its own counter: each start holds a pending record, but is no password guess.
      perIp: createRateLimit(store, { name: 'login-idp-ip', limit: config.rateLimits.loginPerMinute, windowMs: 60_000 }),
      clock,
    }),
    loginOptions: {
      builtin: config.login.builtin,
      idps: config.login.idps.map((idp) => ({ id: idp.id, title: idp.title ?? idp.id, primary: idp.primary })),
    },
  };
}
