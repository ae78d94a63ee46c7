import type { Request } from 'express';
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { randomToken } from '../../crypto/hash.js';
import { OAuthError } from '../../http/errors.js';
import { contextOf } from '../../http/request-context.js';
import { personFromClaims, type IdpClaims } from '../../login/idp-claims.js';
import { mayUseUpstream } from '../../policy/access.js';
import { CLOCK_TOLERANCE_SECONDS } from '../assertion-ledger.js';
import type { Client } from '../clients.js';
import type { OAuthDeps } from '../deps.js';
import { auditRefusals } from '../grant-refusals.js';
import { auditTokensIssued, issueTokens, type TokenResponse } from '../issue-tokens.js';
import { ASYMMETRIC_ALGS, isKeyFetchFailure } from '../remote-keys.js';
import { SCOPES, parseScope } from '../scopes.js';

/** draft-ietf-oauth-identity-assertion-authz-grant §3: the `typ` of an ID-JAG (RFC 8725 §3.11 explicit typing). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

/** An ID-JAG is a short-lived grant: one that claims to live longer than this is refused. */
const MAX_ID_JAG_LIFETIME_SECONDS = 10 * 60;

/** OIDC Core 1.0 §2: `sub` is at most 255 ASCII characters. */
const SUBJECT = /^[\x21-\x7e]{1,255}$/;

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an Identity Assertion JWT
 * Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant §4.4; the MCP
 * "Enterprise-Managed Authorization" extension): an IdP marked `id_jag: true` authorized this
 * client for this person, so no browser and no consent page are involved.
 *
 * Checks, each answered `invalid_grant` (RFC 7521 §5.2, the draft §4.4.1): the issuer is such an
 * IdP, the signature verifies with its JWKS, `typ` is `oauth-id-jag+jwt`, `aud` is exactly this
 * portal's issuer, `client_id` is the authenticated client, the JWT is unexpired and short-lived,
 * and its `jti` was never used before (on any portal process). The person is mapped as at sign-in
 * (`{idp}:{sub}`, email, groups); the resource's upstreams are those the `access` rules admit.
 * No refresh token is issued (the draft §4.4.3): the client presents a new ID-JAG instead.
 */
async function idJagGrant(req: Request, client: Client, deps: OAuthDeps): Promise<TokenResponse> {
  // The draft §4.4: the client authenticates; a public client's name alone would let anyone who saw the ID-JAG use it.
  if (client.tokenEndpointAuthMethod === 'none')
    throw new OAuthError('unauthorized_client', 'an ID-JAG is accepted only from a client that authenticates');
  const body = req.body as Record<string, string | undefined>;
  const assertion = body.assertion;
  if (!assertion) throw new OAuthError('invalid_request', 'assertion is required');
  const invalid = (description: string, internal?: string) => new OAuthError('invalid_grant', description, { internal });

  let issuer: string | undefined;
  try {
    issuer = decodeJwt(assertion).iss;
  } catch {
    throw invalid('the assertion is not a JWT');
  }
  const idp = deps.config.login.idps.find((candidate) => candidate.issuer === issuer);
  if (!idp) throw invalid('the assertion was not issued by an identity provider this portal trusts', `unknown issuer ${issuer}`);
  if (!idp.idJag) throw invalid('this identity provider may not authorize agents here (id_jag is off)', `id_jag off for ${idp.id}`);

  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(assertion, deps.remoteKeys.ofOidcIssuer(idp.issuer), {
      algorithms: ASYMMETRIC_ALGS,
      typ: ID_JAG_TYP,
      issuer: idp.issuer,
      audience: deps.issuer,
      requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(deps.clock.now()),
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw invalid('the assertion expired');
    if (isKeyFetchFailure(error))
      throw new OAuthError('temporarily_unavailable', "the identity provider's keys could not be fetched; try again shortly", {
        internal: (error as Error).message,
      });
    throw invalid(
      'the assertion is not a valid ID-JAG for this portal',
      `${(error as joseErrors.JOSEError).code}: ${(error as Error).message}`,
    );
  }
  // The draft §4.4.1: an array `aud` holds exactly one element, this portal's issuer.
  if (Array.isArray(claims.aud) && claims.aud.length !== 1) throw invalid('the assertion must be for this portal alone');
  if (claims.client_id !== client.clientId) throw invalid('the assertion was issued to another client');
  if (typeof claims.sub !== 'string' || !SUBJECT.test(claims.sub)) throw invalid("the assertion's sub is not a usable identifier");
  if (claims.exp! - claims.iat! > MAX_ID_JAG_LIFETIME_SECONDS)
    throw invalid(`the assertion lives longer than ${MAX_ID_JAG_LIFETIME_SECONDS} seconds`);

  const resourceClaim = Array.isArray(claims.resource) && claims.resource.length === 1 ? claims.resource[0] : claims.resource;
  if (resourceClaim !== undefined && typeof resourceClaim !== 'string') throw invalid("the assertion's resource must name one resource");
  const resource = deps.resources.find(resourceClaim ?? body.resource ?? deps.resources.aggregate().url);
  if (!resource || resource.kind === 'admin')
    throw new OAuthError('invalid_target', "the assertion's resource is not served by this portal");
  if (body.resource !== undefined && deps.resources.find(body.resource)?.url !== resource.url)
    throw new OAuthError('invalid_target', 'resource differs from the assertion');

  // The IdP decided the scopes it vouches for; the portal grants at most those, and only `mcp`.
  const vouched = typeof claims.scope === 'string' ? parseScope(claims.scope) : undefined;
  const scope = parseScope(body.scope ?? (typeof claims.scope === 'string' ? claims.scope : SCOPES.mcp)).filter(
    (s) => s !== SCOPES.offlineAccess,
  );
  if (scope.length === 0 || scope.some((s) => s !== SCOPES.mcp || (vouched !== undefined && !vouched.includes(s)))) {
    throw new OAuthError('invalid_scope', 'scope exceeds what the assertion grants (mcp)');
  }

  const person = personFromClaims(idp, claims as IdpClaims, deps.clock.now());
  const upstreamIds = resource.upstreamIds.filter((id) => {
    const upstream = deps.resources.upstream(id);
    return upstream !== undefined && mayUseUpstream(person, upstream);
  });
  if (resource.kind !== 'mcp-aggregate' && upstreamIds.length === 0)
    throw new OAuthError('invalid_target', 'this person may not use that resource');

  // Spent last, so a request refused above leaves the assertion usable for a corrected one.
  if (!(await deps.assertions.useOnce(idp.issuer, String(claims.jti), claims.exp!))) throw invalid('the assertion was already used');

  const grantId = randomToken(16);
  const tokens = await issueTokens(deps, client, {
    id: grantId,
    kind: 'person',
    person,
    clientId: client.clientId,
    clientName: client.clientName,
    scope,
    resource: resource.url,
    upstreamIds,
    longLived: false,
    createdAt: deps.clock.now(),
    dpopJkt: contextOf(req).dpopJkt,
  });
  auditTokensIssued(req, person, client, { grant: 'id_jag', grantId, idp: idp.id, resource: resource.url }, 'token issued for an ID-JAG');
  return tokens;
}

/** {@link idJagGrant}, its refusals audited as `id_jag`. */
export const jwtBearerGrant = auditRefusals('id_jag', idJagGrant);
