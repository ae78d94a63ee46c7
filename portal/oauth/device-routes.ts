import { Router, type Response } from 'express';
import { auditRequest } from '../audit/request-audit.js';
import { HttpError } from '../http/errors.js';
import { displayName, type Person } from '../login/person.js';
import { renderDeviceCodePage, renderDeviceDonePage } from '../web/device-page.js';
import { pageCsp } from '../web/html.js';
import { createPageCsrf } from '../web/page-csrf.js';
import type { DeviceAuthorizationRequest } from './authorization-requests.js';
import type { OAuthDeps } from './deps.js';
import type { DeviceApproval } from './device-authorizations.js';

const PAGE_CSP = pageCsp();

/**
 * `GET/POST /device`: the verification URI of RFC 8628 §3.3. The person signs in (the usual
 * sign-in), types the user code, and lands on the usual consent page, which shows the client, the
 * resource and the scopes. Entering a code binds its device authorization to that person: nobody
 * else can take it over. Entries count against a per-person limit (RFC 8628 §5.1).
 */
export function deviceRoutes(deps: OAuthDeps): Router {
  const router = Router();
  const csrf = createPageCsrf({ secret: deps.config.secret, issuer: deps.issuer });
  const FORM = 'device';

  router.get('/device', async (req, res) => {
    const done = req.query.done;
    if (done === 'allowed' || done === 'denied') {
      sendPage(res, renderDeviceDonePage({ allowed: done === 'allowed' }));
      return;
    }
    const userCode = typeof req.query.user_code === 'string' ? req.query.user_code.slice(0, 32) : undefined;
    const here = `/device${userCode ? `?user_code=${encodeURIComponent(userCode)}` : ''}`;
    const session = await deps.sessions.read(req);
    if (!session) {
      res.redirect(303, `/login?return_to=${encodeURIComponent(here)}`);
      return;
    }
    sendPage(res, renderDeviceCodePage({ csrf: csrf.token(session, FORM), personName: displayName(session.person), userCode }));
  });

  router.post('/device', deps.parsers.form, async (req, res) => {
    const session = await deps.sessions.read(req);
    if (!session) throw new HttpError(401, 'login_required', 'Your session ended. Sign in and enter the code again.');
    const body = csrf.form(req, session, { subject: FORM });
    const person = session.person;
    await deps.limits.userCode.hit(person.id);
    const found = await deps.deviceAuthorizations.findByUserCode(typeof body.user_code === 'string' ? body.user_code : '');
    if (!found) {
      auditRequest(
        req,
        { event: 'device_code_refused', outcome: 'failure', person, details: { reason: 'unknown, expired or used' } },
        'user code refused',
      );
      throw new HttpError(
        400,
        'invalid_grant',
        'That code is not valid: it is mistyped, expired or already used. Check the code on your device, or start again there.',
      );
    }
    const client = { id: found.record.clientId, name: (await deps.clients.find(found.record.clientId))?.clientName };
    if (!(await deps.deviceAuthorizations.bind(found.id, person.id))) {
      auditRequest(
        req,
        { event: 'device_code_refused', outcome: 'denied', person, client, details: { reason: 'entered by another person' } },
        'user code refused: it belongs to another person',
      );
      throw new HttpError(403, 'access_denied', 'Someone else already entered this code. Start again on your device.');
    }
    const request = await deps.requests.create({
      clientId: found.record.clientId,
      redirectUri: `${deps.issuer}/device`,
      scope: found.record.scope,
      resource: found.record.resource,
      device: { id: found.id },
    });
    auditRequest(
      req,
      { event: 'device_code_entered', outcome: 'success', person, client, details: { resource: found.record.resource } },
      'user code entered',
    );
    res.redirect(303, `/consent?request=${encodeURIComponent(request.id)}`);
  });

  return router;
}

/**
 * Records the person's answer to a device request from the consent page (RFC 8628 §3.3): the
 * device's next poll gets tokens or `access_denied`; the person's browser goes to a page that says so.
 */
export async function answerDeviceRequest(
  deps: OAuthDeps,
  res: Response,
  request: DeviceAuthorizationRequest,
  person: Person,
  answer: DeviceApproval | 'denied',
): Promise<void> {
  if (!(await deps.deviceAuthorizations.decide(request.device.id, person.id, answer))) {
    throw new HttpError(400, 'expired_token', 'This code expired, or was already answered. Start again on your device.');
  }
  res.redirect(303, `/device?done=${answer === 'denied' ? 'denied' : 'allowed'}`);
}

function sendPage(res: Response, page: string): void {
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('Cache-Control', 'no-store');
  res.type('html').send(page);
}
