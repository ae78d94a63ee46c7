import type { OAuthDeps } from './deps.js';
import type { AccessTokenClaims } from './access-tokens.js';

/** The grant behind an access token (verified) or a refresh token; `undefined` for anything else. */
export async function grantOfToken(
  deps: OAuthDeps,
  token: string,
): Promise<{ grantId: string; clientId: string; type: 'access_token' | 'refresh_token'; claims?: AccessTokenClaims } | undefined> {
  if (token.split('.').length === 3) {
    try {
      const claims = await deps.accessTokens.verify(token);
      return { grantId: claims.grant_id, clientId: claims.client_id, type: 'access_token', claims };
    } catch {
      return undefined;
    }
  }
  const refresh = await deps.refreshTokens.peek(token);
  if (!refresh || refresh.spent) return undefined;
  return { grantId: refresh.grantId, clientId: refresh.clientId, type: 'refresh_token' };
}
