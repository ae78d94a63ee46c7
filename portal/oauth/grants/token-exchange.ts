import type { Request } from 'express';
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { randomToken } from '../../crypto/hash.js';
import { OAuthError } from '../../http/errors.js';
import { contextOf } from '../../http/request-context.js';
import type { TrustedIssuerConfig } from '../../config/schema.js';
import type { Person } from '../../login/person.js';
import { mayUseUpstream } from '../../policy/access.js';
import type { AccessTokenClaims } from '../access-tokens.js';
import { CLOCK_TOLERANCE_SECONDS } from '../assertion-ledger.js';
import type { Client } from '../clients.js';
import type { OAuthDeps } from '../deps.js';
import type { Actor, Grant } from '../grant-store.js';
import { auditRefusals } from '../grant-refusals.js';
import { auditTokensIssued, issueTokens, type TokenResponse } from '../issue-tokens.js';
import { ASYMMETRIC_ALGS, isKeyFetchFailure } from '../remote-keys.js';
import type { ProtectedResource } from '../resources.js';
import { SCOPES, parseScope } from '../scopes.js';

/** RFC 8693 §3: token type identifiers. */
export const TOKEN_TYPES = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

/** RFC 8693 §2.2.1: a token exchange response names the type of the token it issued. */
export type TokenExchangeResponse = TokenResponse & { issued_token_type: string };

/** OIDC Core 1.0 §2: `sub` is at most 255 ASCII characters. */
const SUBJECT = /^[\x21-\x7e]{1,255}$/;

/** What a subject token establishes: who, for whom it acted, what it may reach, what it came from. */
interface Subject {
  person: Person;
  kind: Grant['kind'];
  /** The delegation chain the new token continues (RFC 8693 §4.1). */
  priorActor?: Actor;
  scope: string[];
  /** The resource the subject token is for here, when it names one; `undefined`: any. */
  resource?: ProtectedResource;
  /** The upstreams it reaches, when narrower than its resource's (a grant of this portal). */
  upstreamIds?: string[];
  parentGrantId?: string;
}

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): an agent exchanges a
 * token for a narrower one, for a sub-agent. The subject token is either
 * - an access token of this portal, held by the requesting client itself: the new token is for
 *   a resource it already reaches, with no more scope, and is revoked with the grant it came from;
 * - a JWT of a `token_exchange.trusted_issuers` entry (another Gatehouse, a company STS) for this
 *   portal: its subject becomes the person `{id}:{sub}` with its `email` and `groups`.
 * The new token's `act` claim records the chain (RFC 8693 §4.1), the requesting client outermost.
 * The `access` rules apply to the person as for any grant. No refresh token is issued.
 *
 * Errors (RFC 8693 §2.2.2): an invalid, expired, revoked or untrusted subject token is
 * `invalid_request`; a resource not served here or not reachable from the subject token is
 * `invalid_target`; more scope than the subject token had is `invalid_scope`.
 */
