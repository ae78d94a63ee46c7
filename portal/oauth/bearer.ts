import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { OAuthError } from '../http/errors.js';
import { findContext, requestPath } from '../http/request-context.js';
import type { AuthContext } from './auth-context.js';
import type { AccessTokens } from './access-tokens.js';
import { DPOP_SIGNING_ALGS, auditDpopRefused, type DpopProofs } from './dpop-proof.js';
import type { GrantStore } from './grant-store.js';
import { SCOPES, stepUpScope } from './scopes.js';

export type { AuthContext } from './auth-context.js';

export interface BearerOptions {
  /**
   * The resource this route serves: its URL (the accepted `aud`) and RFC 9728 metadata path under
   * the issuer, or a full `metadataUrl` when the metadata lives elsewhere (a host-routed app's root).
   */
  resource: (req: Request) => { url: string; path: string; metadataUrl?: string } | undefined;
  /** Other audiences accepted here (the aggregate's, for apps reached through `/mcp`). */
  alsoAccept?: (req: Request) => string[];
  /** An upstream the grant must cover to be accepted. */
  upstreamId?: (req: Request) => string | undefined;
  /** Scopes the token must carry. */
  scope?: string[];
}

/** The bearer check's dependencies. */
export interface BearerDeps {
  issuer: string;
  accessTokens: AccessTokens;
  grants: GrantStore;
  dpop: DpopProofs;
}

/**
 * The bearer check of every protected route (RFC 6750, RFC 9728 §5.1): a local JWT check,
 * then one Store round trip for the grant, so that revocation is immediate everywhere.
 * Failing answers carry `WWW-Authenticate` with `resource_metadata` and the `scope` to ask for (on
 * `insufficient_scope`, the step-up scope of {@link stepUpScope}); a Store outage fails closed (503).
 * A route whose `resource` is `undefined` is not this one's: the request goes on to the next route.
 */
export function requireBearer(deps: BearerDeps, options: BearerOptions): RequestHandler {
  return async (req, _res, next) => {
    const resource = options.resource(req);
    if (!resource) {
      next('route');
      return;
    }
    await authenticateBearer(deps, req, {
      resource,
      audiences: options.alsoAccept?.(req),
      upstreamId: options.upstreamId?.(req),
      scope: options.scope,
    });
    next();
  };
}

/** The authorization scheme a caller presented its token with: RFC 6750 `Bearer` or RFC 9449 `DPoP`. */
type Scheme = 'bearer' | 'dpop';

/** The check {@link authenticateBearer} makes for one request. */
export interface BearerCheck {
  resource: { url: string; path: string; metadataUrl?: string };
  audiences?: string[];
  upstreamId?: string;
  scope?: string[];
  /**
   * The public URL the request's path is relative to (a DPoP proof's `htu` is that plus the path):
   * the issuer, unless the request came to a host-routed app's own origin.
   */
  publicBaseUrl?: string;
}

/**
 * The bearer check itself, for a request already matched to its resource: returns who is calling
 * (and records it in the request's context, for the audit, the span and usage), or throws the `OAuthError` to answer (with its challenge).
 *
 * A token is sent as `Bearer` (RFC 6750) or, when it is bound to a key (`cnf.jkt`), as `DPoP` with
 * a proof of that key (RFC 9449 §7): a bound token sent as `Bearer` is refused (§7.2), and so is an
 * unbound one sent as `DPoP`. Only a `DPoP` request pays for the proof (its signature, and one
 * Store write for its `jti`, made together with the grant lookup).
 */
