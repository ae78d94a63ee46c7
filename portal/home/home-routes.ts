import { Router } from 'express';
import type { Config } from '../config/load.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { ToolPins } from '../governance/tool-pins.js';
import type { People } from '../login/people.js';
import type { SessionManager } from '../login/sessions.js';
import { hostOrigin } from '../apps/app-mounts.js';
import type { UpstreamConnections } from '../credentials/connections.js';
import type { ToolApprovals } from '../governance/tool-approvals.js';
import { displayName } from '../login/person.js';
import { mayUseUpstream } from '../policy/access.js';
import { isAdmin } from '../policy/admins.js';
import { renderHomePage, type HomeMcpUpstream } from '../web/home-page.js';
import { createPageCsrf, PAGE_CSP, signedInHeader } from '../web/page-csrf.js';

/** What the home page is built from. */
export interface HomeRoutesOptions {
  config: Pick<Config, 'secret' | 'issuer' | 'admins'>;
  sessions: SessionManager;
  /** Who the signed-in person is now. */
  people: Pick<People, 'current'>;
  /** The current upstreams. */
  upstreams: { all(): UpstreamConfig[] };
  /** Pinned tool definitions: an MCP upstream's tool count. */
  pins: Pick<ToolPins, 'list'>;
  /** The person's accounts at `oauth` upstreams: those not yet connected are marked. */
  connections: Pick<UpstreamConnections, 'listConnections'>;
  /** Tool calls waiting for the person's approval. */
  approvals: Pick<ToolApprovals, 'pendingFor'>;
}

/** `GET /`: the portal's home for a signed-in person; a stranger is sent to sign in first. */
export function homeRoutes(deps: HomeRoutesOptions): Router {
  const router = Router();
  const { issuer } = deps.config;
  const csrf = createPageCsrf({ secret: deps.config.secret, issuer });

  router.get('/', async (req, res) => {
    const session = await deps.sessions.read(req);
    if (!session) return void res.redirect(303, '/login?return_to=%2F');
    const person = (await deps.people.current(session.person)) ?? session.person;
    const open = deps.upstreams.all().filter((upstream) => mayUseUpstream(person, upstream));
    // An `oauth` upstream with no working account of the person's needs connecting first.
    const connections = await deps.connections.listConnections(person);
    const toConnect = new Map(
      connections.filter((c) => !c.accounts.some((a) => a.status === 'connected')).map((c) => [c.upstreamId, c.connectUrl]),
    );
    const mcp: HomeMcpUpstream[] = await Promise.all(
      open
        .filter((u) => u.kind === 'mcp')
        .map(async (u) => {
          const pins = Object.values(await deps.pins.list(u.id));
          return {
            id: u.id,
            title: u.title ?? u.id,
            toolCount: pins.length ? pins.filter((p) => p.status === 'pinned').length : undefined,
            url: `${issuer}/mcp/${u.id}`,
            connectUrl: toConnect.get(u.id),
          };
        }),
    );
    const titleOf = (id: string) => deps.upstreams.all().find((u) => u.id === id)?.title ?? id;
    const approvals = (await deps.approvals.pendingFor(person.id)).map((r) => ({
      url: `/approve/${r.id}`,
      clientName: r.client.name ?? r.client.id,
      upstreamTitle: titleOf(r.upstreamId),
      tool: r.tool,
      createdAt: r.createdAt,
    }));
    const apps = open
      .filter((u) => u.kind === 'http')
      .map((u) => ({ title: u.title ?? u.id, url: u.host ? `${hostOrigin(issuer, u.host)}/` : `/apps/${u.id}/` }));
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(
      renderHomePage({
        signedIn: signedInHeader(csrf, session, displayName(person)),
        issuer,
        apps,
        mcp,
        approvals,
        isAdmin: isAdmin(person, deps.config.admins),
      }),
    );
  });
  return router;
}
