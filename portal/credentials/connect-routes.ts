import { Router, type Request } from 'express';
import { auditRequest } from '../audit/request-audit.js';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import { sha256 } from '../crypto/hash.js';
import type { Sealer } from '../crypto/seal.js';
import { callerSignal } from '../http/caller-signal.js';
import { HttpError } from '../http/errors.js';
import { displayName, type Person } from '../login/person.js';
import { safeReturnTo } from '../login/return-to.js';
import type { SessionManager } from '../login/sessions.js';
import { mayUseUpstream } from '../policy/access.js';
import { storeKey, type Store } from '../store/store.js';
import { renderConnectResultPage } from '../web/connect-page.js';
import { createPageCsrf, signedInHeader } from '../web/page-csrf.js';
import type { AccountSummary, UpstreamConnections } from './connections.js';
import { accountToDisconnect, auditDisconnect } from './disconnect-form.js';
import type { PendingAuthorization, UpstreamOAuth } from './upstream-oauth-types.js';
import { UpstreamOAuthError } from './upstream-oauth-errors.js';
import { FIRST_ACCOUNT_ID } from './upstream-tokens.js';
import { contextOf } from '../http/request-context.js';

export interface ConnectRoutesDeps {
  issuer: string;
  secret: string;
  store: Store;
  sealer: Sealer;
  sessions: SessionManager;
  connections: UpstreamConnections;
  oauth: UpstreamOAuth;
  logger: Logger;
  upstreams: () => UpstreamConfig[];
  form: import('express').RequestHandler;
}

/** A pending connect: who started it, in which browser session, and the authorization request. */
interface PendingConnect {
  personId: string;
  sessionHash: string;
  upstreamId: string;
  /** The account being re-connected; absent for a new account. */
  accountId?: string;
  returnTo?: string;
  startedAt: number;
  authorization: PendingAuthorization;
}

/** How long a person has to finish signing in at the upstream. */
const PENDING_TTL_MS = 10 * 60_000;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

/**
 * `GET /connect/{id}` starts connecting a person's own account at an `oauth` upstream (another
 * one when they hold some; `?account={id}` re-connects that one), `GET /connect/{id}/callback`
 * finishes it (RFC 6749 §4.1.2), `POST /connect/{id}/disconnect` (with the CSRF token of the
 * portal's pages, and `account` when they hold several) forgets and revokes one. The `state` is
 * single-use and bound to the browser session that started the connect: a forged state, or
 * another person's, is refused and changes nothing.
 */
