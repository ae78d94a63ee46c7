import type { Request } from 'express';
import { randomToken } from '../../crypto/hash.js';
import { OAuthError } from '../../http/errors.js';
import { contextOf } from '../../http/request-context.js';
import type { Client } from '../clients.js';
import type { OAuthDeps } from '../deps.js';
import { auditTokensIssued, issueTokens, type TokenResponse } from '../issue-tokens.js';
import { parseScope } from '../scopes.js';

/**
 * `grant_type=client_credentials` for configured service clients (automation that acts as
 * itself): tokens are attributed to `service:{client_id}` and reach only its listed upstreams.
 */
export async function clientCredentialsGrant(req: Request, client: Client, deps: OAuthDeps): Promise<TokenResponse> {
  if (client.kind !== 'service') throw new OAuthError('unauthorized_client', 'only service clients may use client_credentials');
  const body = req.body as Record<string, string | undefined>;
  const allowedScope = parseScope(client.scope);
  const scope = body.scope === undefined ? allowedScope : parseScope(body.scope);
  if (scope.length === 0 || scope.some((s) => !allowedScope.includes(s)))
    throw new OAuthError('invalid_scope', 'scope exceeds what this service client may use');

  const resource = body.resource === undefined ? deps.resources.aggregate() : deps.resources.find(body.resource);
  if (!resource) throw new OAuthError('invalid_target', 'resource is not served by this portal');
  const upstreamIds = resource.upstreamIds.filter((id) => client.upstreams?.includes(id));
  if (upstreamIds.length === 0) throw new OAuthError('invalid_target', 'this service client may not use that resource');

  const grantId = randomToken(16);
  const tokens = await issueTokens(deps, client, {
    id: grantId,
    kind: 'service',
    person: { id: `service:${client.clientId}`, idp: 'service', name: client.clientId, emailVerified: false, groups: [] },
    clientId: client.clientId,
    clientName: client.clientName,
    scope,
    resource: resource.url,
    upstreamIds,
    dpopJkt: contextOf(req).dpopJkt,
    createdAt: deps.clock.now(),
  });
  auditTokensIssued(req, { id: `service:${client.clientId}`, name: client.clientId }, client, {
    grant: 'client_credentials',
    grantId,
    resource: resource.url,
  });
  return tokens;
}