async function exchangeToken(req: Request, client: Client, deps: OAuthDeps): Promise<TokenExchangeResponse> {
  const body = req.body as Record<string, string | undefined>;
  const { subject_token: subjectToken, subject_token_type: subjectTokenType } = body;
  if (!subjectToken) throw new OAuthError('invalid_request', 'subject_token is required');
  if (subjectTokenType !== TOKEN_TYPES.accessToken && subjectTokenType !== TOKEN_TYPES.jwt) {
    throw new OAuthError('invalid_request', `subject_token_type must be ${TOKEN_TYPES.accessToken} or ${TOKEN_TYPES.jwt}`);
  }
  if (body.requested_token_type !== undefined && body.requested_token_type !== TOKEN_TYPES.accessToken) {
    throw new OAuthError('invalid_request', `only ${TOKEN_TYPES.accessToken} can be requested`);
  }
  if (body.actor_token !== undefined)
    throw new OAuthError('invalid_request', 'actor_token is not supported: the requesting client is the actor');

  let issuer: string | undefined;
  try {
    issuer = decodeJwt(subjectToken).iss;
  } catch {
    throw new OAuthError('invalid_request', 'subject_token is not a JWT');
  }
  const trusted = deps.config.tokenExchange.trustedIssuers.find((candidate) => candidate.issuer === issuer);
  if (issuer !== deps.issuer && !trusted)
    throw new OAuthError('invalid_request', 'subject_token comes from an issuer this portal does not trust', {
      internal: `untrusted issuer ${issuer}`,
    });
  const subject = trusted ? await foreignSubject(subjectToken, trusted, deps) : await localSubject(subjectToken, client, deps);

  const target = targetResource(body, subject, deps);
  const scope = body.scope === undefined ? subject.scope.filter((s) => s !== SCOPES.offlineAccess) : parseScope(body.scope);
  if (scope.length === 0 || scope.some((s) => !subject.scope.includes(s)))
    throw new OAuthError('invalid_scope', "scope exceeds the subject token's");
  if (scope.includes(SCOPES.admin) && target.kind !== 'admin')
    throw new OAuthError('invalid_scope', 'the admin scope is only for the admin resource');

  const upstreamIds = target.upstreamIds.filter((id) => {
    const upstream = deps.resources.upstream(id);
    const reached = subject.upstreamIds === undefined || subject.upstreamIds.includes(id);
    const serviceMay = client.kind !== 'service' || client.upstreams?.includes(id) === true;
    return upstream !== undefined && reached && serviceMay && (subject.kind === 'service' || mayUseUpstream(subject.person, upstream));
  });
  if ((target.kind === 'mcp' || target.kind === 'app') && upstreamIds.length === 0)
    throw new OAuthError('invalid_target', 'the subject token does not reach that resource');

  const grantId = randomToken(16);
  const act: Actor = { sub: client.clientId, ...(subject.priorActor ? { act: subject.priorActor } : {}) };
  const tokens = await issueTokens(deps, client, {
    id: grantId,
    kind: subject.kind,
    person: subject.person,
    clientId: client.clientId,
    clientName: client.clientName,
    scope,
    resource: target.url,
    upstreamIds,
    longLived: false,
    act,
    parentGrantId: subject.parentGrantId,
    createdAt: deps.clock.now(),
    dpopJkt: contextOf(req).dpopJkt,
  });
  auditTokensIssued(
    req,
    subject.person,
    client,
    { grant: 'token_exchange', grantId, parentGrantId: subject.parentGrantId, issuer, resource: target.url, act },
    'token issued by token exchange',
  );
  return { ...tokens, issued_token_type: TOKEN_TYPES.accessToken };
}

/** An access token of this portal, presented by the client it was issued to, whose grant still stands. */
async function localSubject(token: string, client: Client, deps: OAuthDeps): Promise<Subject> {
  let claims: AccessTokenClaims;
  try {
    claims = await deps.accessTokens.verify(token);
  } catch (error) {
    throw new OAuthError('invalid_request', `subject_token: ${(error as Error).message}`);
  }
  const grant = await deps.grants.find(claims.grant_id);
  if (!grant || grant.clientId !== claims.client_id) throw new OAuthError('invalid_request', 'subject_token was revoked');
  if (claims.client_id !== client.clientId) throw new OAuthError('invalid_request', 'subject_token was issued to another client');
  const resource = deps.resources.find(claims.aud);
  if (!resource) throw new OAuthError('invalid_request', 'subject_token is for a resource no longer served here');
  return {
    person: grant.person,
    kind: grant.kind,
    priorActor: claims.act,
    scope: claims.scope.split(' '),
    resource,
    upstreamIds: grant.upstreamIds,
    parentGrantId: grant.id,
  };
}

