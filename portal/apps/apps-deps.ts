import type { UpstreamConfig } from '../config/schema.js';
import type { PortalAssertions } from '../credentials/portal-jwt.js';
import type { CredentialSources } from '../credentials/upstream-credentials.js';
import type { SessionManager } from '../login/sessions.js';
import type { AuthorizationServer } from '../oauth/authorization-server.js';
import type { Store } from '../store/store.js';
import type { AppProxies } from './app-mounts.js';
import type { MarkdownCache } from './markdown-cache.js';

/** What the HTTP-app capability is built from (see `createApps`). */
export interface AppsDeps {
  issuer: string;
  store: Store;
  oauth: AuthorizationServer;
  sessions: SessionManager;
  /** Mints the `Gatehouse-Assertion` (portal-jwt) for each request. */
  assertions: PortalAssertions;
  /** The `oauth` and `static` strategies; without them only portal-jwt and none work. */
  credentials?: CredentialSources;
  proxies: AppProxies;
  /** The current upstreams (the admin API may change them). */
  upstreams: () => readonly UpstreamConfig[];
  /** Largest HTML page converted to Markdown (default 2 MiB); larger pages are served as HTML. */
  maxMarkdownBytes?: number;
  /** Converted pages (per process), by the upstream's validators and, for private pages, by caller. */
  markdownCache: MarkdownCache;
}
