import { Router, type Request, type Response } from 'express';
import * as oauth from 'oauth4webapi';
import { systemClock, type Clock } from '../clock.js';
import { constantTimeEqual, randomToken, sha256 } from '../crypto/hash.js';
import { readCookie, writeCookie } from '../http/cookies.js';
import { portalCookieName } from '../http/portal-cookies.js';
import { HttpError } from '../http/errors.js';
import type { RateLimit } from '../http/rate-limit.js';
import { IdpError, type IdpClient } from './idp-client.js';
import { personFromClaims } from './idp-claims.js';
import type { IdpPeople } from './idp-people.js';
import type { PendingLogins } from './pending-logins.js';
import { safeReturnTo } from './return-to.js';
import type { SessionManager } from './sessions.js';
import { contextOf } from '../http/request-context.js';

export interface IdpRoutesOptions {
  issuer: string;
  secure: boolean;
  idps: IdpClient[];
  pending: PendingLogins;
  idpPeople: IdpPeople;
  sessions: SessionManager;
  /** Sign-ins started per client IP (each one holds a pending record for ten minutes). */
  perIp: RateLimit;
  /** When claims were received (default the real time). */
  clock?: Clock;
}

/** The IdP's callback: `{issuer}/login/{idp}/callback`, registered at the IdP as the redirect URI. */
export function idpRedirectUri(issuer: string, idpId: string): string {
  return `${issuer}/login/${idpId}/callback`;
}

/**
 * `GET /login/{idp}` starts an OpenID Connect sign-in (OIDC Core 1.0 §3.1.2: code, PKCE, state,
 * nonce); `GET /login/{idp}/callback` finishes it and starts the portal session. A failure is an
 * HTML page that says what happened and never creates a session.
 */
export function idpRoutes(options: IdpRoutesOptions): Router {
  const router = Router();
  const clock = options.clock ?? systemClock;
  // Ties a pending sign-in to the browser that started it, so an attacker cannot finish their own
  // sign-in in a victim's browser (login CSRF, RFC 6749 §10.12): the state alone is not enough.
  const bindingCookie = portalCookieName('idpBinding', options.secure);

  function idpFor(req: Request): IdpClient {
    const client = options.idps.find((idp) => idp.config.id === req.params.idp);
    if (!client) throw new HttpError(404, 'unknown_idp', 'There is no such sign-in option here. Go back and choose another.');
    return client;
  }

  router.get('/login/:idp', async (req, res) => {
    const client = idpFor(req);
    await options.perIp.hit(req.ip ?? 'unknown');
    const returnTo = safeReturnTo(req.query.return_to);
    const params = {
      state: oauth.generateRandomState(),
      nonce: oauth.generateRandomNonce(),
      codeVerifier: oauth.generateRandomCodeVerifier(),
      redirectUri: idpRedirectUri(options.issuer, client.config.id),
    };
    const url = await client.authorizationUrl(params).catch((error: unknown) => {
      throw pageFor(client, error);
    });
    const binding = browserBinding(req, res);
    await options.pending.save(params.state, {
      idp: client.config.id,
      nonce: params.nonce,
      codeVerifier: params.codeVerifier,
      returnTo,
      browserHash: sha256(binding),
      createdAt: clock.now(),
    });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, url.href);
  });

  router.get('/login/:idp/callback', async (req, res) => {
    const client = idpFor(req);
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const pending = state ? await options.pending.take(state) : undefined;
    const binding = readCookie(req, bindingCookie);
    if (!pending || pending.idp !== client.config.id) {
      contextOf(req).log.info(
        { event: 'login_failed', idp: client.config.id, reason: 'no_pending_login' },
        'IdP callback without a pending sign-in',
      );
      throw new HttpError(
        400,
        'login_expired',
        'This sign-in is not pending here: it expired, was already used, or was not started by Gatehouse. Start again from the sign-in page.',
      );
    }
    if (!binding || !constantTimeEqual(sha256(binding), pending.browserHash)) {
      contextOf(req).log.warn(
        { event: 'login_failed', idp: client.config.id, reason: 'browser_mismatch' },
        'IdP callback in another browser than the one that started the sign-in',
      );
      throw new HttpError(400, 'login_expired', 'This sign-in was started in another browser. Start again from the sign-in page.');
    }
    const params = {
      state,
      nonce: pending.nonce,
      codeVerifier: pending.codeVerifier,
      redirectUri: idpRedirectUri(options.issuer, client.config.id),
    };
    const claims = await client.finish(new URL(req.originalUrl, options.issuer), params).catch((error: unknown) => {
      const page = pageFor(client, error);
      contextOf(req).log.info({ event: 'login_failed', idp: client.config.id, reason: page.code }, page.internal ?? page.message);
      throw page;
    });
    const person = personFromClaims(client.config, claims, clock.now());
    await options.idpPeople.remember(person);
    // The session lasts no longer than these claims are trusted: then the IdP is asked again.
    await options.sessions.create(res, person, { maxAgeMs: client.config.claimsMaxAgeMs });
    contextOf(req).log.info({ event: 'login', person: person.id, idp: client.config.id }, 'signed in');
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, pending.returnTo);
  });

  function browserBinding(req: Request, res: Response): string {
    const existing = readCookie(req, bindingCookie);
    // Reused when present, so sign-ins started in two tabs can both finish.
    const value = existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing) ? existing : randomToken(24);
    writeCookie(res, bindingCookie, value, { secure: options.secure, maxAgeMs: 10 * 60_000 });
    return value;
  }

  return router;
}

/** The page a person sees for a failed IdP step: what happened at which IdP, nothing internal. */
function pageFor(client: IdpClient, error: unknown): HttpError {
  const title = client.config.title ?? client.config.id;
  if (!(error instanceof IdpError))
    return error instanceof HttpError
      ? error
      : new HttpError(500, 'server_error', 'internal error', { internal: (error as Error)?.message });
  switch (error.code) {
    case 'idp_unavailable':
      return new HttpError(
        502,
        'idp_unavailable',
        `Gatehouse could not reach ${title} to sign you in. You are not signed in; try again in a moment.`,
        { internal: error.internal },
      );
    case 'idp_denied':
      if (error.idpError === 'access_denied') {
        return new HttpError(403, 'login_cancelled', `Sign-in at ${title} was cancelled or refused. You are not signed in.`, {
          internal: error.internal,
        });
      }
      return new HttpError(
        403,
        'idp_denied',
        `${title} did not sign you in${error.idpError ? ` (it answered "${error.idpError}")` : ''}. You are not signed in.`,
        { internal: error.internal },
      );
    case 'idp_invalid_response':
      return new HttpError(
        502,
        'idp_invalid_response',
        `The answer from ${title} could not be verified, so you are not signed in. Start again; if this keeps happening, tell your administrator.`,
        { internal: error.internal },
      );
  }
}
