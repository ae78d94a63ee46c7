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
  const scheme = new URL(issuer).protocol;
  // Looked up on every protected request; rebuilt only when the upstream list changes (the
  // registry hands out the same list until then). Frozen: every caller shares them.
  let built: { upstreams: UpstreamConfig[]; all: ProtectedResource[]; byUrl: Map<string, ProtectedResource> } | undefined;
  function catalog() {
    const upstreams = options.upstreams();
    if (built?.upstreams === upstreams) return built;
    const resource = (fields: ProtectedResource) =>
      Object.freeze({ ...fields, upstreamIds: Object.freeze(fields.upstreamIds) as string[] });
    const all = Object.freeze([
      resource({
        url: `${issuer}/mcp`,
        path: '/mcp',
        kind: 'mcp-aggregate',
        name: 'All your tools (aggregated MCP endpoint)',
        upstreamIds: upstreams.map((u) => u.id),
      }),
      // The admin API: tokens for it carry the `admin` scope and reach no upstream.
      resource({ url: `${issuer}/admin`, path: '/admin', kind: 'admin', name: 'Gatehouse administration', upstreamIds: [] }),
      ...upstreams.map((u) => {
        const path = u.kind === 'mcp' ? `/mcp/${u.id}` : `/apps/${u.id}`;
        return resource({
          url: `${issuer}${path}`,
          path,
          kind: u.kind === 'mcp' ? 'mcp' : 'app',
          name: u.title ?? u.id,
          upstreamIds: [u.id],
        });
      }),
    ]) as ProtectedResource[];
    built = { upstreams, all, byUrl: new Map(all.map((r) => [r.url, r])) };
    return built;
  }
  return {
    aggregate: () => catalog().all[0]!,
    all: () => catalog().all,
    find(resource) {
      const wanted = resource.replace(/\/+$/, '');
      const found = catalog().byUrl.get(wanted);
      if (found) return found;
      // A host-routed app's resource is its origin (DESIGN.md): the same app, named by its host.
      const app = options.upstreams().find((u) => u.kind === 'http' && u.host && `${scheme}//${u.host}` === wanted);
      return app ? { url: wanted, path: `/apps/${app.id}`, kind: 'app', name: app.title ?? app.id, upstreamIds: [app.id] } : undefined;
    },
    upstream: (id) => options.upstreams().find((u) => u.id === id),
  };
}
