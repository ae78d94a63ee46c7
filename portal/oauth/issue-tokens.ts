import type { IncomingMessage } from 'node:http';
import type { AuditInput } from '../audit/event.js';
import { auditRequest } from '../audit/request-audit.js';
import type { Client } from './clients.js';
import type { OAuthDeps } from './deps.js';
import type { Grant } from './grant-store.js';
import { formatScope } from './scopes.js';

/** A successful token response (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  /** `DPoP` when the access token is bound to the key of the request's DPoP proof (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/**
 * Saves the grant and issues its tokens: an access token for the grant's resource and, when the
 * person allowed long-lived access and the client is registered for the `refresh_token` grant, a
 * refresh token. Never one silently (OAuth 2.1 §4.3; RFC 9700 §2.2.2). `rotated`: a refresh already
 * saved the grant and its next refresh token in one step (see `RefreshTokens.rotate`).
 */
export async function issueTokens(
  deps: Pick<OAuthDeps, 'config' | 'grants' | 'accessTokens' | 'refreshTokens' | 'clients'>,
  client: Client,
  grant: Grant,
  rotated?: { refreshToken: string },
): Promise<TokenResponse> {
  const { accessTtlMs, refreshTtlMs } = deps.config.tokens;
  const refreshable = grant.kind === 'person' && grant.longLived === true && client.grantTypes.includes('refresh_token');
  if (!rotated) await deps.grants.save(grant, refreshable ? refreshTtlMs : accessTtlMs);
  const { token, expiresIn } = await deps.accessTokens.issue(grant, accessTtlMs);
  const response: TokenResponse = {
    access_token: token,
    token_type: grant.dpopJkt ? 'DPoP' : 'Bearer',
    expires_in: expiresIn,
    scope: formatScope(grant.scope),
  };
  if (rotated) response.refresh_token = rotated.refreshToken;
  else if (refreshable) response.refresh_token = await deps.refreshTokens.issue(grant.id, client.clientId, refreshTtlMs);
  await deps.clients.touch(client);
  return response;
}

/** Records `token_issued` for a grant's first tokens: to whom, to which client, and the grant's own details. */
export function auditTokensIssued(
  req: IncomingMessage,
  person: NonNullable<AuditInput['person']>,
  client: Client,
  details: { grant: string; grantId: string } & Record<string, unknown>,
  message = 'token issued',
): void {
  auditRequest(
    req,
    { event: 'token_issued', outcome: 'success', person, client: { id: client.clientId, name: client.clientName }, details },
    message,
  );
}
