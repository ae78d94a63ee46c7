import { diffLines } from 'diff';
import { Router, type Request, type Response } from 'express';
import { recentAudit } from '../audit/query.js';
import { HttpError } from '../http/errors.js';
import { displayName } from '../login/person.js';
import type { Session } from '../login/sessions.js';
import { isAdmin } from '../policy/admins.js';
import { renderAdminPage, type AdminPageView } from '../web/admin-page.js';
import { createPageCsrf, PAGE_CSP, signedInHeader } from '../web/page-csrf.js';
import type { AdminDeps } from './admin-deps.js';
import { auditRequest } from '../audit/request-audit.js';

const NOTICES: Record<string, string> = {
  added: 'The upstream was added.',
  removed: 'The upstream was removed.',
  revoked: 'The grant was revoked.',
  approved: 'The tool was approved: agents see it again.',
  rejected: 'The tool was rejected: it stays held.',
};

/**
 * `GET /admin` and its forms: the admin API's operations for a signed-in admin, server-rendered,
 * usable without JavaScript. Forms post with a per-session CSRF token.
 */
export function adminPageRoutes(deps: AdminDeps): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: deps.config.secret, issuer: deps.config.issuer });
  const { grants, clients } = deps;

  /** The session of a current admin; a person who is not one gets 403, a stranger the sign-in page. */
  async function adminSession(req: Request, res: Response): Promise<Session | undefined> {
    const session = await deps.sessions.read(req);
    if (!session) {
      res.redirect(303, `/login?return_to=${encodeURIComponent('/admin')}`);
      return undefined;
    }
    const person = await deps.people.current(session.person);
    if (!person || !isAdmin(person, deps.config.admins)) {
      auditRequest(req, {
        event: 'admin_denied',
        outcome: 'denied',
        person: session.person,
        details: { method: req.method, path: req.path },
      });
      throw new HttpError(403, 'forbidden', 'You are not an administrator of this portal.');
    }
    return session;
  }

  async function render(req: Request, res: Response, session: Session, extra: Partial<AdminPageView> = {}, status = 200) {
    const q = req.query as Record<string, unknown>;
    const by = typeof q.person === 'string' && q.person ? 'person' : typeof q.client === 'string' && q.client ? 'client' : undefined;
    const value = by ? (q[by] as string) : '';
    const found = by === 'person' ? await grants.listByPerson(value) : by === 'client' ? await grants.listByClient(value) : [];
    const events = await recentAudit(deps.store, {}, 50);
    const view: AdminPageView = {
      signedIn: signedInHeader(csrf, session, displayName(session.person)),
      csrf: csrf.token(session),
      upstreams: deps.upstreams
        .all()
        .map((u) => ({ id: u.id, title: u.title, kind: u.kind, url: u.url, source: deps.upstreams.source(u.id) ?? 'config' })),
      clients: (await clients.list()).map((c) => ({ clientId: c.clientId, clientName: c.clientName, kind: c.kind })),
      grantSearch: by
        ? {
            by,
            value,
            grants: await Promise.all(
              found.map(async (g) => ({
                id: g.id,
                person: g.person.id,
                clientName: g.clientName ?? g.clientId,
                clientId: g.clientId,
                createdAt: g.createdAt,
                lastUsedAt: await deps.usage.lastUsed(g.id),
                resource: g.resource,
              })),
            ),
          }
        : undefined,
      toolRules: deps.upstreams
        .all()
        .filter((u) => u.kind === 'mcp')
        .map((u) => ({
          upstream: u.id,
          pinning: u.tools.pinning,
          approval: u.tools.approval,
          approvalTtlMs: u.tools.approvalTtlMs,
          approvalTimeoutMs: u.tools.approvalTimeoutMs,
          limits: Object.entries(u.tools.limits).map(([tool, limit]) => ({ tool, perMinute: limit.perMinute, perDay: limit.perDay })),
        })),
      heldTools: await heldTools(deps),
      events: events.map((e) => ({
        time: e.time,
        event: e.event,
        outcome: e.outcome,
        person: e.person,
        clientName: e.client_name,
        clientId: e.client_id,
        upstream: e.upstream,
        detail: summary(e.details),
      })),
      notice: typeof q.done === 'string' ? NOTICES[q.done] : undefined,
      ...extra,
    };
    res.status(status).setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(renderAdminPage(view));
  }

  router.get('/admin', async (req, res) => {
    const session = await adminSession(req, res);
    if (session) await render(req, res, session);
  });

  router.post('/admin/upstreams', deps.parsers.form, async (req, res) => {
    const session = await adminSession(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    const draft = { id: str(body.id), kind: str(body.kind), title: str(body.title) || undefined, url: str(body.url) };
    try {
      const upstream = await deps.upstreams.create(draft, session.person.id);
      auditRequest(req, {
        event: 'upstream_created',
        outcome: 'success',
        person: session.person,
        upstream: upstream.id,
        details: { kind: upstream.kind, url: upstream.url, via: 'admin page' },
      });
    } catch (error) {
      if (!(error instanceof HttpError) || error.status >= 500) throw error;
      await render(req, res, session, { error: `The upstream was not added: ${error.message}`, draft }, error.status);
      return;
    }
    res.redirect(303, '/admin?done=added#upstreams');
  });

  router.post('/admin/upstreams/delete', deps.parsers.form, async (req, res) => {
    const session = await adminSession(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    await deps.upstreams.remove(str(body.id));
    auditRequest(req, {
      event: 'upstream_deleted',
      outcome: 'success',
      person: session.person,
      upstream: str(body.id),
      details: { via: 'admin page' },
    });
    res.redirect(303, '/admin?done=removed#upstreams');
  });

  router.post('/admin/grants/revoke', deps.parsers.form, async (req, res) => {
    const session = await adminSession(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    const grant = await grants.find(str(body.grant));
    if (!grant) throw new HttpError(404, 'not_found', 'No such grant (it may have been revoked already).');
    await grants.revoke(grant.id);
    auditRequest(req, {
      event: 'grant_revoked',
      outcome: 'success',
      person: grant.person,
      client: { id: grant.clientId, name: grant.clientName },
      details: { grant_id: grant.id, by: session.person.id, via: 'admin page' },
    });
    res.redirect(303, `/admin?person=${encodeURIComponent(grant.person.id)}&done=revoked#grants`);
  });
  for (const verdict of ['approve', 'reject'] as const) {
    router.post(`/admin/tools/${verdict}`, deps.parsers.form, async (req, res) => {
      const session = await adminSession(req, res);
      if (!session) return;
      const body = csrf.form(req, session);
      const [upstream, name] = [str(body.upstream), str(body.tool)];
      if (!(await deps.pins.list(upstream))[name])
        throw new HttpError(404, 'not_found', 'No such tool (the upstream may have been removed).');
      const pin = verdict === 'approve' ? await deps.pins.approve(upstream, name) : await deps.pins.reject(upstream, name);
      if (!pin) throw new HttpError(409, 'nothing_to_approve', 'This tool is served as pinned already: there is nothing to approve.');
      auditRequest(req, {
        event: verdict === 'approve' ? 'tool_approved' : 'tool_rejected',
        outcome: 'success',
        person: session.person,
        upstream,
        details: { tool: name, hash: pin.current?.hash ?? pin.pinned?.hash, via: 'admin page' },
      });
      res.redirect(303, `/admin?done=${verdict === 'approve' ? 'approved' : 'rejected'}#tools`);
    });
  }
  return router;
}

/** Every MCP upstream's tools whose definition is not the pinned one, with a line diff of the two. */
async function heldTools(deps: AdminDeps): Promise<AdminPageView['heldTools']> {
  const held: AdminPageView['heldTools'] = [];
  for (const upstream of deps.upstreams.all().filter((u) => u.kind === 'mcp')) {
    for (const [name, pin] of Object.entries(await deps.pins.list(upstream.id))) {
      if (pin.status === 'pinned') continue;
      const before = pin.pinned ? `${JSON.stringify(pin.pinned.definition, null, 2)}\n` : '';
      const after = pin.current ? `${JSON.stringify(pin.current.definition, null, 2)}\n` : '';
      const changes = diffLines(before, after).map(
        (part) => ({ kind: part.added ? 'added' : part.removed ? 'removed' : 'same', text: part.value }) as const,
      );
      held.push({ upstream: upstream.id, name, status: pin.status, since: pin.since, changes });
    }
  }
  return held;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, 2_000) : '';
}

/** One short line of an event's details for the table (`tool=echo status=200`). */
function summary(details: Record<string, unknown> | undefined): string | undefined {
  if (!details) return undefined;
  const text = Object.entries(details)
    .filter(([, v]) => v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
