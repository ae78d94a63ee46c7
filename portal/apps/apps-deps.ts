import type { UpstreamConfig } from '../config/schema.js';
import type { CredentialMinter } from '../credentials/credential-minter.js';
import type { People } from '../login/people.js';
import type { SessionManager } from '../login/sessions.js';
import type { BearerGuard } from '../oauth/authorization-server.js';
import type { ResourceCatalog } from '../oauth/resources.js';
import type { Store } from '../store/store.js';
import type { AppProxies } from './app-mounts.js';
import type { MarkdownCache } from './markdown-cache.js';

/** What the HTTP-app capability is built from (see `createApps`). */
export interface AppsDeps {
  issuer: string;
  store: Store;
  /** The bearer check of agents' requests (and of the API catalog). */
  bearer: BearerGuard;
  /** The portal's protected resources: the audiences an app and the catalog accept. */
  resources: Pick<ResourceCatalog, 'aggregate' | 'all'>;
  /** Who a signed-in person is now. */
  people: Pick<People, 'current'>;
  sessions: SessionManager;
  /** The credential headers each upstream gets for the caller (portal-jwt's `Gatehouse-Assertion`, `oauth`, `static`…). */
  credentials: CredentialMinter;
  proxies: AppProxies;
  /** The current upstreams (the admin API may change them). */
  upstreams: () => readonly UpstreamConfig[];
  /** Largest HTML page converted to Markdown (default 2 MiB); larger pages are served as HTML. */
  maxMarkdownBytes?: number;
  /** Converted pages (per process), by the upstream's validators and, for private pages, by caller. */
  markdownCache: MarkdownCache;
}
