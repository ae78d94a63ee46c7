import { Router, type Request } from 'express';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { epochSeconds } from '../clock.js';
import { constantTimeEqual, randomToken, sha256 } from '../crypto/hash.js';
import { OAuthError } from '../http/errors.js';
import { auditRequest } from '../audit/request-audit.js';
import { rateLimitMiddleware } from '../http/rate-limit.js';
import type { Client } from './clients.js';
import type { OAuthDeps } from './deps.js';
import { DEVICE_CODE_GRANT_TYPE, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT } from './grant-types.js';
import { APPLICATION_TYPES, impliedApplicationType, redirectUriProblem, type ApplicationType } from './redirect-uris.js';
import { SUPPORTED_SCOPES, parseScope } from './scopes.js';

const text = z.string().max(500).optional();
const metadataSchema = z.looseObject({
  // Required for the redirect-based grant only (RFC 7591 §2): a device-code client has nowhere to be sent.
  redirect_uris: z.array(z.string()).min(1).max(20).optional(),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  grant_types: z
    .array(z.enum(['authorization_code', 'refresh_token', DEVICE_CODE_GRANT_TYPE, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT]))
    .min(1)
    .default(['authorization_code']),
  response_types: z.array(z.literal('code')).min(1).default(['code']),
  application_type: z.enum(APPLICATION_TYPES).optional(),
  client_name: text,
  client_uri: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
  logo_uri: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
  tos_uri: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
  policy_uri: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
  scope: z.string().max(500).optional(),
  contacts: z.array(z.string().max(200)).max(10).optional(),
  software_id: text,
  software_version: text,
});

/** The keys echoed back in registration responses (RFC 7591 §3.2.1); unknown ones are dropped. */
const ECHOED = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'contacts', 'software_id', 'software_version'] as const;

/**
 * RFC 7591 dynamic registration (`POST /register`) and RFC 7592 management with the
 * registration access token (`GET`/`DELETE /register/{client_id}`).
 */
export function registerRoutes(deps: OAuthDeps): Router {
  const router = Router();
  const { clients, issuer } = deps;

  router.post('/register', rateLimitMiddleware(deps.limits.register), deps.parsers.json, async (req, res) => {
    const { metadata, applicationType } = validate(req.body, deps.config.clients.privateUseSchemes);
    const confidential = metadata.token_endpoint_auth_method !== 'none';
    const clientSecret = confidential ? randomToken() : undefined;
    const registrationAccessToken = randomToken();
    const client: Client = {
      clientId: randomUUID(),
      kind: 'registered',
      clientName: metadata.client_name,
      clientUri: metadata.client_uri,
      logoUri: metadata.logo_uri,
      applicationType,
      redirectUris: metadata.redirect_uris ?? [],
      grantTypes: metadata.grant_types,
      tokenEndpointAuthMethod: metadata.token_endpoint_auth_method,
      scope: metadata.scope,
      secretHash: clientSecret ? sha256(clientSecret) : undefined,
      registrationAccessTokenHash: sha256(registrationAccessToken),
      issuedAt: epochSeconds(deps.clock),
      metadata: Object.fromEntries(ECHOED.filter((k) => metadata[k] !== undefined).map((k) => [k, metadata[k]])),
    };
    await clients.save(client);
    auditRequest(
      req,
      {
        event: 'client_registered',
        outcome: 'success',
        client: { id: client.clientId, name: client.clientName },
        details: { clientName: client.clientName },
      },
      'client registered',
    );
    res.status(201).setHeader('Cache-Control', 'no-store');
    res.json({
      ...describe(client, issuer),
      ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
      registration_access_token: registrationAccessToken,
    });
  });

  router.get('/register/:clientId', async (req, res) => {
    const client = await authorizeManagement(req, deps);
    res.setHeader('Cache-Control', 'no-store');
    res.json(describe(client, issuer));
  });

  router.delete('/register/:clientId', async (req, res) => {
    const client = await authorizeManagement(req, deps);
    await clients.delete(client.clientId);
    for (const grant of await deps.grants.listByClient(client.clientId)) await deps.grants.revoke(grant.id);
    auditRequest(
      req,
      { event: 'client_deleted', outcome: 'success', client: { id: client.clientId, name: client.clientName }, details: { by: 'client' } },
      'client deleted',
    );
    res.status(204).end();
  });

  return router;
}

/**
 * RFC 7591 §2 metadata, checked as §3.2.2 says: a bad redirect URI is `invalid_redirect_uri`,
 * anything else `invalid_client_metadata` (an `application_type` other than `web` or `native`
 * among them). Redirect URIs are checked against the stated application type, or, when none is
 * stated, the one they imply ({@link impliedApplicationType}).
 */
function validate(
  body: unknown,
  oneWordSchemes: readonly string[],
): { metadata: z.output<typeof metadataSchema>; applicationType: ApplicationType } {
  const parsed = metadataSchema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    if (issue.path[0] === 'redirect_uris') throw new OAuthError('invalid_redirect_uri', `${field}: ${issue.message}`);
    throw new OAuthError('invalid_client_metadata', `${field}: ${issue.message}`);
  }
  const metadata = parsed.data;
  const redirectUris = metadata.redirect_uris ?? [];
  if (metadata.grant_types.includes('authorization_code') && redirectUris.length === 0)
    throw new OAuthError('invalid_redirect_uri', 'redirect_uris: required for the authorization_code grant');
  const applicationType = metadata.application_type ?? impliedApplicationType(redirectUris);
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri, applicationType, oneWordSchemes);
    if (problem) throw new OAuthError('invalid_redirect_uri', `redirect URI ${JSON.stringify(uri.slice(0, 100))} ${problem}`);
  }
  const unknownScope = parseScope(metadata.scope).find((s) => !SUPPORTED_SCOPES.includes(s));
  if (unknownScope) throw new OAuthError('invalid_client_metadata', `scope: "${unknownScope}" is not supported`);
  return { metadata, applicationType };
}

/** RFC 7592 §2: the registration access token, compared in constant time, is the only key. */
async function authorizeManagement(req: Request, deps: OAuthDeps): Promise<Client> {
  const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.headers.authorization ?? '')?.[1];
  const challenge = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };
  const clientId = String(req.params.clientId);
  const client = token ? await deps.clients.find(clientId) : undefined;
  if (!token || !client?.registrationAccessTokenHash || !constantTimeEqual(sha256(token), client.registrationAccessTokenHash)) {
    throw new OAuthError('invalid_token', 'the registration access token is invalid', { headers: challenge });
  }
  return client;
}

function describe(client: Client, issuer: string): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_id_issued_at: client.issuedAt,
    redirect_uris: client.redirectUris,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    grant_types: client.grantTypes,
    response_types: ['code'],
    application_type: client.applicationType ?? impliedApplicationType(client.redirectUris),
    ...(client.clientName ? { client_name: client.clientName } : {}),
    ...(client.scope ? { scope: client.scope } : {}),
    ...client.metadata,
    registration_client_uri: `${issuer}/register/${encodeURIComponent(client.clientId)}`,
  };
}
