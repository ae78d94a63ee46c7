import type { Request } from 'express';
import { auditRequest } from '../audit/request-audit.js';
import { OAuthError } from '../http/errors.js';
import type { Client } from './clients.js';
import type { OAuthDeps } from './deps.js';
import type { TokenResponse } from './issue-tokens.js';

type GrantHandler = (req: Request, client: Client, deps: OAuthDeps) => Promise<TokenResponse>;

/**
 * Audits every refusal of a grant as `token_refused` (outcome `failure`) with the grant's name and
 * the OAuth error code, so that a refused assertion or exchange leaves a trace as a success does.
 */
export function auditRefusals(grant: string, handler: GrantHandler): GrantHandler {
  return async (req, client, deps) => {
    try {
      return await handler(req, client, deps);
    } catch (error) {
      if (error instanceof OAuthError) {
        auditRequest(
          req,
          {
            event: 'token_refused',
            outcome: 'failure',
            client: { id: client.clientId, name: client.clientName },
            details: { grant, error: error.code, reason: error.message },
          },
          `${grant} refused: ${error.internal ?? error.message}`,
        );
      }
      throw error;
    }
  };
}
