import type { Request } from 'express';
import { OAuthError } from '../../http/errors.js';
import { auditRequest } from '../../audit/request-audit.js';
import { contextOf } from '../../http/request-context.js';
import { mayUseUpstream } from '../../policy/access.js';
import type { Client } from '../clients.js';
import type { OAuthDeps } from '../deps.js';
import { assertRefreshKey } from '../dpop-binding.js';
import { issueTokens, type TokenResponse } from '../issue-tokens.js';
import { parseScope } from '../scopes.js';

/**
 * How often a refresh decides again when its token or grant changed between read and write (a
 * concurrent refresh or a revocation): each round re-reads what is there now.
 */
const ROTATION_ATTEMPTS = 3;

/**
 * `grant_type=refresh_token` (OAuth 2.1 §4.3): rotates the token, detects reuse (which
 * revokes the grant), and re-checks that the person still exists and may use the upstreams.
 * The token and its grant are read in one round trip to the Store and rotated in another.
 */
export async function refreshTokenGrant(req: Request, client: Client, deps: OAuthDeps): Promise<TokenResponse> {
  const body = req.body as Record<string, string | undefined>;
  const token = body.refresh_token;
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
  const invalid = () => new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked');
  const requestedScope = body.scope === undefined ? undefined : parseScope(body.scope);
  const requestedResource = body.resource === undefined ? undefined : (deps.resources.find(body.resource)?.url ?? null);

  for (let attempt = 1; attempt <= ROTATION_ATTEMPTS; attempt++) {
    const presented = await deps.refreshTokens.read(token);
    if (!presented) throw invalid();
    if (presented.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
    const { grant } = presented;
    if (!grant) throw invalid();
    assertRefreshKey(req, grant, client);

    const scope = requestedScope ?? grant.scope;
    if (scope.some((s) => !grant.scope.includes(s))) throw new OAuthError('invalid_scope', 'a refresh may only narrow the granted scope');
    if (requestedResource !== undefined && requestedResource !== grant.resource)
      throw new OAuthError('invalid_target', 'resource differs from the grant');

    // Ends the grant, and says why in the audit log.
    const revokeGrant = async (event: 'refresh_reused' | 'refresh_denied', outcome: 'failure' | 'denied', message: string) => {
      await deps.grants.revoke(grant.id);
      auditRequest(
        req,
        { event, outcome, person: grant.person, client: { id: client.clientId, name: client.clientName }, details: { grantId: grant.id } },
        message,
      );
    };

    if (presented.use === 'reused') {
      await revokeGrant('refresh_reused', 'failure', 'spent refresh token reused: grant revoked');
      throw invalid();
    }

    const person = await deps.people.current(grant.person);
    const resource = deps.resources.find(grant.resource);
    const upstreamIds = grant.upstreamIds.filter((id) => {
      const upstream = deps.resources.upstream(id);
      return person !== undefined && upstream !== undefined && mayUseUpstream(person, upstream);
    });
    if (!person || !resource || (resource.kind !== 'mcp-aggregate' && resource.kind !== 'admin' && upstreamIds.length === 0)) {
      await revokeGrant('refresh_denied', 'denied', 'refresh denied: access was withdrawn');
      throw new OAuthError('invalid_grant', 'access to this resource was withdrawn');
    }
    // A grant with a refresh token is long-lived (grants saved before the portal recorded the choice included).
    const refreshed = {
      ...grant,
      person,
      scope,
      upstreamIds,
      longLived: true,
      refreshedAt: deps.clock.now(),
      dpopJkt: contextOf(req).dpopJkt,
    };
    const refreshToken = await deps.refreshTokens.rotate(presented, refreshed, deps.config.tokens.refreshTtlMs);
    if (refreshToken === undefined) continue;
    const tokens = await issueTokens(deps, client, refreshed, { refreshToken });
    auditRequest(
      req,
      {
        event: 'token_refreshed',
        outcome: 'success',
        person,
        client: { id: client.clientId, name: client.clientName },
        details: { grantId: grant.id },
      },
      'token refreshed',
    );
    return tokens;
  }
  throw invalid();
}
