import type { ApplicationType } from './redirect-uris.js';

/** How a client authenticates at the token endpoint (RFC 7591 §2). */
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** An OAuth client the portal knows: dynamically registered, a metadata document, or a configured service. */
export interface Client {
  clientId: string;
  kind: 'registered' | 'metadata-document' | 'service';
  clientName?: string;
  clientUri?: string;
  logoUri?: string;
  /**
   * OpenID Connect Dynamic Client Registration 1.0 §2 `application_type`, as stated or implied by
   * the redirect URIs at registration; absent on clients stored before the portal recorded it.
   */
  applicationType?: ApplicationType;
  redirectUris: string[];
  grantTypes: string[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  scope?: string;
  /** Registered clients: SHA-256 of the client secret; service clients: its scrypt hash. */
  secretHash?: string;
  /** Service clients with `private_key_jwt`: their public keys (RFC 7591 §2 `jwks`), or where they are published (`jwks_uri`). */
  jwks?: { keys: Array<Record<string, unknown>> };
  jwksUri?: string;
  /** SHA-256 of the RFC 7592 registration access token. */
  registrationAccessTokenHash?: string;
  /** Seconds since the epoch (RFC 7591 `client_id_issued_at`). */
  issuedAt: number;
  /** Service clients: the upstreams their tokens may reach. */
  upstreams?: string[];
  /** The rest of the registered metadata, echoed back on read (RFC 7592 §2.1). */
  metadata?: Record<string, unknown>;
}
