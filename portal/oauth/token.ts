import { Router, type Request } from 'express';
import { OAuthError } from '../http/errors.js';
import { rateLimitMiddleware } from '../http/rate-limit.js';
import { authenticateClient } from './client-auth.js';
import type { Client } from './clients.js';
import type { OAuthDeps } from './deps.js';
import { authorizationCodeGrant } from './grants/authorization-code.js';
import { clientCredentialsGrant } from './grants/client-credentials.js';
import { refreshTokenGrant } from './grants/refresh-token.js';
import type { TokenResponse } from './issue-tokens.js';
import { singleValuedForm } from './single-valued.js';

type GrantHandler = (req: Request, client: Client, deps: OAuthDeps) => Promise<TokenResponse>;

/** One handler per `grant_type`: adding a grant is adding a file and an entry here. */
export const GRANT_TYPES: Record<string, GrantHandler> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
};

/** `POST /token` (RFC 6749 §3.2). */
export function tokenRoutes(deps: OAuthDeps): Router {
  const router = Router();
  router.post('/token', rateLimitMiddleware(deps.limits.token), deps.parsers.form, singleValuedForm, async (req, res) => {
    if (!req.is('application/x-www-form-urlencoded')) throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
    const body = req.body as Record<string, unknown>;
    const grantType = body.grant_type as string | undefined;
    const handler = grantType ? GRANT_TYPES[grantType] : undefined;
    if (!handler) throw new OAuthError(grantType ? 'unsupported_grant_type' : 'invalid_request', grantType ? `grant_type ${grantType} is not supported` : 'grant_type is required');
    const client = await authenticateClient(req, deps.clients);
    if (!client.grantTypes.includes(grantType!)) throw new OAuthError('unauthorized_client', `this client is not registered for ${grantType}`);
    // RFC 9449 §5: with a valid proof, every grant binds its tokens to the proof's key.
    if (req.headers.dpop !== undefined) req.dpopProof = await deps.dpop.check(req, { htu: `${deps.issuer}/token`, clientId: client.clientId });
    const tokens = await handler(req, client, deps);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    res.json(tokens);
  });
  return router;
}
