import type { Logger } from 'pino';
import type { Audit } from '../audit/audit.js';
import type { Config } from '../config/load.js';
import type { SessionManager } from '../login/sessions.js';
import type { AuthorizationServer } from '../oauth/authorization-server.js';
import type { ToolPins } from '../governance/tool-pins.js';
import type { Store } from '../store/store.js';
import type { GrantUsage } from './grant-usage.js';
import type { UpstreamRegistry } from './upstream-registry.js';

/** What the admin API, the admin page and the connections page are built from. */
export interface AdminDeps {
  config: Config;
  store: Store;
  logger: Logger;
  oauth: AuthorizationServer;
  sessions: SessionManager;
  upstreams: UpstreamRegistry;
  audit: Audit;
  usage: GrantUsage;
  /** Pinned tool definitions: admins see held tools and approve or reject them. */
  pins: ToolPins;
  parsers: { json: import('express').RequestHandler; form: import('express').RequestHandler };
}
