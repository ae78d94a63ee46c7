import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { isLoopbackHost } from '../net/addresses.js';
import { parseDuration } from './duration.js';
import type { IdpClientAuth, IdpConfig } from './config-types.js';

export type { IdpConfig } from './config-types.js';

/** Identity provider ids become person id prefixes (`{idp}:{sub}`) and paths (`/login/{idp}`). */
export const IDP_ID = /^[a-z0-9][a-z0-9-]{0,30}$/;

/** How the portal authenticates at an IdP's token endpoint (OIDC Core 1.0 §9). */
export const IDP_CLIENT_AUTH = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const satisfies readonly IdpClientAuth[];

/**
 * One `login.idps[]` entry: an upstream OpenID Connect provider the portal signs people in
 * with, as a confidential relying party (OIDC Core 1.0 §3.1, authorization code + PKCE).
 */
export const idpSchema = z
  .strictObject({
    id: z
      .string()
      .regex(IDP_ID, `must match ${IDP_ID.source}`)
      .refine((id) => id !== 'local', { message: 'must not be "local" (that names the built-in accounts)' })
      // Service clients act as `service:{client_id}`: an IdP of that name could sign in a person who is a service client.
      .refine((id) => id !== 'service', { message: 'must not be "service" (that names the service clients)' }),
    title: z.string().min(1).optional(),
    issuer: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    client_id: z.string().min(1),
    client_secret: z.string().min(1).optional(),
    client_auth: z.enum(IDP_CLIENT_AUTH).default('client_secret_basic'),
    private_key: z.string().optional(),
    private_key_id: z.string().min(1).optional(),
    scopes: z.array(z.string().min(1)).default(['openid', 'email', 'profile']),
    groups_claim: z.string().min(1).default('groups'),
    primary: z.boolean().default(false),
    assume_email_verified: z.boolean().default(false),
    // Enterprise-managed authorization: this IdP's ID-JAGs (draft-ietf-oauth-identity-assertion-authz-grant) are grants here.
    id_jag: z.boolean().default(false),
    // Endpoints its discovery names on other origins than the issuer's may be inside the network.
    allow_private_addresses: z.boolean().default(false),
    claims_max_age: z
      .string()
      .default('12h')
      .refine((text) => parseDuration(text) !== undefined, { message: 'must be a duration such as 30s, 10m, 12h or 30d' })
      .transform((text) => parseDuration(text)!),
  })
  .superRefine((idp, ctx) => {
    const url = new URL(idp.issuer);
    // Plain http only where nothing can be intercepted: a provider on this machine (tests, local dev).
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'must be an https URL (http only for 127.0.0.1 or localhost)' });
    }
    if (!idp.scopes.includes('openid')) ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'must include "openid"' });
    if (idp.client_auth !== 'private_key_jwt' && !idp.client_secret) {
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `is required for client_auth ${idp.client_auth}` });
    }
    if (idp.client_auth === 'private_key_jwt') {
      if (!idp.private_key) {
        ctx.addIssue({
          code: 'custom',
          path: ['private_key'],
          message: 'is required for client_auth private_key_jwt (a PKCS#8 PEM private key)',
        });
      } else if (privateKeyAlgorithm(idp.private_key) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['private_key'],
          message: 'must be a PKCS#8 PEM RSA, EC (P-256/P-384/P-521) or Ed25519 private key',
        });
      }
    }
  })
  .transform(
    (idp): IdpConfig => ({
      id: idp.id,
      title: idp.title,
      issuer: idp.issuer,
      clientId: idp.client_id,
      clientSecret: idp.client_secret,
      clientAuth: idp.client_auth,
      privateKey: idp.private_key,
      privateKeyId: idp.private_key_id,
      scopes: idp.scopes,
      groupsClaim: idp.groups_claim,
      primary: idp.primary,
      assumeEmailVerified: idp.assume_email_verified,
      idJag: idp.id_jag,
      allowPrivateAddresses: idp.allow_private_addresses,
      claimsMaxAgeMs: idp.claims_max_age,
    }),
  );

/** The JWS algorithm (RFC 7518 §3.1) a private key signs client assertions with, or `undefined` if unusable. */
export function privateKeyAlgorithm(pem: string): 'RS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | undefined {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType === 'rsa') return 'RS256';
    if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
    if (key.asymmetricKeyType === 'ec') {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : undefined;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** The parts of the config file that {@link checkIdentityRules} reads. */
interface IdentityRulesInput {
  login: { builtin: boolean; idps: readonly IdpConfig[] };
  upstreams: ReadonlyArray<{ access: { idps: readonly string[] } }>;
}

/**
 * Cross-key checks on sign-in: IdP ids are unique, at most one is `primary`, someone can sign
 * in at all, and `access.idps` names only `local` or configured IdPs (a typo would lock people out).
 */
export function checkIdentityRules(value: IdentityRulesInput, ctx: z.RefinementCtx<unknown>): void {
  const ids = new Set<string>();
  value.login.idps.forEach((idp, i) => {
    if (ids.has(idp.id))
      ctx.addIssue({ code: 'custom', path: ['login', 'idps', i, 'id'], message: `duplicates identity provider "${idp.id}"` });
    ids.add(idp.id);
  });
  const primaries = value.login.idps.filter((idp) => idp.primary);
  if (primaries.length > 1) {
    const second = value.login.idps.indexOf(primaries[1]!);
    ctx.addIssue({
      code: 'custom',
      path: ['login', 'idps', second, 'primary'],
      message: `only one identity provider may be primary ("${primaries[0]!.id}" already is)`,
    });
  }
  if (!value.login.builtin && value.login.idps.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['login', 'builtin'], message: 'cannot be false without login.idps: nobody could sign in' });
  }
  for (const [i, upstream] of value.upstreams.entries()) {
    for (const [j, id] of upstream.access.idps.entries()) {
      if (id !== 'local' && !ids.has(id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', i, 'access', 'idps', j],
          message: `names no identity provider "${id}" (use "local" or an id from login.idps)`,
        });
      }
    }
  }
}
