import { Router, type Request, type Response } from 'express';
import { HttpError } from '../http/errors.js';
import type { ConnectionSummary, UpstreamConnections as CredentialConnections } from '../credentials/connections.js';
import { displayName } from '../login/person.js';
import type { Session } from '../login/sessions.js';
import type { AdminDeps } from '../admin/admin-deps.js';
import type { Grant } from '../oauth/grant-store.js';
import { renderConnectionsPage, type UpstreamConnectionRow } from '../web/connections-page.js';
import { createPageCsrf, PAGE_CSP } from '../web/page-csrf.js';

/**
 * A person's own connections to upstreams that need their OAuth login (`portal/credentials/`).
 * Optional: without it the page shows agents only.
 */
export type UpstreamConnections = Pick<CredentialConnections, 'listConnections' | 'disconnect'>;

function toRow(summary: ConnectionSummary): UpstreamConnectionRow {
  return { id: summary.upstreamId, title: summary.title, status: summary.status, connectedAt: summary.connectedAt, connectUrl: summary.connectUrl };
}

const NOTICES: Record<string, string> = {
  revoked: 'The agent was revoked. It can no longer act as you.',
  disconnected: 'The app was disconnected.',
};

/**
 * `GET /connections`, `POST /connections/revoke`, `POST /connections/disconnect`: what the
 * signed-in person authorized, with revoke (POST + CSRF token, own grants only).
 */
export function connectionsRoutes(deps: AdminDeps & { connections?: UpstreamConnections }): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: deps.config.secret, issuer: deps.config.issuer });
  const { grants, resources } = deps.oauth.deps;

  async function signedIn(req: Request, res: Response): Promise<Session | undefined> {
    const session = await deps.sessions.read(req);
    if (!session) res.redirect(303, `/login?return_to=${encodeURIComponent('/connections')}`);
    return session;
  }

  function reach(grant: Grant): string[] {
    const resource = resources.find(grant.resource);
    const apps = grant.upstreamIds.map((id) => resources.upstream(id)?.title ?? id);
    return [resource?.name ?? grant.resource, ...(resource?.kind === 'mcp-aggregate' ? apps : [])];
  }

  router.get('/connections', async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const own = (await grants.listByPerson(session.person.id)).filter((g) => g.kind === 'person');
    const agents = await Promise.all(
      own.map(async (g) => ({
        grantId: g.id,
        clientName: g.clientName ?? g.clientId,
        clientId: g.clientId,
        authorizedAt: g.createdAt,
        lastUsedAt: await deps.usage.lastUsed(g.id),
        resources: reach(g),
        scope: g.scope.join(' '),
      })),
    );
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    const notice = typeof req.query.done === 'string' ? NOTICES[req.query.done] : undefined;
    res.type('html').send(
      renderConnectionsPage({
        personName: displayName(session.person),
        csrf: csrf.token(session),
        agents: agents.reverse(),
        upstreams: deps.connections ? (await deps.connections.listConnections(session.person)).map(toRow) : undefined,
        notice,
      }),
    );
  });

  router.post('/connections/revoke', deps.parsers.form, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    const grant = typeof body.grant === 'string' ? await grants.find(body.grant) : undefined;
    // Someone else's grant is "not found": never a hint that it exists.
    if (!grant || grant.person.id !== session.person.id) throw new HttpError(404, 'not_found', 'That agent is not among your connections (it may have been revoked already).');
    await grants.revoke(grant.id);
    req.audit?.({ event: 'grant_revoked', outcome: 'success', person: session.person, client: { id: grant.clientId, name: grant.clientName }, details: { grant_id: grant.id, via: 'connections' } });
    res.redirect(303, '/connections?done=revoked');
  });

  router.post('/connections/disconnect', deps.parsers.form, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    if (!deps.connections) throw new HttpError(404, 'not_found', 'No app here needs a connection of its own.');
    const upstreamId = typeof body.upstream === 'string' ? body.upstream : '';
    if (!resources.upstream(upstreamId)) throw new HttpError(404, 'not_found', 'No such app.');
    await deps.connections.disconnect(session.person, upstreamId);
    req.audit?.({ event: 'upstream_disconnected', outcome: 'success', person: session.person, upstream: upstreamId, details: { via: 'connections' } });
    res.redirect(303, '/connections?done=disconnected');
  });
  return router;
}