/** A JWT of a trusted issuer, for this portal (its issuer, token endpoint or one of its resources). */
async function foreignSubject(token: string, trusted: TrustedIssuerConfig, deps: OAuthDeps): Promise<Subject> {
  const audiences = [deps.issuer, `${deps.issuer}/token`, ...deps.resources.all().map((r) => r.url)];
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, deps.remoteKeys.atJwksUri(trusted.jwksUri), {
      algorithms: ASYMMETRIC_ALGS,
      issuer: trusted.issuer,
      audience: audiences,
      requiredClaims: ['sub', 'exp'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(deps.clock.now()),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new OAuthError('invalid_request', 'subject_token expired');
    if (isKeyFetchFailure(error))
      throw new OAuthError('temporarily_unavailable', "the subject token issuer's keys could not be fetched; try again shortly", {
        internal: (error as Error).message,
      });
    throw new OAuthError('invalid_request', 'subject_token is not valid for this portal', {
      internal: `${(error as joseErrors.JOSEError).code}: ${(error as Error).message}`,
    });
  }
  if (typeof claims.sub !== 'string' || !SUBJECT.test(claims.sub))
    throw new OAuthError('invalid_request', "subject_token's sub is not a usable identifier");
  const email =
    typeof claims.email === 'string' && claims.email.includes('@') && claims.email_verified !== false ? claims.email : undefined;
  const groups = Array.isArray(claims.groups)
    ? claims.groups.filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= 256).slice(0, 500)
    : [];
  const person: Person = {
    id: `${trusted.id}:${claims.sub}`,
    idp: trusted.id,
    name: typeof claims.name === 'string' ? claims.name.slice(0, 256) : undefined,
    email,
    // The operator trusts this issuer to vouch for people; it states an email only when it verified it (as a portal assertion does).
    emailVerified: email !== undefined,
    groups: [...new Set(groups)],
  };
  const foreignClient = typeof claims.client_id === 'string' ? claims.client_id : undefined;
  // The foreign actor is named with its issuer: its client id means something only there.
  const priorActor = isActor(claims.act)
    ? { iss: trusted.issuer, ...claims.act }
    : foreignClient
      ? { sub: foreignClient, iss: trusted.issuer }
      : undefined;
  const aud = [claims.aud ?? []].flat();
  // A token for one resource of this portal reaches that one alone; one for the portal itself, any.
  const named = aud.map((a) => deps.resources.find(a)).find((r) => r !== undefined);
  const scope = typeof claims.scope === 'string' ? parseScope(claims.scope) : [SCOPES.mcp];
  return {
    person,
    kind: 'person',
    priorActor,
    scope: scope.filter((s) => s !== SCOPES.admin),
    resource: named,
    upstreamIds: named?.upstreamIds,
  };
}

/** RFC 8693 §2.1 `resource` (or `audience`): a resource of this portal the subject token reaches; default the subject's own. */
function targetResource(body: Record<string, string | undefined>, subject: Subject, deps: OAuthDeps): ProtectedResource {
  const asked = body.resource ?? body.audience;
  const target = asked === undefined ? (subject.resource ?? deps.resources.aggregate()) : deps.resources.find(asked);
  if (!target) throw new OAuthError('invalid_target', 'resource is not served by this portal');
  const from = subject.resource;
  if (target.kind === 'admin' && from?.kind !== 'admin')
    throw new OAuthError('invalid_target', 'the subject token does not reach the admin API');
  if (
    from &&
    from.kind !== 'mcp-aggregate' &&
    from.url !== target.url &&
    !(target.kind === 'mcp-aggregate' || target.upstreamIds.every((id) => from.upstreamIds.includes(id)))
  ) {
    throw new OAuthError('invalid_target', 'the subject token does not reach that resource');
  }
  return target;
}

function isActor(value: unknown): value is Actor {
  return typeof value === 'object' && value !== null && typeof (value as Actor).sub === 'string';
}

/** {@link exchangeToken}, its refusals audited as `token_exchange`. */
export const tokenExchangeGrant = auditRefusals('token_exchange', exchangeToken);
