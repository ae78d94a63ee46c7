import type { Request } from 'express';
import { randomToken } from '../../crypto/hash.js';
import { OAuthError } from '../../http/errors.js';
import { auditRequest } from '../../audit/request-audit.js';
import { contextOf } from '../../http/request-context.js';
import type { Client } from '../clients.js';
import type { OAuthDeps } from '../deps.js';
import { auditTokensIssued, issueTokens, type TokenResponse } from '../issue-tokens.js';

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4-3.5): the device polls
 * until the person decides. Every poll counts against the interval, on any portal process; the
 * answers are the RFC's (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`),
 * and an approval turns into tokens exactly once. A device code of another client, or one already
 * exchanged, is `invalid_grant` and changes nothing.
 */
export async function deviceCodeGrant(req: Request, client: Client, deps: OAuthDeps): Promise<TokenResponse> {
  const deviceCode = (req.body as Record<string, string | undefined>).device_code;
  if (!deviceCode) throw new OAuthError('invalid_request', 'device_code is required');
  const audit = (event: string, details: Record<string, unknown>) =>
    auditRequest(
      req,
      { event, outcome: 'failure', client: { id: client.clientId, name: client.clientName }, details },
      event.replaceAll('_', ' '),
    );

  const poll = await deps.deviceAuthorizations.poll(deviceCode, client.clientId);
  switch (poll.status) {
    case 'unknown':
      throw new OAuthError('invalid_grant', 'the device code is invalid');
    case 'other_client':
      audit('device_code_misused', { reason: 'another client' });
      throw new OAuthError('invalid_grant', 'the device code was issued to another client');
    case 'issued':
      audit('device_code_misused', { reason: 'already exchanged' });
      throw new OAuthError('invalid_grant', 'the device code was already exchanged');
    case 'expired':
      throw new OAuthError('expired_token', 'the device code expired; start again');
    case 'slow_down':
      throw new OAuthError('slow_down', `polling too fast: wait ${poll.record.intervalMs / 1000} seconds between requests`);
    case 'pending':
      throw new OAuthError('authorization_pending', 'the person has not answered yet');
    case 'denied':
      throw new OAuthError('access_denied', 'the person denied the request');
  }

  const { record, approval } = poll;
  const grantId = randomToken(16);
  const tokens = await issueTokens(deps, client, {
    id: grantId,
    kind: 'person',
    person: approval.person,
    clientId: client.clientId,
    clientName: client.clientName,
    scope: record.scope,
    resource: record.resource,
    upstreamIds: approval.upstreamIds,
    longLived: approval.longLived,
    createdAt: deps.clock.now(),
    dpopJkt: contextOf(req).dpopJkt,
  });
  auditTokensIssued(req, approval.person, client, { grant: 'device_code', grantId, resource: record.resource });
  return tokens;
}
