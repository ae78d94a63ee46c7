/// <reference path="./oidc-provider.d.ts" />
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { listen } from '../../portal/http/server.js';

/** The claims a test person has at the IdP (OIDC Core 1.0 §5.1), plus `groups`. */
export interface IdpPerson {
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

/** A client the IdP knows: the portal, registered with its callback. */
export interface IdpClientRegistration {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** Public keys, for `private_key_jwt`. */
  jwks?: { keys: Array<Record<string, unknown>> };
}

export interface OidcIdp {
  issuer: string;
  /** The people who can sign in (any password), by login; change them to change what the IdP asserts. */
  people: Map<string, IdpPerson>;
  /** Builds the provider with these clients (once: the portal's callback is known only after it starts). */
  register(clients: IdpClientRegistration[]): void;
  close(): Promise<void>;
}

/**
 * A real `oidc-provider` on 127.0.0.1 and a free port, as a company IdP. Its development
 * interactions (a login form that takes any password, a consent form) are posted by
 * {@link signInThroughIdps}. With `claimsInIdToken: false` (the default, `conformIdTokenClaims`)
 * the ID token carries only `sub`, so the portal has to ask UserInfo for the rest.
 */
export async function startOidcIdp(options: { claimsInIdToken?: boolean; cookiePrefix?: string } = {}): Promise<OidcIdp> {
  let handler: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) | undefined;
  const clientKeys = new Map<string, unknown>();
  const running = await listen(
    (req, res) => {
      const keys = clientKeys.get(req.url ?? '');
      if (keys) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys));
      else if (handler) handler(req, res);
      else res.writeHead(503).end();
    },
    { host: '127.0.0.1', port: 0 },
  );
  const people = new Map<string, IdpPerson>();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
  const prefix = options.cookiePrefix ?? 'idp';
  return {
    issuer: running.url,
    people,
    register(clients) {
      const provider = new Provider(running.url, {
        // Client keys are served at a `jwks_uri`: oidc-provider accepts inline keys only as plain
        // objects of its own realm, which its memory adapter's structuredClone does not keep under jest.
        clients: clients.map(({ jwks, ...client }) => {
          if (!jwks) return client;
          const path = `/test-client-keys/${client.client_id}`;
          clientKeys.set(path, jwks);
          return { ...client, jwks_uri: `${running.url}${path}` };
        }),
        jwks: { keys: [signingKey] },
        cookies: {
          keys: ['test-cookie-key-0123456789'],
          names: { session: `${prefix}_session`, interaction: `${prefix}_interaction`, resume: `${prefix}_resume` },
        },
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
        scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
        conformIdTokenClaims: !(options.claimsInIdToken ?? false),
        features: { devInteractions: { enabled: true } },
        pkce: { required: () => true },
        ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
        async renderError(ctx: { type: string; body: string }, out: Record<string, string>) {
          ctx.type = 'html';
          ctx.body = `<p>error: ${out.error}</p>`;
        },
        async findAccount(_ctx: unknown, id: string) {
          const person = people.get(id);
          if (!person) return undefined;
          return { accountId: id, claims: async () => ({ sub: id, ...person }) };
        },
      });
      // The provider logs its own errors to the console otherwise; tests read outcomes, not logs.
      provider.on('server_error', (_ctx: unknown, err: unknown) => {
        if (process.env.IDP_DEBUG) console.error(err);
      });
      handler = provider.callback();
    },
    close: () => running.close(1_000),
  };
}
