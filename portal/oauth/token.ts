import { Router, type Request } from 'express';
import { OAuthError } from '../http/errors.js';
import { countFailuresByIp, refuseFailingIp } from '../http/rate-limit.js';
import { writeJson } from '../http/write-json.js';
import { authenticateClient } from './client-auth.js';
import type { Client } from './clients.js';
import type { OAuthDeps } from './deps.js';
import { DEVICE_CODE_GRANT_TYPE, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT } from './grant-types.js';
import { authorizationCodeGrant } from './grants/authorization-code.js';
import { clientCredentialsGrant } from './grants/client-credentials.js';
import { deviceCodeGrant } from './grants/device-code.js';
import { jwtBearerGrant } from './grants/jwt-bearer.js';
import { refreshTokenGrant } from './grants/refresh-token.js';
import { tokenExchangeGrant } from './grants/token-exchange.js';
import type { TokenResponse } from './issue-tokens.js';
import { singleValuedForm } from './single-valued.js';
import { contextOf } from '../http/request-context.js';

type GrantHandler = (req: Request, client: Client, deps: OAuthDeps) => Promise<TokenResponse>;

/** One handler per `grant_type`: adding a grant is adding a file and an entry here. */
export const GRANT_TYPES: Record<string, GrantHandler> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
  [JWT_BEARER_GRANT]: jwtBearerGrant,
  [TOKEN_EXCHANGE_GRANT]: tokenExchangeGrant,
  [DEVICE_CODE_GRANT_TYPE]: deviceCodeGrant,
};

/**
 * `POST /token` (RFC 6749 §3.2). Limited per authenticated client, so that agents behind one
 * address do not throttle each other, and per IP for failed requests only (a guess from one address).
 */
export function tokenRoutes(deps: OAuthDeps): Router {
  const router = Router();
  router.post('/token', refuseFailingIp(deps.limits.token), deps.parsers.form, singleValuedForm, async (req, res) => {
    if (!req.is('application/x-www-form-urlencoded'))
      throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
    const body = req.body as Record<string, unknown>;
    const grantType = body.grant_type as string | undefined;
    const handler = grantType ? GRANT_TYPES[grantType] : undefined;
    if (!handler)
      throw new OAuthError(
        grantType ? 'unsupported_grant_type' : 'invalid_request',
        grantType ? `grant_type ${grantType} is not supported` : 'grant_type is required',
      );
    const client = await authenticateClient(req, deps.clients, deps.clientAssertions);
    await deps.limits.tokenPerClient.hit(clientLimitSubject(client, req));
    if (!client.grantTypes.includes(grantType!))
      throw new OAuthError('unauthorized_client', `this client is not registered for ${grantType}`);
    // RFC 9449 §5: with a valid proof, every grant binds its tokens to the proof's key.
    if (req.headers.dpop !== undefined)
      contextOf(req).dpopJkt = (await deps.dpop.check(req, { htu: `${deps.issuer}/token`, clientId: client.clientId })).jkt;
    const tokens = await handler(req, client, deps);
    writeJson(res, 200, tokens, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  });
  router.use('/token', countFailuresByIp(deps.limits.token));
  return router;
}

/**
 * Whose budget a token request uses: the client's; for a metadata-document client, which every
 * installation of an app shares, the client's at this address.
 */
function clientLimitSubject(client: Client, req: Request): string {
  return client.kind === 'metadata-document' ? `${client.clientId} ${req.ip ?? 'unknown'}` : client.clientId;
}
