import { Router, type Request, type Response } from 'express';
import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';
import { mayUseUpstream } from '../policy/access.js';
import { runBearerCheck } from './app-caller.js';
import { hostOrigin } from './app-mounts.js';
import type { AppsDeps } from './apps-deps.js';

/** RFC 9727 §4.2: the catalog's media type, with the profile that says it is an API catalog. */
export const API_CATALOG_TYPE = 'application/linkset+json; profile="https://www.rfc-editor.org/info/rfc9727"';
export const API_CATALOG_PATH = '/.well-known/api-catalog';

/** One RFC 9264 link target. */
export interface LinkTarget {
  href: string;
  type?: string;
  title?: string;
}

/** One RFC 9264 link context: an API and its relations. */
export type LinksetItem = { anchor: string } & Partial<Record<'service-meta' | 'service-desc' | 'service-doc' | 'alternate', LinkTarget[]>>;

/**
 * `GET /.well-known/api-catalog` (RFC 9727): a linkset (RFC 9264) of the APIs the caller may use —
 * the aggregated MCP endpoint, each MCP upstream's `/mcp/{id}`, each HTTP app's `/apps/{id}` — each
 * with `service-meta` (its RFC 9728 protected-resource metadata), apps with `service-doc` (their
 * pages) and `service-desc` when they declare an OpenAPI document (`openapi`).
 *
 * Who sees what: a valid bearer token (any of the portal's audiences) or a browser session lists
 * what that person's `access` rules admit. Anonymous callers see the aggregate and the upstreams
 * open to every signed-in person (no `access` rules): enough to start the OAuth dance, without
 * publishing which restricted apps exist. An invalid token gets the usual 401 challenge.
 */
export function apiCatalogRoutes(deps: AppsDeps): Router {
  const router = Router();
  const bearer = deps.bearer.requireBearer({
    resource: () => deps.resources.aggregate(),
    alsoAccept: () => [
      ...deps.resources.all().map((r) => r.url),
      ...deps.upstreams().flatMap((u) => (u.kind === 'http' && u.host ? [hostOrigin(deps.issuer, u.host)] : [])),
    ],
  });
  router.get(API_CATALOG_PATH, async (req, res) => {
    const person = req.headers.authorization ? (await runBearerCheck(bearer, req, res)).person : await currentSessionPerson(deps, req);
    send(res, { linkset: catalogItems(deps.issuer, deps.upstreams(), person) });
  });
  return router;
}

/** The catalog's items for a person (or `undefined`: anonymous), in config order after the aggregate. */
export function catalogItems(issuer: string, upstreams: readonly UpstreamConfig[], person: Person | undefined): LinksetItem[] {
  const meta = (path: string): LinkTarget[] => [
    {
      href: `${issuer}/.well-known/oauth-protected-resource${path}`,
      type: 'application/json',
      title: 'OAuth 2.0 protected resource metadata (RFC 9728)',
    },
  ];
  const items: LinksetItem[] = [{ anchor: `${issuer}/mcp`, 'service-meta': meta('/mcp') }];
  const visible = upstreams.filter((u) => (person ? mayUseUpstream(person, u) : isOpen(u)));
  for (const upstream of visible) {
    if (upstream.kind === 'mcp') {
      items.push({ anchor: `${issuer}/mcp/${upstream.id}`, 'service-meta': meta(`/mcp/${upstream.id}`) });
      continue;
    }
    const anchor = `${issuer}/apps/${upstream.id}`;
    const item: LinksetItem = {
      anchor,
      'service-meta': meta(`/apps/${upstream.id}`),
      'service-doc': [{ href: `${anchor}/`, type: 'text/html', title: upstream.title ?? upstream.id }],
    };
    if (upstream.openapi) item['service-desc'] = [{ href: `${anchor}${upstream.openapi}`, type: openApiType(upstream.openapi) }];
    if (upstream.host) item.alternate = [{ href: `${hostOrigin(issuer, upstream.host)}/`, type: 'text/html' }];
    items.push(item);
  }
  return items;
}

function isOpen(upstream: UpstreamConfig): boolean {
  const { groups, emails, domains, idps } = upstream.access;
  return groups.length + emails.length + domains.length + idps.length === 0;
}

/** The media type of an OpenAPI document, by its file name (OpenAPI 3.1 §4.2 names both). */
function openApiType(path: string): string {
  return /\.ya?ml(\?|$)/i.test(path) ? 'application/openapi+yaml' : 'application/openapi+json';
}

async function currentSessionPerson(deps: AppsDeps, req: Request): Promise<Person | undefined> {
  const session = await deps.sessions.read(req);
  return session ? deps.people.current(session.person) : undefined;
}

function send(res: Response, body: { linkset: LinksetItem[] }): void {
  res.setHeader('Content-Type', API_CATALOG_TYPE);
  // RFC 9727 §2: the catalog names itself; the answer depends on who asks.
  res.setHeader('Link', `<${API_CATALOG_PATH}>; rel="api-catalog"`);
  res.setHeader('Vary', 'Authorization, Cookie');
  res.setHeader('Cache-Control', 'private, no-cache');
  // A Buffer, so Express adds no `charset` parameter: JSON is UTF-8 by definition (RFC 8259 §8.1).
  res.send(Buffer.from(JSON.stringify(body)));
}