export function connectRoutes(deps: ConnectRoutesDeps): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: deps.secret, issuer: deps.issuer });
  const pendingKey = (state: string) => storeKey('upstream-connect', sha256(state));
  const aad = (state: string) => `upstream-connect\n${sha256(state)}`;
  const redirectUri = (upstreamId: string) => `${deps.issuer}/connect/${upstreamId}/callback`;

  function oauthUpstream(req: Request): UpstreamConfig {
    const upstream = deps.upstreams().find((u) => u.id === req.params.id && u.credentials.type === 'oauth');
    if (!upstream) throw new HttpError(404, 'not_found', 'There is no app to connect here.');
    return upstream;
  }

  router.get('/connect/:id', async (req, res) => {
    const upstream = oauthUpstream(req);
    const session = await deps.sessions.read(req);
    if (!session) {
      res.redirect(303, `/login?return_to=${encodeURIComponent(req.originalUrl)}`);
      return;
    }
    const { person } = session;
    if (!mayUseUpstream(person, upstream))
      throw new HttpError(403, 'access_denied', `You do not have access to ${upstream.title ?? upstream.id}.`);
    const asked = typeof req.query.scope === 'string' ? req.query.scope.split(' ').filter(Boolean) : [];
    if (asked.length > 20 || asked.some((s) => !SCOPE_TOKEN.test(s)))
      throw new HttpError(400, 'invalid_scope', 'The requested access is not valid.');
    const held = await heldAccounts(deps.connections, person, upstream.id);
    const reconnecting = req.query.account === undefined ? undefined : held.find((a) => a.accountId === req.query.account);
    if (req.query.account !== undefined && !reconnecting)
      throw new HttpError(
        404,
        'not_found',
        `That ${upstream.title ?? upstream.id} account is not among yours (it may have been disconnected). Connect it again from your connections page.`,
      );
    let begun;
    try {
      begun = await deps.oauth.begin(upstream, {
        redirectUri: redirectUri(upstream.id),
        extraScope: asked,
        previousScope: reconnecting?.scope ?? [],
        // With another account there, the upstream's own session is likely someone else's: let the person choose.
        chooseAccount: held.some((a) => a !== reconnecting),
        signal: callerSignal(res),
      });
    } catch (error) {
      throw asPageError(deps.logger, upstream, error);
    }
    const returnTo = typeof req.query.return_to === 'string' ? safeReturnTo(req.query.return_to) : undefined;
    const pending: PendingConnect = {
      personId: person.id,
      sessionHash: sha256(session.id),
      upstreamId: upstream.id,
      accountId: reconnecting?.accountId,
      returnTo,
      startedAt: Date.now(),
      authorization: begun.pending,
    };
    await deps.store.set(pendingKey(begun.pending.state), deps.sealer.seal(JSON.stringify(pending), aad(begun.pending.state)), {
      ttlMs: PENDING_TTL_MS,
    });
    contextOf(req).log.info(
      { event: 'upstream_connect_started', person: person.id, upstream: upstream.id, account: reconnecting?.accountId },
      'upstream connect started',
    );
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, begun.url.href);
  });

  router.get('/connect/:id/callback', async (req, res) => {
    const upstream = oauthUpstream(req);
    const session = await deps.sessions.read(req);
    if (!session) throw new HttpError(401, 'login_required', 'Your portal session ended. Sign in and connect again.');
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const raw = state ? await deps.store.get(pendingKey(state)) : null;
    let pending: PendingConnect | undefined;
    try {
      pending = raw === null ? undefined : (JSON.parse(deps.sealer.open(raw, aad(state))) as PendingConnect);
    } catch {
      pending = undefined;
    }
    if (!pending || pending.upstreamId !== upstream.id)
      throw new HttpError(400, 'invalid_request', 'This connect link expired or was not issued by this portal. Start again.');
    // Checked before taking it: someone else's browser landing here must not spoil the owner's connect.
    if (pending.personId !== session.person.id || pending.sessionHash !== sha256(session.id)) {
      contextOf(req).log.warn(
        { event: 'upstream_connect_refused', person: session.person.id, upstream: upstream.id, reason: 'state_of_another_session' },
        'connect callback from another session refused',
      );
      throw new HttpError(
        403,
        'access_denied',
        'This connect was started by someone else (or in another browser). Start again from your own session.',
      );
    }
    if ((await deps.store.take(pendingKey(state))) === null)
      throw new HttpError(400, 'invalid_request', 'This connect was already completed. Start again if needed.');
    const callbackUrl = new URL(req.originalUrl, deps.issuer);
    let tokens;
    try {
      tokens = await deps.oauth.finish(upstream, callbackUrl, pending.authorization);
    } catch (error) {
      throw asPageError(deps.logger, upstream, error);
    }
    const { asIssuer, clientKey, resource } = pending.authorization;
    const { account, added } = await deps.connections.save(
      session.person,
      upstream.id,
      tokens,
      { asIssuer, clientKey, resource },
      pending.accountId,
    );
    auditRequest(
      req,
      {
        event: 'upstream_connected',
        outcome: 'success',
        person: session.person,
        upstream: upstream.id,
        details: { scope: tokens.scope.join(' '), account: account.key.accountId, account_name: account.name, added },
      },
      'upstream connected',
    );
    res.setHeader('Cache-Control', 'no-store');
    if (pending.returnTo) {
      res.redirect(303, pending.returnTo);
      return;
    }
    const title = upstream.title ?? upstream.id;
    // The first account is every agent's; another one serves the agents the person chooses it for.
    const another = added && account.key.accountId !== FIRST_ACCOUNT_ID;
    const message = `${displayName(session.person)}, your ${title} account “${account.name}” is ${added ? 'connected' : 'connected again'}. ${
      another
        ? 'Your agents keep using your first account there until you choose this one for them on your connections page.'
        : 'Your agents can now use it as you.'
    }`;
    res.type('html').send(
      renderConnectResultPage({
        title: `Connected ${title}`,
        upstreamTitle: title,
        message,
        signedIn: signedInHeader(csrf, session, displayName(session.person)),
      }),
    );
  });

  router.post('/connect/:id/disconnect', deps.form, async (req, res) => {
    const session = await deps.sessions.read(req);
    if (!session) throw new HttpError(401, 'login_required', 'Your session ended. Sign in again.');
    const upstreamId = String(req.params.id);
    const body = csrf.form(req, session);
    const accountId = accountToDisconnect(await heldAccounts(deps.connections, session.person, upstreamId), body.account);
    const result =
      accountId === undefined
        ? ({ disconnected: false } as const)
        : await deps.connections.disconnect(session.person, upstreamId, accountId);
    if (result.disconnected) auditDisconnect(req, session.person, upstreamId, result, 'connect');
    if (typeof body.return_to === 'string') {
      res.redirect(303, safeReturnTo(body.return_to));
      return;
    }
    const title = deps.upstreams().find((u) => u.id === upstreamId)?.title ?? upstreamId;
    res.type('html').send(
      renderConnectResultPage({
        title: `Disconnected ${title}`,
        upstreamTitle: title,
        signedIn: signedInHeader(csrf, session, displayName(session.person)),
        message: result.disconnected
          ? `The portal no longer holds the tokens of your ${title} account “${result.account.name}”${result.revoked ? ', and they were revoked there' : ''}.`
          : `You had not connected ${title}.`,
      }),
    );
  });

  return router;
}

