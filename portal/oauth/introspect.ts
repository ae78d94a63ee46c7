import { Router } from 'express';
import { OAuthError } from '../http/errors.js';
import { rateLimitMiddleware } from '../http/rate-limit.js';
import { authenticateClient } from './client-auth.js';
import type { OAuthDeps } from './deps.js';
import { formatScope } from './scopes.js';
import { singleValuedForm } from './single-valued.js';
import { grantOfToken } from './token-lookup.js';

/**
 * `POST /introspect` (RFC 7662) for upstreams that prefer asking to verifying JWTs. The caller
 * must authenticate as a service client (an upstream's own identity) or be the token's client.
 */
export function introspectRoutes(deps: OAuthDeps): Router {
  const router = Router();
  router.post('/introspect', rateLimitMiddleware(deps.limits.token), deps.parsers.form, singleValuedForm, async (req, res) => {
    const caller = await authenticateClient(req, deps.clients);
    if (caller.tokenEndpointAuthMethod === 'none') throw new OAuthError('invalid_client', 'introspection needs client authentication');
    const token = (req.body as Record<string, unknown>).token;
    if (typeof token !== 'string' || !token) throw new OAuthError('invalid_request', 'token is required');
    res.setHeader('Cache-Control', 'no-store');
    const found = await grantOfToken(deps, token);
    const grant = found ? await deps.grants.find(found.grantId) : undefined;
    if (!found || !grant || (caller.kind !== 'service' && caller.clientId !== found.clientId)) {
      res.json({ active: false });
      return;
    }
    res.json({
      active: true,
      token_type: found.type === 'access_token' ? 'Bearer' : 'refresh_token',
      client_id: grant.clientId,
      sub: grant.person.id,
      scope: found.claims?.scope ?? formatScope(grant.scope),
      aud: grant.resource,
      iss: deps.issuer,
      ...(found.claims ? { exp: found.claims.exp, iat: found.claims.iat, jti: found.claims.jti } : {}),
      ...(grant.person.email && grant.person.emailVerified ? { email: grant.person.email } : {}),
      ...(grant.person.username ? { username: grant.person.username } : {}),
    });
  });
  return router;
}
