import type { PinningMode } from '../governance/tool-pins.js';

/*
 * The config as the code reads it: camelCase, units in the names of durations (`…Ms`), and
 * readonly all the way down (the loader freezes it). The file's snake_case keys are mapped to
 * these once, in the schemas (`schema.ts`, `idp-schema.ts`); nothing else reads them.
 */

/** How the portal authenticates to an upstream for a person (`upstreams[].credentials`). */
export interface UpstreamCredentials {
  readonly type: 'portal-jwt' | 'oauth' | 'static' | 'token-exchange' | 'none';
  /** The header the credential goes in (default `Authorization`). */
  readonly header?: string;
  /** `static`: the environment variable holding the header value. */
  readonly valueEnv?: string;
  /** `oauth` (a pre-registered client) and `token-exchange`: the portal's client id there. */
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** `token-exchange` (RFC 8693): the upstream's STS, the audience asked for, and where the portal's secret or key is. */
  readonly tokenEndpoint?: string;
  readonly audience?: string;
  readonly clientSecretEnv?: string;
  readonly privateKeyEnv?: string;
  /** `oauth`: the scopes asked of the upstream's authorization server. */
  readonly scopes: readonly string[];
  /** `oauth`: the upstream's authorization server, for upstreams that do not publish RFC 9728 metadata. */
  readonly authorizationServer?: string;
}

/** Calls per person to one tool (or to every tool together, under `*`). */
export interface ToolCallLimit {
  readonly perMinute?: number;
  readonly perDay?: number;
}

/** Which of an upstream's tools are shown, to whom, under what names, and with what guards (`upstreams[].tools`). */
export interface ToolRules {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly rename: Readonly<Record<string, string>>;
  readonly describe: Readonly<Record<string, string>>;
  /** Per-group rules by upstream tool name: who may use a tool, who may not. */
  readonly allowGroups: Readonly<Record<string, readonly string[]>>;
  readonly denyGroups: Readonly<Record<string, readonly string[]>>;
  /** Rug-pull protection: changed or new tool definitions wait for an administrator. */
  readonly pinning: PinningMode;
  readonly limits: Readonly<Record<string, ToolCallLimit>>;
  /** Tools (upstream names, `*` a wildcard) whose calls wait for the person's approval. */
  readonly approval: readonly string[];
  /** How long after an approval the same person and agent call that tool without asking again (0: every call asks). */
  readonly approvalTtlMs: number;
  /** How long a call waits for the person's decision, and an approval for its call. */
  readonly approvalTimeoutMs: number;
}

/** Who may use an upstream: any listed group, email, email domain or sign-in source (`upstreams[].access`). */
export interface UpstreamAccess {
  readonly groups: readonly string[];
  readonly emails: readonly string[];
  readonly domains: readonly string[];
  readonly idps: readonly string[];
}

/** One upstream: an MCP server (by URL or a stdio command) or an HTTP app (`upstreams[]`). */
export interface UpstreamConfig {
  readonly id: string;
  readonly kind: 'mcp' | 'http';
  readonly title?: string;
  readonly url?: string;
  /** A stdio MCP server: the program and its arguments, its environment and working directory. */
  readonly command?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly credentials: UpstreamCredentials;
  readonly tools: ToolRules;
  readonly access: UpstreamAccess;
  /** An HTTP app served on a host of its own rather than under `/apps/{id}/`. */
  readonly host?: string;
  /** An HTTP app whose HTML pages agents get as Markdown. */
  readonly markdown: boolean;
  readonly entryPages: readonly string[];
  /** An HTTP app's OpenAPI document, by path. */
  readonly openapi?: string;
  readonly connectTimeoutMs: number;
  readonly callTimeoutMs: number;
}

/** A built-in account (`login.accounts[]`). */
export interface AccountConfig {
  readonly username: string;
  /** `scrypt$…`, from `gatehouse hash-password`. */
  readonly passwordHash: string;
  readonly email?: string;
  readonly name?: string;
  readonly groups: readonly string[];
}

/** A JSON Web Key as configured (RFC 7517 §4): at least its `kty`. */
export type JwkConfig = Readonly<Record<string, unknown>>;

/** A client of the client credentials grant, authenticated by a secret or a key (`service_clients[]`). */
export interface ServiceClientConfig {
  readonly clientId: string;
  readonly secretHash?: string;
  /** private_key_jwt (RFC 7523 §2.2): the client's public keys, inline or at a URL. */
  readonly jwks?: { readonly keys: readonly JwkConfig[] };
  readonly jwksUri?: string;
  readonly upstreams: readonly string[];
  readonly scope: string;
}

/** Another issuer whose JWTs are subject tokens here (RFC 8693 §2.1; `token_exchange.trusted_issuers[]`). */
export interface TrustedIssuerConfig {
  readonly id: string;
  readonly issuer: string;
  readonly jwksUri: string;
}

/** How the portal authenticates at an IdP's token endpoint (OIDC Core 1.0 §9). */
export type IdpClientAuth = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** An upstream OpenID Connect provider people sign in with (`login.idps[]`). */
export interface IdpConfig {
  readonly id: string;
  readonly title?: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly clientAuth: IdpClientAuth;
  /** private_key_jwt: the PKCS#8 PEM key client assertions are signed with, and its `kid`. */
  readonly privateKey?: string;
  readonly privateKeyId?: string;
  readonly scopes: readonly string[];
  /** The ID token claim that holds the person's groups. */
  readonly groupsClaim: string;
  readonly primary: boolean;
  /** Treat the IdP's emails as verified when its ID token has no `email_verified` claim. */
  readonly assumeEmailVerified: boolean;
  /** This IdP's ID-JAGs (draft-ietf-oauth-identity-assertion-authz-grant) are grants here. */
  readonly idJag: boolean;
  /**
   * Endpoints the IdP's discovery names on other origins than its issuer's (token, UserInfo, JWKS)
   * may be private addresses. The issuer's own origin always may: the operator configured it.
   */
  readonly allowPrivateAddresses: boolean;
  /** How long the claims from a sign-in are trusted before the person signs in again. */
  readonly claimsMaxAgeMs: number;
}
