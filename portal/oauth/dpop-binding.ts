import { OAuthError } from '../http/errors.js';
import type { Client } from './clients.js';
import type { DpopProof } from './dpop-proof.js';
import type { Grant } from './grant-store.js';

/**
 * RFC 9449 §5: a public client's refresh token is bound to the DPoP key it was issued to, so a
 * refresh must prove that key. A confidential client's refresh token is sender-constrained by the
 * client's authentication instead, and its tokens may move to a new key. Checked before the refresh
 * token is spent, so a refused refresh changes nothing.
 * @throws {OAuthError} `invalid_grant`, as node-oidc-provider answers it (the RFC names no code).
 */
export function assertRefreshKey(grant: Pick<Grant, 'dpopJkt'>, client: Pick<Client, 'tokenEndpointAuthMethod'>, proof: DpopProof | undefined): void {
  if (client.tokenEndpointAuthMethod !== 'none' || !grant.dpopJkt) return;
  if (!proof) throw new OAuthError('invalid_grant', 'this refresh token is DPoP-bound: send a DPoP proof of its key');
  if (proof.jkt !== grant.dpopJkt) throw new OAuthError('invalid_grant', 'the DPoP proof is signed by another key than the refresh token is bound to');
}

/**
 * RFC 9449 §10: a code requested with `dpop_jkt` is exchanged only with a DPoP proof of that key.
 * @throws {OAuthError} `invalid_grant`.
 */
export function assertCodeKey(dpopJkt: string | undefined, proof: DpopProof | undefined): void {
  if (dpopJkt === undefined) return;
  if (!proof) throw new OAuthError('invalid_grant', 'this code was requested with dpop_jkt: send a DPoP proof of that key');
  if (proof.jkt !== dpopJkt) throw new OAuthError('invalid_grant', 'the DPoP proof is signed by another key than dpop_jkt named');
}
