import { Router } from 'express';
import { OAuthError } from '../http/errors.js';
import { auditRequest } from '../audit/request-audit.js';
import { rateLimitMiddleware } from '../http/rate-limit.js';
import { authenticateClient } from './client-auth.js';
import type { OAuthDeps } from './deps.js';
import { singleValuedForm } from './single-valued.js';
import { grantOfToken } from './token-lookup.js';

/**
 * `POST /revoke` (RFC 7009). Revoking either token of a grant revokes the grant: its access
 * and refresh tokens stop working on every portal process at once. Unknown tokens, and
 * tokens of other clients, are answered 200 without effect (RFC 7009 §2.2).
 */
export function revokeRoutes(deps: OAuthDeps): Router {
  const router = Router();
  router.post('/revoke', rateLimitMiddleware(deps.limits.token), deps.parsers.form, singleValuedForm, async (req, res) => {
    const client = await authenticateClient(req, deps.clients, deps.clientAssertions);
    const token = (req.body as Record<string, unknown>).token;
    if (typeof token !== 'string' || !token) throw new OAuthError('invalid_request', 'token is required');
    const found = await grantOfToken(deps, token);
    if (found && found.clientId === client.clientId) {
      await deps.grants.revoke(found.grantId);
      auditRequest(
        req,
        {
          event: 'token_revoked',
          outcome: 'success',
          client: { id: client.clientId, name: client.clientName },
          details: { grantId: found.grantId },
        },
        'grant revoked by its client',
      );
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).end();
  });
  return router;
}
