import { Router, type Request, type Response } from 'express';
import { HttpError, OAuthError } from '../http/errors.js';
import { auditRequest } from '../audit/request-audit.js';
import { displayName, type Person } from '../login/person.js';
import { mayUseUpstream, whyDenied } from '../policy/access.js';
import { isAdmin } from '../policy/admins.js';
import { renderConsentPage } from '../web/consent-page.js';
import { pageCsp } from '../web/html.js';
import { createPageCsrf, signedInHeader } from '../web/page-csrf.js';
import { redirectWithError } from './authorize.js';
import type { AuthorizationRequest } from './authorization-requests.js';
import type { Client } from './clients.js';
import type { OAuthDeps } from './deps.js';
import { answerDeviceRequest } from './device-routes.js';
import { SCOPES } from './scopes.js';

const SCOPE_MEANING: Record<string, string> = {
  mcp: 'use the tools, resources and prompts of these apps as you',
  offline_access: 'keep access while you are away, until you revoke it',
  admin: 'manage this portal as you: upstreams, clients, grants and the audit log',
};

/** What a scope means for the resource asked for: an HTTP app is read and used as pages, not tools. */
function scopeMeaning(scope: string, resource: { kind: string; name: string }): string {
  if (scope === 'mcp' && resource.kind === 'app') return `open and read the pages of ${resource.name} as you, and use them as you would`;
  return SCOPE_MEANING[scope] ?? scope;
}

/** The page's CSP: the form may post here and (Chrome applies form-action to redirects) go back to the client. */
function consentCsp(redirectUri: string): string {
  const url = new URL(redirectUri);
  const target = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  return pageCsp([target]);
}

