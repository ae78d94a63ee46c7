import { Router } from 'express';
import type { OAuthDeps } from './deps.js';
import { DEVICE_CODE_GRANT_TYPE, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT } from './grant-types.js';
import { ASYMMETRIC_ALGS } from './remote-keys.js';
import { DPOP_SIGNING_ALGS } from './dpop-proof.js';
import { SUPPORTED_SCOPES, SCOPES } from './scopes.js';

/**
 * Discovery: RFC 8414 authorization server metadata (also at the OpenID Connect path),
 * RFC 9728 protected resource metadata per resource (path-aware), and the JWKS.
 */
export function metadataRoutes(deps: OAuthDeps): Router {
  const router = Router();
  const { issuer } = deps;
  const serverMetadata = () => ({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    device_authorization_endpoint: `${issuer}/device_authorization`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    scopes_supported: SUPPORTED_SCOPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'client_credentials',
      DEVICE_CODE_GRANT_TYPE,
      JWT_BEARER_GRANT,
      TOKEN_EXCHANGE_GRANT,
    ],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ASYMMETRIC_ALGS,
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
    resource_parameter_supported: true,
    dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS,
  });
  const cacheable = { 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' };

  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    router.get(path, (_req, res) => {
      res.set(cacheable).json(serverMetadata());
    });
  }

  router.get(/^\/\.well-known\/oauth-protected-resource(\/.*)?$/, (req, res, next) => {
    const resourcePath = req.path.slice('/.well-known/oauth-protected-resource'.length) || '/mcp';
    const resource = deps.resources.all().find((r) => r.path === resourcePath.replace(/\/+$/, ''));
    if (!resource) {
      next();
      return;
    }
    res.set(cacheable).json({
      resource: resource.url,
      authorization_servers: [issuer],
      scopes_supported: resource.kind === 'admin' ? [SCOPES.admin, SCOPES.offlineAccess] : [SCOPES.mcp, SCOPES.offlineAccess],
      bearer_methods_supported: ['header'],
      resource_name: resource.name,
      // RFC 9728 §2: DPoP-bound tokens are accepted, bearer tokens too.
      dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS,
      dpop_bound_access_tokens_required: false,
    });
  });

  router.get('/.well-known/jwks.json', async (_req, res) => {
    res.set(cacheable).json(await deps.keys.jwks());
  });
  return router;
}
