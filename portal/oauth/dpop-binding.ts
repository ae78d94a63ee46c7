import type { IncomingMessage } from 'node:http';
import { OAuthError } from '../http/errors.js';
import { contextOf } from '../http/request-context.js';
import type { Client } from './clients.js';
import { auditDpopRefused } from './dpop-proof.js';
import type { Grant } from './grant-store.js';

/**
 * RFC 9449 §5: a public client's refresh token is bound to the DPoP key it was issued to, so a
 * refresh must prove that key (the request context's `dpopJkt`). A confidential client's refresh token is
 * sender-constrained by the client's authentication instead, and its tokens may move to a new
 * key. Checked before the refresh token is spent, so a refused refresh changes nothing.
 * @throws {OAuthError} `invalid_grant`, as node-oidc-provider answers it (the RFC names no code).
 */
export function assertRefreshKey(
  req: IncomingMessage,
  grant: Pick<Grant, 'dpopJkt'>,
  client: Pick<Client, 'clientId' | 'tokenEndpointAuthMethod'>,
): void {
  if (client.tokenEndpointAuthMethod !== 'none' || !grant.dpopJkt) return;
  const proven = contextOf(req).dpopJkt;
  if (!proven) throw refused(req, client, 'this refresh token is DPoP-bound: send a DPoP proof of its key');
  if (proven !== grant.dpopJkt) throw refused(req, client, 'the DPoP proof is signed by another key than the refresh token is bound to');
}

/**
 * RFC 9449 §10: a code requested with `dpop_jkt` is exchanged only with a DPoP proof of that key.
 * @throws {OAuthError} `invalid_grant`.
 */
export function assertCodeKey(req: IncomingMessage, dpopJkt: string | undefined, client: Pick<Client, 'clientId'>): void {
  if (dpopJkt === undefined) return;
  const proven = contextOf(req).dpopJkt;
  if (!proven) throw refused(req, client, 'this code was requested with dpop_jkt: send a DPoP proof of that key');
  if (proven !== dpopJkt) throw refused(req, client, 'the DPoP proof is signed by another key than dpop_jkt named');
}

function refused(req: IncomingMessage, client: Pick<Client, 'clientId'>, description: string): OAuthError {
  auditDpopRefused(req, description, client.clientId);
  return new OAuthError('invalid_grant', description);
}