/** `GET /consent` shows what an agent asks for; `POST /consent` records the person's decision. */
export function consentRoutes(deps: OAuthDeps): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: deps.config.secret, issuer: deps.issuer });
  // The form's token is good for this session and this one request.
  const subject = (requestId: string) => `consent:${requestId}`;

  router.get('/consent', async (req, res) => {
    const requestId = typeof req.query.request === 'string' ? req.query.request : '';
    const session = await deps.sessions.read(req);
    if (!session) {
      res.redirect(303, `/login?return_to=${encodeURIComponent(`/consent?request=${requestId}`)}`);
      return;
    }
    const { request, client } = await loadOwnRequest(deps, requestId, session.person);
    // prompt=login: a session older than the request signs in again first.
    if (request.prompt?.includes('login') && session.createdAt < request.createdAt) {
      res.redirect(303, `/login?reauth=1&return_to=${encodeURIComponent(`/consent?request=${requestId}`)}`);
      return;
    }
    const offer = offerFor(deps, request, session.person);
    const asksLongLived = offersLongLived(request, client);
    // A device request is always asked (RFC 8628 §5.4): a code someone else started must not pass unseen.
    if (!request.device && offer.grantable && offer.upstreamIds.length === offer.asked.length && !request.prompt?.includes('consent')) {
      const remembered = await deps.consents.covering(
        session.person.id,
        client.clientId,
        request.resource,
        request.scope,
        offer.upstreamIds,
      );
      // Approved from memory only with the person's last answer to every question the page would ask.
      if (remembered && (!asksLongLived || remembered.longLived !== undefined)) {
        await approve(
          deps,
          req,
          res,
          request.id,
          session.person,
          offer.upstreamIds,
          longLivedDecision(request, client, remembered.longLived),
        );
        return;
      }
    }
    if (request.prompt?.includes('none')) {
      // Nothing may be shown: the client learns the person must be asked, if it may be told (no open redirect).
      const taken = await deps.requests.take(request.id);
      if (!taken) throw new HttpError(400, 'invalid_request', 'This request was already answered.');
      if (!(await deps.consents.consentedBefore(session.person.id, client.clientId))) {
        throw new HttpError(
          403,
          'consent_required',
          'The application asked to be let in without asking you, and you have not allowed it before. Start again from the application.',
        );
      }
      redirectWithError(
        res,
        taken.redirectUri,
        deps.issuer,
        new OAuthError('consent_required', 'the person must be asked, and prompt=none forbids it'),
        taken.state,
      );
      return;
    }
    res.setHeader('Content-Security-Policy', consentCsp(request.redirectUri));
    res.setHeader('Cache-Control', 'no-store');
    const resource = deps.resources.find(request.resource)!;
    res.type('html').send(
      renderConsentPage({
        requestId: request.id,
        csrf: csrf.token(session, subject(request.id)),
        clientName: client.clientName ?? client.clientId,
        clientId: client.clientId,
        clientHome: client.kind === 'metadata-document' ? client.clientId : client.clientUri,
        redirectHost: new URL(request.redirectUri).host || request.redirectUri,
        signedIn: signedInHeader(csrf, session, displayName(session.person)),
        forDevice: request.device !== undefined,
        resourceName: resource.name,
        resourceUrl: resource.url,
        upstreams: offer.upstreamIds.map((id) => deps.resources.upstream(id)?.title ?? id),
        // Each refusal says which rule failed (a person outside every rule learns why).
        refused: offer.asked.filter((id) => !offer.upstreamIds.includes(id)).map((id) => refusal(deps, id, session.person)),
        scopes: request.scope.map((name) => ({ name, meaning: scopeMeaning(name, resource) })),
        // Only a metadata document's host vouches for who the client is; a registered client names itself.
        nameVerifiedBy: client.kind === 'metadata-document' ? new URL(client.clientId).host : undefined,
        grantable: offer.grantable,
        longLived: asksLongLived ? { accessMinutes: Math.max(1, Math.round(deps.config.tokens.accessTtlMs / 60_000)) } : undefined,
        toConnect: await unconnected(deps, session.person, offer.upstreamIds),
      }),
    );
  });

  router.post('/consent', deps.parsers.form, async (req, res) => {
    const posted = (req.body ?? {}) as Record<string, unknown>;
    const requestId = typeof posted.request === 'string' ? posted.request : '';
    const session = await deps.sessions.read(req);
    if (!session) throw new HttpError(401, 'login_required', 'Your session ended. Start again from the application.');
    const body = csrf.form(req, session, { subject: subject(requestId) });
    const { request, client } = await loadOwnRequest(deps, requestId, session.person);
    if (body.decision === 'allow') {
      const offer = offerFor(deps, request, session.person);
      if (!offer.grantable) throw new HttpError(403, 'access_denied', 'There is nothing here you may grant.');
      // An unchecked box is not sent: anything but the checked box's value is "no".
      await approve(
        deps,
        req,
        res,
        request.id,
        session.person,
        offer.upstreamIds,
        longLivedDecision(request, client, body.long_lived === 'yes'),
      );
      return;
    }
    if (body.decision !== 'deny') throw new HttpError(400, 'invalid_request', 'Choose Allow or Deny.');
    const taken = await deps.requests.take(request.id);
    if (!taken) throw new HttpError(400, 'invalid_request', 'This request was already answered.');
    // A device learns the answer only once it is recorded (it may have expired meanwhile).
    if (taken.device) await answerDeviceRequest(deps, res, taken, session.person, 'denied');
    auditRequest(
      req,
      {
        event: 'consent_denied',
        outcome: 'denied',
        person: session.person,
        client: { id: request.clientId, name: (await deps.clients.find(request.clientId))?.clientName },
        details: { resource: request.resource, ...(taken.device ? { device: true } : {}) },
      },
      'consent denied',
    );
    if (taken.device) return;
    redirectWithError(res, taken.redirectUri, deps.issuer, new OAuthError('access_denied', 'the person denied the request'), taken.state);
  });

  return router;
}

/**
 * The `oauth` upstreams of the offer where the person holds no working account, with a link that
 * connects one (or re-connects their first: a new agent uses it unless they choose another).
 */
async function unconnected(deps: OAuthDeps, person: Person, upstreamIds: string[]) {
  const connections = await deps.connections.listConnections(person);
  return connections
    .filter((c) => upstreamIds.includes(c.upstreamId) && !c.accounts.some((a) => a.status === 'connected'))
    .map((c) => {
      const connect = new URL(c.accounts[0]?.connectUrl ?? c.connectUrl);
      return { title: c.title, url: `${connect.pathname}${connect.search}` };
    });
}

