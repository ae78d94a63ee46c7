import { Router, type Request, type RequestHandler, type Response } from 'express';
import { HttpError } from '../http/errors.js';
import { accountToDisconnect, auditDisconnect } from '../credentials/disconnect-form.js';
import type { ConnectionSummary, UpstreamConnections as CredentialConnections } from '../credentials/connections.js';
import { BROWSER_CLIENT_ID } from '../apps/app-caller.js';
import { displayName, type Person } from '../login/person.js';
import type { Session } from '../login/sessions.js';
import type { GrantUsage } from '../admin/grant-usage.js';
import type { Config } from '../config/load.js';
import type { SessionManager } from '../login/sessions.js';
import type { Grant, GrantStore } from '../oauth/grant-store.js';
import type { ResourceCatalog } from '../oauth/resources.js';
import { renderConnectionsPage, type AccountChoiceRow, type UpstreamConnectionRow } from '../web/connections-page.js';
import { createPageCsrf, PAGE_CSP, signedInHeader } from '../web/page-csrf.js';
import { auditRequest } from '../audit/request-audit.js';

/** A person's own accounts at upstreams that need their OAuth login (`portal/credentials/`). */
export type UpstreamConnections = Pick<
  CredentialConnections,
  'listConnections' | 'disconnect' | 'accountInUse' | 'chooseAccount' | 'renameAccount'
>;

/** The longest name a person may give an account. */
export const MAX_ACCOUNT_LABEL = 64;

const NOTICES: Record<string, string> = {
  revoked: 'The agent was revoked. It can no longer act as you.',
  disconnected: 'The account was disconnected.',
  chosen: 'The agent now uses the account you chose.',
  renamed: 'The account was renamed.',
};

/** An agent that can reach an upstream, by client: whose account there the person chooses. */
interface ReachingAgent {
  clientId: string;
  clientName: string;
}

/** What the connections page is built from. */
export interface ConnectionsRoutesOptions {
  config: Pick<Config, 'secret' | 'issuer'>;
  sessions: SessionManager;
  /** The person's grants: the agents acting for them, to revoke. */
  grants: GrantStore;
  /** Names of what each grant reaches. */
  resources: Pick<ResourceCatalog, 'find' | 'upstream'>;
  /** When each grant was last used. */
  usage: Pick<GrantUsage, 'lastUsed'>;
  parsers: { form: RequestHandler };
  connections: UpstreamConnections;
}

/**
 * `GET /connections` and its forms (POST + the pages' CSRF token, own grants and accounts only):
 * `/connections/revoke` an agent, `/connections/disconnect` an account, `/connections/account`
 * (which account an agent uses at an upstream), `/connections/rename` (an account's name).
 */
