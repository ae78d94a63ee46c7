import { Router, type Request, type Response } from 'express';
import { randomToken } from '../crypto/hash.js';
import { readCookie, writeCookie } from '../http/cookies.js';
import { portalCookieName } from '../http/portal-cookies.js';
import { HttpError } from '../http/errors.js';
import { auditRequest } from '../audit/request-audit.js';
import type { RateLimit } from '../http/rate-limit.js';
import { pageCsp } from '../web/html.js';
import { renderLoginPage } from '../web/login-page.js';
import { renderContinuePage } from '../web/continue-page.js';
import { createPageCsrf } from '../web/page-csrf.js';
import type { Accounts } from './accounts.js';
import { safeReturnTo } from './return-to.js';
import type { SessionManager } from './sessions.js';

export interface LoginRoutesOptions {
  accounts: Accounts;
  sessions: SessionManager;
  secret: string;
  /** The portal's public URL: sign-out accepts a post from its origin. */
  issuer: string;
  secure: boolean;
  /** Sign-in attempts per client IP. */
  perIp: RateLimit;
  /** Failed sign-ins per account. */
  perAccount: RateLimit;
  form: import('express').RequestHandler;
  /** Whether the built-in accounts' form is offered and accepted (`login.builtin`). */
  builtin?: boolean;
  /** Identity providers, offered as buttons; `primary` (or the only way in) skips the chooser. */
  idps?: Array<{ id: string; title: string; primary: boolean }>;
}

const PAGE_CSP = pageCsp();

/**
 * `GET /login`, `POST /login`, `POST /logout`. The sign-in form carries a double-submit CSRF
 * token (a cookie and a field that must match), so no site can sign a person in as someone else;
 * sign-out needs the page's token or a same-origin `Origin`, so no site can sign a person out.
 */
export function loginRoutes(options: LoginRoutesOptions): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: options.secret, issuer: options.issuer });
  const csrfCookie = portalCookieName('loginCsrf', options.secure);

  const builtin = options.builtin ?? true;
  const idps = options.idps ?? [];
  // With a primary IdP, or no other way in, the chooser is only shown on request (`?choose`).
  const direct = idps.find((idp) => idp.primary) ?? (!builtin && idps.length === 1 ? idps[0] : undefined);

  function render(req: Request, res: Response, status: number, view: { returnTo: string; error?: string; username?: string }) {
    let nonce = readCookie(req, csrfCookie);
    if (!nonce || !/^[A-Za-z0-9_-]{20,64}$/.test(nonce)) {
      nonce = randomToken(18);
      writeCookie(res, csrfCookie, nonce, { secure: options.secure });
    }
    res.status(status).setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    const choices = idps.map((idp) => ({ title: idp.title, href: `/login/${idp.id}?return_to=${encodeURIComponent(view.returnTo)}` }));
    res.type('html').send(renderLoginPage({ ...view, csrf: csrf.signInToken(nonce), builtin, idps: choices }));
  }

  router.get('/login', async (req, res) => {
    const returnTo = safeReturnTo(req.query.return_to);
    // `reauth`: an agent asked for a fresh sign-in (prompt=login), so a live session is not enough.
    if (req.query.reauth !== '1' && (await options.sessions.read(req))) {
      res.redirect(303, returnTo);
      return;
    }
    if (direct && req.query.choose === undefined) {
      res.redirect(303, `/login/${direct.id}?return_to=${encodeURIComponent(returnTo)}`);
      return;
    }
    render(req, res, 200, { returnTo });
  });

  router.post('/login', options.form, async (req, res) => {
    if (!builtin)
      throw new HttpError(403, 'builtin_login_disabled', 'Signing in with a password is switched off here. Use your company sign-in.');
    const body = csrf.signInForm(req, readCookie(req, csrfCookie));
    const returnTo = safeReturnTo(body.return_to);
    const username = typeof body.username === 'string' ? body.username.slice(0, 64) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    await options.perIp.hit(req.ip ?? 'unknown');
    if (await options.perAccount.exceeded(username.toLowerCase())) await options.perAccount.hit(username.toLowerCase());
    const person = username && password ? await options.accounts.verify(username, password) : undefined;
    if (!person) {
      await options.perAccount.hit(username.toLowerCase());
      auditRequest(req, { event: 'login_failed', outcome: 'failure', details: { username, idp: 'local' } }, 'sign-in failed');
      render(req, res, 401, { returnTo, username, error: 'Wrong username or password.' });
      return;
    }
    await options.sessions.create(res, person);
    auditRequest(req, { event: 'login', outcome: 'success', person, details: { idp: 'local' } }, 'signed in');
    // A page, not a 303: where the person was going may end elsewhere (back at the agent), which
    // the sign-in page's CSP would block for a redirect chain that began with its form.
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(renderContinuePage({ url: returnTo, going: 'Signed in, continuing' }));
  });

  router.post('/logout', options.form, async (req, res) => {
    const session = await options.sessions.read(req);
    // Without a live session there is nothing to end, and nothing a forged post could do.
    if (session) csrf.form(req, session, { sameOriginSuffices: true });
    await options.sessions.destroy(req, res);
    res.redirect(303, '/login');
  });

  return router;
}