/** The pending request, bound to this person: another person's request is refused. */
async function loadOwnRequest(
  deps: OAuthDeps,
  requestId: string,
  person: Person,
): Promise<{ request: AuthorizationRequest; client: Client }> {
  const request = requestId ? await deps.requests.find(requestId) : undefined;
  if (!request)
    throw new HttpError(400, 'invalid_request', 'This sign-in request expired or was already used. Start again from the application.');
  if (!(await deps.requests.bind(request, person.id))) throw new HttpError(403, 'access_denied', 'This request belongs to someone else.');
  const client = await deps.clients.find(request.clientId);
  if (!client) throw new HttpError(400, 'invalid_client', 'The application is no longer registered.');
  return { request, client };
}

/** "Wiki (you are not in a group or on a list it is open to)". */
function refusal(deps: OAuthDeps, id: string, person: Person): string {
  const upstream = deps.resources.upstream(id);
  const reason = upstream ? whyDenied(person, upstream) : undefined;
  return `${upstream?.title ?? id}${reason ? ` (${reason})` : ''}`;
}

/** Which of the resource's upstreams this person may grant (policy), and whether anything is grantable. */
function offerFor(deps: OAuthDeps, request: AuthorizationRequest, person: Person) {
  const resource = deps.resources.find(request.resource);
  // The admin API is grantable by admins only; it reaches no upstream.
  if (resource?.kind === 'admin') return { asked: [], upstreamIds: [], grantable: isAdmin(person, deps.config.admins) };
  const asked = resource?.upstreamIds ?? [];
  const upstreamIds = asked.filter((id) => {
    const upstream = deps.resources.upstream(id);
    return upstream !== undefined && mayUseUpstream(person, upstream);
  });
  // The aggregate can be granted with what is allowed (even nothing yet); a single upstream only if allowed.
  const grantable =
    resource !== undefined && (resource.kind === 'mcp-aggregate' ? asked.length === 0 || upstreamIds.length > 0 : upstreamIds.length > 0);
  return { asked, upstreamIds, grantable };
}

/**
 * Whether the consent page asks the person about long-lived access: the client may hold a refresh
 * token but did not ask for `offline_access` (clients from before MCP 2025-11-25 never do). Asked,
 * so that such clients need not send the person back every few minutes, and never assumed.
 */
function offersLongLived(request: AuthorizationRequest, client: Client): boolean {
  return client.grantTypes.includes('refresh_token') && !request.scope.includes(SCOPES.offlineAccess);
}

/** Long-lived access: asked for (`offline_access`) and allowed, or offered by the page and kept by the person (`answer`). */
function longLivedDecision(request: AuthorizationRequest, client: Client, answer: boolean | undefined): boolean {
  return request.scope.includes(SCOPES.offlineAccess) || (offersLongLived(request, client) && answer === true);
}

async function approve(
  deps: OAuthDeps,
  req: Request,
  res: Response,
  requestId: string,
  person: Person,
  upstreamIds: string[],
  longLived: boolean,
): Promise<void> {
  const request = await deps.requests.take(requestId);
  if (!request) throw new HttpError(400, 'invalid_request', 'This request was already answered.');
  if (request.device) {
    // Not remembered as consent: the next device request is asked again.
    await answerDeviceRequest(deps, res, request, person, { person, upstreamIds, longLived });
    auditRequest(
      req,
      {
        event: 'consent_granted',
        outcome: 'success',
        person,
        client: { id: request.clientId, name: (await deps.clients.find(request.clientId))?.clientName },
        details: {
          resource: request.resource,
          scope: request.scope.join(' '),
          upstreams: upstreamIds,
          long_lived: longLived,
          device: true,
        },
      },
      'consent granted',
    );
    return;
  }
  await deps.consents.remember(person.id, request.clientId, request.resource, { scope: request.scope, upstreamIds, longLived });
  const code = await deps.codes.issue({
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    person,
    scope: request.scope,
    resource: request.resource,
    upstreamIds,
    longLived,
    ...(request.dpopJkt ? { dpopJkt: request.dpopJkt } : {}),
  });
  auditRequest(
    req,
    {
      event: 'consent_granted',
      outcome: 'success',
      person,
      client: { id: request.clientId, name: (await deps.clients.find(request.clientId))?.clientName },
      details: { resource: request.resource, scope: request.scope.join(' '), upstreams: upstreamIds, long_lived: longLived },
    },
    'consent granted',
  );
  const url = new URL(request.redirectUri);
  url.searchParams.set('code', code);
  if (request.state !== undefined) url.searchParams.set('state', request.state);
  url.searchParams.set('iss', deps.issuer);
  res.redirect(303, url.href);
}
