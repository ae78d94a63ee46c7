import type { Request } from 'express';
import { OAuthError } from '../../http/errors.js';
import { auditRequest } from '../../audit/request-audit.js';
import { mayUseUpstream } from '../../policy/access.js';
import type { Client } from '../clients.js';
import type { OAuthDeps } from '../deps.js';
import { assertRefreshKey } from '../dpop-binding.js';
import { issueTokens, type TokenResponse } from '../issue-tokens.js';
import { parseScope } from '../scopes.js';

/**
 * `grant_type=refresh_token` (OAuth 2.1 §4.3): rotates the token, detects reuse (which
 * revokes the grant), and re-checks that the person still exists and may use the upstreams.
 */
export async function refreshTokenGrant(req: Request, client: Client, deps: OAuthDeps): Promise<TokenResponse> {
  const body = req.body as Record<string, string | undefined>;
  const token = body.refresh_token;
  if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
  const invalid = () => new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked');

  const known = await deps.refreshTokens.peek(token);
  if (!known) throw invalid();
  if (known.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
  const grant = await deps.grants.find(known.grantId);
  if (!grant) throw invalid();
  assertRefreshKey(req, grant, client);

  const scope = body.scope === undefined ? grant.scope : parseScope(body.scope);
  if (scope.some((s) => !grant.scope.includes(s))) throw new OAuthError('invalid_scope', 'a refresh may only narrow the granted scope');
  if (body.resource !== undefined && deps.resources.find(body.resource)?.url !== grant.resource) {
    throw new OAuthError('invalid_target', 'resource differs from the grant');
  }

  const outcome = await deps.refreshTokens.spend(token);
  if (outcome.status === 'unknown') throw invalid();
  if (outcome.status === 'reused') {
    await deps.grants.revoke(grant.id);
    auditRequest(req, { event: 'refresh_reused', outcome: 'failure', person: grant.person, client: { id: client.clientId, name: client.clientName }, details: { grantId: grant.id } }, 'spent refresh token reused: grant revoked');
    throw invalid();
  }

  const person = await deps.people.current(grant.person);
  const resource = deps.resources.find(grant.resource);
  const upstreamIds = grant.upstreamIds.filter((id) => {
    const upstream = deps.resources.upstream(id);
    return person !== undefined && upstream !== undefined && mayUseUpstream(person, upstream);
  });
  if (!person || !resource || (resource.kind !== 'mcp-aggregate' && resource.kind !== 'admin' && upstreamIds.length === 0)) {
    await deps.grants.revoke(grant.id);
    auditRequest(req, { event: 'refresh_denied', outcome: 'denied', person: grant.person, client: { id: client.clientId, name: client.clientName }, details: { grantId: grant.id } }, 'refresh denied: access was withdrawn');
    throw new OAuthError('invalid_grant', 'access to this resource was withdrawn');
  }
  // A grant with a refresh token is long-lived (grants saved before the portal recorded the choice included).
  const tokens = await issueTokens(deps, client, { ...grant, person, scope, upstreamIds, longLived: true, refreshedAt: Date.now(), dpopJkt: req.dpopProof?.jkt });
  auditRequest(req, { event: 'token_refreshed', outcome: 'success', person, client: { id: client.clientId, name: client.clientName }, details: { grantId: grant.id } }, 'token refreshed');
  return tokens;
}
