import type { Request } from 'express';
import { constantTimeEqual, randomToken, sha256 } from '../../crypto/hash.js';
import { OAuthError } from '../../http/errors.js';
import { auditRequest } from '../../audit/request-audit.js';
import { contextOf } from '../../http/request-context.js';
import type { Client } from '../clients.js';
import type { OAuthDeps } from '../deps.js';
import { assertCodeKey } from '../dpop-binding.js';
import { auditTokensIssued, issueTokens, type TokenResponse } from '../issue-tokens.js';

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * `grant_type=authorization_code` (OAuth 2.1 §4.1.3). Everything is checked before the code
 * is spent, so a bad request changes nothing; a replayed code revokes what it issued.
 *
 * Replay (RFC 6749 §4.1.2, RFC 9700 §4.5): the code is taken once from the shared store, so of
 * any number of exchanges on any number of portal processes exactly one succeeds. A later
 * exchange of the same code, from anyone, revokes the grant the first one produced (its tokens
 * stop working on every process, and the person is asked to consent again), for as long as the
 * spent code is remembered: ten code lifetimes, at least ten minutes. After that a replay is
 * only `invalid_grant`. A replay racing the first exchange revokes a grant not yet saved: its
 * id is tombstoned, so it is never saved. The trade-off: a client that retries an exchange
 * whose answer it lost, or anyone who saw the code, ends the legitimate grant; the person signs
 * in again. That interruption costs less than the tokens of a stolen code staying valid.
 */
export async function authorizationCodeGrant(req: Request, client: Client, deps: OAuthDeps): Promise<TokenResponse> {
  const body = req.body as Record<string, string | undefined>;
  const { code, code_verifier: verifier, redirect_uri: redirectUri } = body;
  if (!code) throw new OAuthError('invalid_request', 'code is required');
  if (!verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
  if (!redirectUri) throw new OAuthError('invalid_request', 'redirect_uri is required');

  const record = await deps.codes.peek(code);
  if (!record) {
    const issuedGrant = await deps.codes.grantOfSpent(code);
    if (issuedGrant) {
      await deps.grants.revoke(issuedGrant);
      auditRequest(
        req,
        {
          event: 'code_replayed',
          outcome: 'failure',
          client: { id: client.clientId, name: client.clientName },
          details: { grantId: issuedGrant },
        },
        'authorization code replayed: grant revoked',
      );
    }
    throw new OAuthError('invalid_grant', 'the authorization code is invalid, expired or already used');
  }
  if (record.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the authorization code was issued to another client');
  if (record.redirectUri !== redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  if (!VERIFIER.test(verifier) || !constantTimeEqual(sha256(verifier), record.codeChallenge)) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
  }
  if (body.resource !== undefined && deps.resources.find(body.resource)?.url !== record.resource) {
    throw new OAuthError('invalid_target', 'resource differs from the authorization request');
  }
  assertCodeKey(req, record.dpopJkt, client);

  const grantId = randomToken(16);
  // Take-once: of concurrent exchanges of one code, exactly one gets here; the others revoke what it issues.
  if (!(await deps.codes.redeem(code, grantId))) {
    const winner = await deps.codes.grantOfSpent(code);
    if (winner) await deps.grants.revoke(winner);
    throw new OAuthError('invalid_grant', 'the authorization code was already used');
  }
  const tokens = await issueTokens(deps, client, {
    id: grantId,
    kind: 'person',
    person: record.person,
    clientId: client.clientId,
    clientName: client.clientName,
    scope: record.scope,
    resource: record.resource,
    upstreamIds: record.upstreamIds,
    longLived: record.longLived === true,
    dpopJkt: contextOf(req).dpopJkt,
    createdAt: deps.clock.now(),
  });
  auditTokensIssued(req, record.person, client, { grant: 'authorization_code', grantId, resource: record.resource });
  return tokens;
}
