import type { UpstreamConfig } from '../config/schema.js';

/** A protected resource the portal serves (RFC 8707 `resource`, RFC 9728 metadata). */
export interface ProtectedResource {
  /** The resource identifier: `{issuer}/mcp`, `{issuer}/mcp/{id}`, `{issuer}/apps/{id}`. */
  url: string;
  /** Its path under the issuer, for the RFC 9728 well-known URL. */
  path: string;
  kind: 'mcp-aggregate' | 'mcp' | 'app' | 'admin';
  /** Human name for consent pages. */
  name: string;
  /** The upstreams a token for this resource reaches (the aggregate: every MCP and app upstream). */
  upstreamIds: string[];
}

/** The resources of the portal, derived from the current upstreams (which the admin API may change). */
export interface ResourceCatalog {
  aggregate(): ProtectedResource;
  all(): ProtectedResource[];
  /** The resource with this identifier, compared without a trailing slash; `undefined` if not served. */
  find(resource: string): ProtectedResource | undefined;
  upstream(id: string): UpstreamConfig | undefined;
}

export function createResourceCatalog(options: { issuer: string; upstreams: () => UpstreamConfig[] }): ResourceCatalog {
  const { issuer } = options;
  const aggregate = (): ProtectedResource => ({
    url: `${issuer}/mcp`,
    path: '/mcp',
    kind: 'mcp-aggregate',
    name: 'All your tools (aggregated MCP endpoint)',
    upstreamIds: options.upstreams().map((u) => u.id),
  });
  const all = (): ProtectedResource[] => [
    aggregate(),
    // The admin API (issue 8): tokens for it carry the `admin` scope and reach no upstream.
    { url: `${issuer}/admin`, path: '/admin', kind: 'admin', name: 'Gatehouse administration', upstreamIds: [] },
    ...options.upstreams().map((u): ProtectedResource => {
      const path = u.kind === 'mcp' ? `/mcp/${u.id}` : `/apps/${u.id}`;
      return { url: `${issuer}${path}`, path, kind: u.kind === 'mcp' ? 'mcp' : 'app', name: u.title ?? u.id, upstreamIds: [u.id] };
    }),
  ];
  return {
    aggregate,
    all,
    find(resource) {
      const wanted = resource.replace(/\/+$/, '');
      const found = all().find((r) => r.url === wanted);
      if (found) return found;
      // A host-routed app's resource is its origin (DESIGN.md): the same app, named by its host.
      const scheme = new URL(issuer).protocol;
      const app = options.upstreams().find((u) => u.kind === 'http' && u.host && `${scheme}//${u.host}` === wanted);
      return app ? { url: wanted, path: `/apps/${app.id}`, kind: 'app', name: app.title ?? app.id, upstreamIds: [app.id] } : undefined;
    },
    upstream: (id) => options.upstreams().find((u) => u.id === id),
  };
}
