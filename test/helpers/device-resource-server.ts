/// <reference path="./oidc-provider.d.ts" />
import { createServer } from 'node:http';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { listen } from '../../portal/http/server.js';
import { FormBrowser } from './browser-form-client.js';
import { runBrowser } from './idp-browser.js';

/** An `oidc-provider` authorization server with the device flow, dynamic registration and JWT access tokens for one resource. */
export interface DeviceAuthorizationServer {
  issuer: string;
  close(): Promise<void>;
}

/**
 * A real `oidc-provider` as the authorization server of `resource`: RFC 8628 device flow,
 * RFC 7591 registration, RFC 8707 resource indicators with RFC 9068 JWT access tokens whose
 * audience is the resource and whose scope is `notes:read`, and its development sign-in forms.
 */
export async function startDeviceAuthorizationServer(resource: () => string): Promise<DeviceAuthorizationServer> {
  let handler: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) | undefined;
  const running = await listen((req, res) => handler!(req, res), { host: '127.0.0.1', port: 0 });
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const provider = new Provider(running.url, {
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'as-key-1', alg: 'RS256', use: 'sig' }] },
    cookies: {
      keys: ['device-as-cookie-key-0123456789'],
      names: { session: 'das_session', interaction: 'das_interaction', resume: 'das_resume' },
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== resource()) throw new errors.InvalidTarget();
          return {
            scope: 'notes:read',
            audience: indicator,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, DeviceCode: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    async findAccount(_ctx: unknown, id: string) {
      return { accountId: id, claims: async () => ({ sub: id }) };
    },
    async renderError(ctx: { type: string; body: string }, out: Record<string, string>) {
      ctx.type = 'html';
      ctx.body = `<p>error: ${out.error}</p>`;
    },
  });
  provider.on('server_error', (_ctx: unknown, err: unknown) => {
    if (process.env.IDP_DEBUG) console.error(err);
  });
  handler = provider.callback();
  return { issuer: running.url, close: () => running.close(1_000) };
}

/** A plain resource server (RFC 9728, RFC 6750) serving Markdown notes under `/notes`, whose tokens come from `issuer`. */
export interface NotesServer {
  url: string;
  /** Its resource identifier: `{url}/notes`. */
  resource: string;
  close(): Promise<void>;
}

export async function startNotesServer(issuer: () => string): Promise<NotesServer> {
  let resource = '';
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', resource).pathname;
      const metadataUrl = `${new URL(resource).origin}/.well-known/oauth-protected-resource/notes`;
      if (path === '/.well-known/oauth-protected-resource/notes') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            resource,
            authorization_servers: [issuer()],
            scopes_supported: ['notes:read'],
            bearer_methods_supported: ['header'],
          }),
        );
        return;
      }
      // A server that points its challenge at another resource's metadata, to borrow its sign-in.
      if (path === '/borrowed') {
        res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${metadataUrl}"` }).end();
        return;
      }
      if (path === '/plain') {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="plain"' }).end();
        return;
      }
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      try {
        if (!token) throw new Error('no token');
        await jwtVerify(token, jwks(), { issuer: issuer(), audience: resource, typ: 'at+jwt' });
      } catch {
        res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${metadataUrl}", scope="notes:read"` }).end();
        return;
      }
      const markdown = req.headers.accept?.includes('text/markdown');
      res.writeHead(200, { 'content-type': markdown ? 'text/markdown; charset=utf-8' : 'text/html; charset=utf-8' });
      res.end(markdown ? '# Notes for today\n\n- ship the device flow\n' : '<h1>Notes for today</h1>');
    })();
  });
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  const jwks = () => (keys ??= createRemoteJWKSet(new URL(`${issuer()}/jwks`)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  resource = `${url}/notes`;
  return { url, resource, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * A person at `oidc-provider`'s device pages: types the user code, confirms it, signs in at the
 * development login form as `login`, consents. Resolves the last page.
 */
export async function approveAtOidcProvider(verificationUri: string, userCode: string, login: string): Promise<string> {
  const browser = new FormBrowser(new URL(verificationUri).origin);
  const hidden = (page: string) =>
    Object.fromEntries([...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m) => [m[1]!, m[2]!]));
  const input = await (await browser.get(verificationUri)).text();
  const confirm = await (await browser.post(verificationUri, { ...hidden(input), user_code: userCode })).text();
  const confirmed = await browser.post(verificationUri, hidden(confirm));
  const outcome = await runBrowser(browser, new URL(confirmed.headers.get('location')!, verificationUri).href, [browser.origin], {
    idpLogin: login,
  });
  return outcome.page;
}
