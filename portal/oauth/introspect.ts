import { Router } from 'express';
import { OAuthError } from '../http/errors.js';
import { rateLimitMiddleware } from '../http/rate-limit.js';
import { authenticateClient } from './client-auth.js';
import type { OAuthDeps } from './deps.js';
import { formatScope } from './scopes.js';
import { singleValuedForm } from './single-valued.js';
import { grantOfToken } from './token-lookup.js';

/**
 * `POST /introspect` (RFC 7662). The caller authenticates with a secret (public clients may not
 * introspect) and learns about its own tokens only: a token issued to any other client, a
 * person's token asked about by a service client included, is `{"active": false}` (RFC 7662 §2.2
 * lets the server decide who may see what, §4 says limit it). Least privilege: the portal never
 * hands its access tokens to upstreams (they get per-request credentials of their own), so no
 * client has a reason to inspect another's; a token of the portal's is verified with the JWKS.
 */
export function introspectRoutes(deps: OAuthDeps): Router {
  const router = Router();
  router.post('/introspect', rateLimitMiddleware(deps.limits.token), deps.parsers.form, singleValuedForm, async (req, res) => {
    const caller = await authenticateClient(req, deps.clients, deps.clientAssertions);
    if (caller.tokenEndpointAuthMethod === 'none') throw new OAuthError('invalid_client', 'introspection needs client authentication');
    const token = (req.body as Record<string, unknown>).token;
    if (typeof token !== 'string' || !token) throw new OAuthError('invalid_request', 'token is required');
    res.setHeader('Cache-Control', 'no-store');
    const found = await grantOfToken(deps, token);
    const grant = found ? await deps.grants.find(found.grantId) : undefined;
    if (!found || !grant || caller.clientId !== found.clientId) {
      res.json({ active: false });
      return;
    }
    res.json({
      active: true,
      token_type: found.type === 'refresh_token' ? 'refresh_token' : found.claims?.cnf ? 'DPoP' : 'Bearer',
      client_id: grant.clientId,
      sub: grant.person.id,
      scope: found.claims?.scope ?? formatScope(grant.scope),
      aud: grant.resource,
      iss: deps.issuer,
      ...(found.claims ? { exp: found.claims.exp, iat: found.claims.iat, jti: found.claims.jti } : {}),
      // RFC 9449 §6.2: the key a DPoP-bound token is bound to.
      ...(found.claims?.cnf ? { cnf: { jkt: found.claims.cnf.jkt } } : {}),
      ...(grant.person.email && grant.person.emailVerified ? { email: grant.person.email } : {}),
      ...(grant.person.username ? { username: grant.person.username } : {}),
    });
  });
  return router;
}