/** The person's accounts at the upstream, in the order they were added. */
async function heldAccounts(connections: UpstreamConnections, person: Person, upstreamId: string): Promise<AccountSummary[]> {
  return (await connections.listConnections(person)).find((c) => c.upstreamId === upstreamId)?.accounts ?? [];
}

/** The page a person sees when the upstream's sign-in fails; the detail goes to the log only. */
function asPageError(logger: Logger, upstream: UpstreamConfig, error: unknown): HttpError {
  const title = upstream.title ?? upstream.id;
  if (!(error instanceof UpstreamOAuthError))
    return error instanceof HttpError ? error : new HttpError(500, 'server_error', 'internal error', { internal: String(error) });
  logger.warn(
    {
      event: 'upstream_connect_failed',
      upstream: upstream.id,
      errorCode: error.code,
      oauthError: error.oauthError,
      internal: error.internal,
    },
    'upstream connect failed',
  );
  // The response's own error (if any) came from an unknown party: it is neither acted on nor shown (RFC 9207 §2.4).
  if (error.code === 'as_issuer_mismatch') {
    return new HttpError(
      400,
      'issuer_mismatch',
      `The answer that came back from signing in to ${title} does not show that it comes from the authorization server the portal sent you to, so it was not used. Nothing was saved; start again from the portal.`,
    );
  }
  if (error.code === 'as_refused' && error.oauthError === 'access_denied')
    return new HttpError(403, 'access_denied', `${title} was not connected: access was declined there.`);
  if (error.code === 'as_unavailable')
    return new HttpError(502, 'upstream_unavailable', `${title}'s sign-in cannot be reached right now. Try again shortly.`);
  if (error.code === 'as_unsupported')
    return new HttpError(502, 'upstream_misconfigured', `${title} cannot be connected: ask an administrator to check its configuration.`);
  return new HttpError(
    502,
    'upstream_invalid_response',
    `${title}'s sign-in answered something the portal cannot use. Nothing was saved; try again later.`,
  );
}
