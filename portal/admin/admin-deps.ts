import type { Logger } from 'pino';
import type { Audit } from '../audit/audit.js';
import type { Config } from '../config/load.js';
import type { SessionManager } from '../login/sessions.js';
import type { People } from '../login/people.js';
import type { BearerGuard } from '../oauth/authorization-server.js';
import type { ClientRegistry } from '../oauth/clients.js';
import type { GrantStore } from '../oauth/grant-store.js';
import type { ResourceCatalog } from '../oauth/resources.js';
import type { ToolPins } from '../governance/tool-pins.js';
import type { Store } from '../store/store.js';
import type { GrantUsage } from './grant-usage.js';
import type { UpstreamRegistry } from './upstream-registry.js';

/** What the admin API and the admin page are built from. */
export interface AdminDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** The bearer check of the admin API. */
  bearer: Pick<BearerGuard, 'requireBearer'>;
  /** The portal's protected resources: a token for any of them may call the admin API. */
  resources: Pick<ResourceCatalog, 'all'>;
  /** Who a caller is now: admin rights follow the current account. */
  people: Pick<People, 'current'>;
  grants: GrantStore;
  clients: ClientRegistry;
  sessions: SessionManager;
  upstreams: UpstreamRegistry;
  audit: Audit;
  usage: GrantUsage;
  /** Pinned tool definitions: admins see held tools and approve or reject them. */
  pins: ToolPins;
  parsers: { json: import('express').RequestHandler; form: import('express').RequestHandler };
}