export function connectionsRoutes(deps: ConnectionsRoutesOptions): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: deps.config.secret, issuer: deps.config.issuer });
  const { grants, resources } = deps;

  async function signedIn(req: Request, res: Response): Promise<Session | undefined> {
    const session = await deps.sessions.read(req);
    if (!session) res.redirect(303, `/login?return_to=${encodeURIComponent('/connections')}`);
    return session;
  }

  async function ownGrants(person: Person): Promise<Grant[]> {
    return (await grants.listByPerson(person.id)).filter((g) => g.kind === 'person');
  }

  function reach(grant: Grant): string[] {
    const resource = resources.find(grant.resource);
    const apps = grant.upstreamIds.map((id) => resources.upstream(id)?.title ?? id);
    return [resource?.name ?? grant.resource, ...(resource?.kind === 'mcp-aggregate' ? apps : [])];
  }

  /** The person's agents that reach the upstream, one per client; for an HTTP app, their own browser too. */
  function reachingAgents(own: Grant[], upstream: Pick<ConnectionSummary, 'upstreamId' | 'kind'>): ReachingAgent[] {
    const agents = new Map<string, ReachingAgent>();
    for (const g of own)
      if (g.upstreamIds.includes(upstream.upstreamId) && !agents.has(g.clientId))
        agents.set(g.clientId, { clientId: g.clientId, clientName: g.clientName ?? g.clientId });
    if (upstream.kind === 'http') agents.set(BROWSER_CLIENT_ID, { clientId: BROWSER_CLIENT_ID, clientName: 'Your web browser' });
    return [...agents.values()];
  }

  async function upstreamRow(person: Person, own: Grant[], summary: ConnectionSummary): Promise<UpstreamConnectionRow> {
    // With one account or none there is nothing to choose.
    const choices: AccountChoiceRow[] =
      summary.accounts.length < 2
        ? []
        : await Promise.all(
            reachingAgents(own, summary).map(async (a) => ({
              ...a,
              accountId: (await deps.connections.accountInUse(person, a.clientId, summary.upstreamId)) ?? '',
            })),
          );
    return {
      id: summary.upstreamId,
      title: summary.title,
      connectUrl: summary.connectUrl,
      accounts: summary.accounts.map((a) => ({
        id: a.accountId,
        name: a.name,
        reported: a.reported,
        status: a.status,
        connectedAt: a.connectedAt,
        connectUrl: a.connectUrl,
      })),
      choices,
    };
  }

  /** The posted upstream, one of the person's `oauth` upstreams. @throws {HttpError} 400 without one, 404 for any other. */
  async function postedUpstream(person: Person, field: unknown): Promise<ConnectionSummary> {
    if (typeof field !== 'string' || !field) throw new HttpError(400, 'invalid_request', 'Say which app.');
    const summary = (await deps.connections.listConnections(person)).find((c) => c.upstreamId === field);
    if (!summary) throw new HttpError(404, 'not_found', 'No such app among those you connect your own accounts to.');
    return summary;
  }

  function requiredField(body: Record<string, unknown>, name: string, what: string): string {
    const value = body[name];
    if (typeof value !== 'string' || !value) throw new HttpError(400, 'invalid_request', `Say which ${what}.`);
    return value;
  }

  router.get('/connections', async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const own = await ownGrants(session.person);
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
    const upstreams = await Promise.all(
      (await deps.connections.listConnections(session.person)).map((summary) => upstreamRow(session.person, own, summary)),
    );
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    const notice = typeof req.query.done === 'string' ? NOTICES[req.query.done] : undefined;
    res.type('html').send(
      renderConnectionsPage({
        signedIn: signedInHeader(csrf, session, displayName(session.person)),
        csrf: csrf.token(session),
        agents: agents.reverse(),
        upstreams,
        maxLabel: MAX_ACCOUNT_LABEL,
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
    if (!grant || grant.person.id !== session.person.id)
      throw new HttpError(404, 'not_found', 'That agent is not among your connections (it may have been revoked already).');
    await grants.revoke(grant.id);
    auditRequest(req, {
      event: 'grant_revoked',
      outcome: 'success',
      person: session.person,
      client: { id: grant.clientId, name: grant.clientName },
      details: { grant_id: grant.id, via: 'connections' },
    });
    res.redirect(303, '/connections?done=revoked');
  });

  router.post('/connections/disconnect', deps.parsers.form, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    const upstream = await postedUpstream(session.person, body.upstream);
    const accountId = accountToDisconnect(upstream.accounts, body.account);
    const result = accountId === undefined ? undefined : await deps.connections.disconnect(session.person, upstream.upstreamId, accountId);
    if (!result?.disconnected)
      throw new HttpError(404, 'not_found', 'That account is not among yours (it may have been disconnected already).');
    auditDisconnect(req, session.person, upstream.upstreamId, result, 'connections');
    res.redirect(303, '/connections?done=disconnected');
  });

  router.post('/connections/account', deps.parsers.form, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    const upstream = await postedUpstream(session.person, body.upstream);
    const clientId = requiredField(body, 'client', 'agent');
    const accountId = requiredField(body, 'account', 'account');
    // Another person's agent, or one that does not reach the app, is "not found" like a made-up one.
    const agent = reachingAgents(await ownGrants(session.person), upstream).find((a) => a.clientId === clientId);
    if (!agent) throw new HttpError(404, 'not_found', 'That agent is not among yours, or it cannot reach this app.');
    const account = await deps.connections.chooseAccount(session.person, clientId, upstream.upstreamId, accountId);
    if (!account) throw new HttpError(404, 'not_found', 'That account is not among yours (it may have been disconnected).');
    auditRequest(req, {
      event: 'upstream_account_selected',
      outcome: 'success',
      person: session.person,
      client: { id: agent.clientId, name: agent.clientName },
      upstream: upstream.upstreamId,
      details: { account: accountId, account_name: account.name },
    });
    res.redirect(303, '/connections?done=chosen');
  });

  router.post('/connections/rename', deps.parsers.form, async (req, res) => {
    const session = await signedIn(req, res);
    if (!session) return;
    const body = csrf.form(req, session);
    const upstream = await postedUpstream(session.person, body.upstream);
    const accountId = requiredField(body, 'account', 'account');
    const label = accountLabel(body.label);
    if (!(await deps.connections.renameAccount(session.person, upstream.upstreamId, accountId, label)))
      throw new HttpError(404, 'not_found', 'That account is not among yours (it may have been disconnected).');
    res.redirect(303, '/connections?done=renamed');
  });
  return router;
}

/** A name a person gives an account: 1 to {@link MAX_ACCOUNT_LABEL} characters of text. @throws {HttpError} 400 otherwise. */
function accountLabel(field: unknown): string {
  const label = typeof field === 'string' ? field.trim() : '';
  // Control and format characters (bidirectional overrides among them) could make one name look like another.
  if (!label || [...label].length > MAX_ACCOUNT_LABEL || /[\p{Cc}\p{Cf}]/u.test(label)) {
    throw new HttpError(400, 'invalid_request', `An account's name is 1 to ${MAX_ACCOUNT_LABEL} characters of text.`);
  }
  return label;
}
