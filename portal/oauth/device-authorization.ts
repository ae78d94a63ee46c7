import { Router } from 'express';
import { OAuthError } from '../http/errors.js';
import { auditRequest } from '../audit/request-audit.js';
import { rateLimitMiddleware } from '../http/rate-limit.js';
import { checkAdminScope, checkResource, checkScope } from './authorize.js';
import { authenticateClient } from './client-auth.js';
import type { OAuthDeps } from './deps.js';
import { DEVICE_CODE_GRANT_TYPE } from './grant-types.js';
import { singleValuedForm } from './single-valued.js';

/**
 * `POST /device_authorization` (RFC 8628 §3.1-3.2): a client without a browser asks for a device
 * code to poll with and a user code for the person to enter at `{issuer}/device`. The client
 * authenticates as at the token endpoint and must be registered for the device code grant;
 * `scope` and `resource` (RFC 8707) are checked as `/authorize` checks them.
 */
export function deviceAuthorizationRoutes(deps: OAuthDeps): Router {
  const router = Router();
  router.post('/device_authorization', rateLimitMiddleware(deps.limits.token), deps.parsers.form, singleValuedForm, async (req, res) => {
    if (!req.is('application/x-www-form-urlencoded'))
      throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
    const client = await authenticateClient(req, deps.clients, deps.clientAssertions);
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT_TYPE))
      throw new OAuthError('unauthorized_client', 'this client is not registered for the device code grant');
    const body = req.body as Record<string, string | undefined>;
    const scope = checkScope(body, client);
    const resource = checkResource(body, deps);
    checkAdminScope(scope, resource, deps);

    const { deviceCode, userCode, record } = await deps.deviceAuthorizations.create({ clientId: client.clientId, scope, resource });
    auditRequest(
      req,
      {
        event: 'device_authorization_started',
        outcome: 'success',
        client: { id: client.clientId, name: client.clientName },
        details: { resource, scope: scope.join(' ') },
      },
      'device authorization started',
    );
    const verificationUri = `${deps.issuer}/device`;
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(userCode)}`,
      expires_in: Math.round((record.expiresAt - deps.clock.now()) / 1000),
      interval: record.intervalMs / 1000,
    });
  });
  return router;
}