export async function authenticateBearer(deps: BearerDeps, req: IncomingMessage, check: BearerCheck): Promise<AuthContext> {
  const { resource, upstreamId } = check;
  const scope = check.scope ?? [SCOPES.mcp];
  // A host-routed app's metadata lives at its own host's root (RFC 9728 §3.1), not under the issuer.
  const metadata = resource.metadataUrl ?? `${deps.issuer}/.well-known/oauth-protected-resource${resource.path}`;
  // Both schemes are offered (RFC 9449 §7.2); the error goes with the one the caller used.
  const challenge = (used: Scheme | undefined, error: { code: string; description: string }, asked: string[]) => {
    const errorParams = [`error="${error.code}"`, `error_description="${challengeText(error.description)}"`];
    const bearer = [`Bearer resource_metadata="${metadata}"`, `scope="${asked.join(' ')}"`, ...(used === 'bearer' ? errorParams : [])];
    const dpop = [`DPoP algs="${DPOP_SIGNING_ALGS.join(' ')}"`, ...(used === 'dpop' ? [`scope="${asked.join(' ')}"`, ...errorParams] : [])];
    return [...bearer, ...dpop].join(', ');
  };
  const fail = (
    code: 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof',
    description: string,
    used: Scheme | undefined,
    asked = scope,
  ) =>
    new OAuthError(code, description, {
      status: code === 'invalid_dpop_proof' ? 401 : undefined,
      headers: { 'WWW-Authenticate': challenge(used, { code, description }, asked) },
    });

  const header = req.headers.authorization;
  if (!header) throw fail('invalid_token', 'an access token is required', undefined);
  const credentials = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  if (!credentials) {
    // Another scheme is no token at all: a challenge without an error code (RFC 6750 §3.1).
    const used = /^Bearer(\s|$)/i.test(header) ? 'bearer' : /^DPoP(\s|$)/i.test(header) ? 'dpop' : undefined;
    throw fail('invalid_token', 'the Authorization header must be "Bearer <token>" or "DPoP <token>"', used);
  }
  const used: Scheme = credentials[1]!.toLowerCase() === 'dpop' ? 'dpop' : 'bearer';
  const token = credentials[2]!;

  let claims;
  try {
    claims = await deps.accessTokens.verify(token, { audience: [resource.url, ...(check.audiences ?? [])] });
  } catch (error) {
    if (error instanceof OAuthError) throw fail('invalid_token', error.message, used);
    throw error;
  }
  const boundTo = claims.cnf?.jkt;
  const misbound = (description: string) => {
    auditDpopRefused(req, description, claims.client_id, { resource: resource.url });
    return fail('invalid_token', description, used);
  };
  if (used === 'bearer' && boundTo) throw misbound('this access token is DPoP-bound: send it as "DPoP <token>" with a DPoP proof');
  if (used === 'dpop' && !boundTo) throw misbound('this access token is not DPoP-bound: send it as "Bearer <token>"');

  let grant;
  if (used === 'bearer') grant = await deps.grants.find(claims.grant_id);
  else {
    const htu = `${check.publicBaseUrl ?? deps.issuer}${requestPath(req)}`;
    let proof;
    try {
      [grant, proof] = await Promise.all([
        deps.grants.find(claims.grant_id),
        deps.dpop.check(req, { htu, accessToken: token, clientId: claims.client_id }),
      ]);
    } catch (error) {
      if (error instanceof OAuthError) throw fail('invalid_dpop_proof', error.message, used);
      throw error;
    }
    // RFC 9449 §7.1, Figure 16: a proof by another key than the token's is a failed binding.
    if (proof.jkt !== boundTo) throw misbound('the DPoP proof is signed by another key than the access token is bound to');
  }
  if (!grant || grant.clientId !== claims.client_id) throw fail('invalid_token', 'the access token was revoked', used);
  if (upstreamId && !grant.upstreamIds.includes(upstreamId)) throw fail('invalid_token', 'the grant does not cover this upstream', used);
  const tokenScope = claims.scope.split(' ');
  if (!scope.every((s) => tokenScope.includes(s))) {
    // A token for another resource, accepted here only to be told what it lacks, holds nothing for this one to keep.
    const asked = claims.aud === resource.url ? stepUpScope(scope, tokenScope) : scope;
    throw fail('insufficient_scope', `this resource needs scope "${scope.join(' ')}"`, used, asked);
  }

  const auth: AuthContext = {
    person: grant.person,
    clientId: grant.clientId,
    clientName: grant.clientName,
    grantId: grant.id,
    scope: tokenScope,
    resource: claims.aud,
    upstreamIds: grant.upstreamIds,
    expiresAt: claims.exp,
  };
  const context = findContext(req);
  if (context) context.auth = auth;
  return auth;
}

/** RFC 6750 §3: `error_description` holds only %x20-21 / %x23-5B / %x5D-7E, so no quote or backslash can end the quoted string early. */
function challengeText(description: string): string {
  return description.replace(/"/g, "'").replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
}
