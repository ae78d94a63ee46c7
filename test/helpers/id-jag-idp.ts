import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { listen } from '../../portal/http/server.js';

/** How one ID-JAG is made: claims added or replaced (`undefined` removes one), and header faults. */
export interface IdJagOptions {
  claims?: Record<string, unknown>;
  /** The `typ` header; `null` leaves it out. Default `oauth-id-jag+jwt`. */
  typ?: string | null;
  /** Signed with a key the IdP does not publish. */
  foreignKey?: boolean;
  /** Lifetime in seconds (negative: already expired). Default 300. */
  lifetimeSeconds?: number;
}

/** An enterprise IdP written with jose: OIDC discovery and a JWKS on 127.0.0.1, and ID-JAGs signed on demand. */
export interface IdJagIdp {
  issuer: string;
  /** An Identity Assertion JWT Authorization Grant (draft-ietf-oauth-identity-assertion-authz-grant §3). */
  idJag(base: { audience: string; clientId: string; subject: string; resource?: string }, options?: IdJagOptions): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  close(): Promise<void>;
}

export async function startIdJagIdp(): Promise<IdJagIdp> {
  const good = await generateKeyPair('ES256');
  const foreign = await generateKeyPair('ES256');
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: 'idp-key', alg: 'ES256', use: 'sig' };
  let issuer = '';
  let fetches = 0;
  const running = await listen(
    (req, res) => {
      const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/.well-known/openid-configuration') {
        return json({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
        });
      }
      if (req.url === '/jwks') {
        fetches++;
        return json({ keys: [publicJwk] });
      }
      res.writeHead(404).end();
    },
    { host: '127.0.0.1', port: 0 },
  );
  issuer = running.url;

  return {
    issuer,
    async idJag(base, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const claims: Record<string, unknown> = {
        iss: issuer,
        sub: base.subject,
        aud: base.audience,
        client_id: base.clientId,
        jti: randomUUID(),
        iat: now,
        exp: now + (options.lifetimeSeconds ?? 300),
        ...(base.resource ? { resource: base.resource } : {}),
        scope: 'mcp',
        ...options.claims,
      };
      for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
      const header = { alg: 'ES256', kid: 'idp-key', ...(options.typ === null ? {} : { typ: options.typ ?? 'oauth-id-jag+jwt' }) };
      const key: CryptoKey = options.foreignKey ? foreign.privateKey : good.privateKey;
      return new SignJWT(claims as JWTPayload).setProtectedHeader(header).sign(key);
    },
    jwksFetches: () => fetches,
    close: () => running.close(1_000),
  };
}
