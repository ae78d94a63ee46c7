import { randomBytes, randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InvalidGrantError, InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import { getOAuthProtectedResourceMetadataUrl, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { OAuthClientInformationFull, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { storeKey, type Store } from '../../portal/store/store.js';

interface IssuedToken {
  clientId: string;
  scopes: string[];
  resource?: string;
  /** Seconds since the epoch (access tokens). */
  expiresAt?: number;
  valid: boolean;
}

/** What the test can change while the upstream runs. */
export interface UpstreamControls {
  /** Lifetime of the next access tokens issued (seconds). */
  accessTtlSeconds: number;
  /** The token endpoint answers this instead of tokens (an AS sending malformed tokens). */
  malformedTokenResponse?: Record<string, unknown>;
  /** The MCP endpoint refuses every request with 401, whatever the token. */
  always401: boolean;
  /** Scopes a token needs at the MCP endpoint (403 insufficient_scope otherwise). */
  requiredScopes: string[];
  /**
   * The AS sends `iss` in its authorization responses and says so in its metadata
   * (`authorization_response_iss_parameter_supported`, RFC 9207 §2-2.3). Read when metadata is fetched.
   */
  issParameterSupported: boolean;
}

/**
 * An upstream MCP server protected by its own OAuth authorization server, both built from the
 * MCP SDK: `mcpAuthRouter` with an in-memory provider (dynamic registration, PKCE, RFC 8707
 * resource, refresh rotation, RFC 7009 revocation) and `requireBearerAuth` in front of a
 * Streamable HTTP MCP server with tools `whoami` and `echo`. Every request's headers are recorded
 * (and the bodies of token and registration requests).
 */
export interface OAuthUpstream {
  /** The MCP endpoint, `http://127.0.0.1:{port}/mcp`. */
  url: string;
  /** The AS issuer, `http://127.0.0.1:{port}/`. */
  issuer: string;
  controls: UpstreamControls;
  requests: { method: string; path: string; headers: IncomingHttpHeaders; body?: Record<string, unknown> }[];
  /** Token endpoint calls by grant type. */
  tokenCalls: { authorization_code: number; refresh_token: number };
  registrations: number;
  /** Tokens revoked through the revocation endpoint. */
  revoked: string[];
  /** Every access and refresh token issued, newest last. */
  issued: { accessTokens: string[]; refreshTokens: string[] };
  /** The `resource` of every code exchange (RFC 8707). */
  resources: string[];
  /** Invalidates every access token (the AS "expires" them early); refresh tokens stay valid. */
  expireAccessTokens(): void;
  /** Invalidates every token, refresh tokens included (the person's grant revoked at the upstream). */
  revokeEverything(): void;
  close(): Promise<void>;
}

export async function startOAuthUpstream(initial: Partial<UpstreamControls> = {}): Promise<OAuthUpstream> {
  let app: express.Express | undefined;
  const server = http.createServer((req, res) => app!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mcpUrl = new URL(`${base}/mcp`);

  const controls: UpstreamControls = {
    accessTtlSeconds: 3600,
    always401: false,
    requiredScopes: [],
    issParameterSupported: false,
    ...initial,
  };
  const clients = new Map<string, OAuthClientInformationFull>();
  const codes = new Map<string, { clientId: string; params: AuthorizationParams }>();
  const accessTokens = new Map<string, IssuedToken>();
  const refreshTokens = new Map<string, IssuedToken>();
  const upstream: Omit<OAuthUpstream, 'close' | 'expireAccessTokens' | 'revokeEverything'> = {
    url: mcpUrl.href,
    issuer: `${base}/`,
    controls,
    requests: [],
    tokenCalls: { authorization_code: 0, refresh_token: 0 },
    registrations: 0,
    revoked: [],
    issued: { accessTokens: [], refreshTokens: [] },
    resources: [],
  };

  function issue(clientId: string, scopes: string[], resource?: URL): OAuthTokens {
    const access = `at-${randomBytes(16).toString('hex')}`;
    const refresh = `rt-${randomBytes(16).toString('hex')}`;
    accessTokens.set(access, {
      clientId,
      scopes,
      resource: resource?.href,
      expiresAt: Math.floor(Date.now() / 1000) + controls.accessTtlSeconds,
      valid: true,
    });
    refreshTokens.set(refresh, { clientId, scopes, resource: resource?.href, valid: true });
    upstream.issued.accessTokens.push(access);
    upstream.issued.refreshTokens.push(refresh);
    return {
      access_token: access,
      token_type: 'bearer',
      expires_in: controls.accessTtlSeconds,
      refresh_token: refresh,
      scope: scopes.join(' '),
    };
  }

  const provider: OAuthServerProvider = {
    clientsStore: {
      getClient: (id) => clients.get(id),
      registerClient: (client) => {
        const full = {
          ...client,
          client_id: randomUUID(),
          client_id_issued_at: Math.floor(Date.now() / 1000),
        } as OAuthClientInformationFull;
        clients.set(full.client_id, full);
        upstream.registrations++;
        return full;
      },
    },
    // The person "signs in and approves" at once: the portal's side of the flow is what is tested.
    async authorize(client, params, res) {
      const code = randomBytes(16).toString('hex');
      codes.set(code, { clientId: client.client_id, params });
      const target = new URL(params.redirectUri);
      target.searchParams.set('code', code);
      if (params.state !== undefined) target.searchParams.set('state', params.state);
      if (controls.issParameterSupported) target.searchParams.set('iss', upstream.issuer);
      res.redirect(302, target.href);
    },
    async challengeForAuthorizationCode(_client, code) {
      const entry = codes.get(code);
      if (!entry) throw new InvalidGrantError('unknown code');
      return entry.params.codeChallenge;
    },
    async exchangeAuthorizationCode(client, code, _verifier, _redirectUri, resource) {
      const entry = codes.get(code);
      codes.delete(code);
      if (!entry || entry.clientId !== client.client_id) throw new InvalidGrantError('unknown code');
      upstream.resources.push(resource?.href ?? '');
      return issue(client.client_id, entry.params.scopes ?? [], resource);
    },
    async exchangeRefreshToken(client, refreshToken, _scopes, resource) {
      const entry = refreshTokens.get(refreshToken);
      if (!entry?.valid || entry.clientId !== client.client_id) throw new InvalidGrantError('refresh token is not valid');
      entry.valid = false;
      return issue(client.client_id, entry.scopes, resource ?? (entry.resource ? new URL(entry.resource) : undefined));
    },
    async verifyAccessToken(token): Promise<AuthInfo> {
      const entry = accessTokens.get(token);
      if (!entry?.valid) throw new InvalidTokenError('token is not valid');
      return {
        token,
        clientId: entry.clientId,
        scopes: entry.scopes,
        expiresAt: entry.expiresAt,
        ...(entry.resource ? { resource: new URL(entry.resource) } : {}),
      };
    },
    async revokeToken(_client, request) {
      upstream.revoked.push(request.token);
      for (const map of [accessTokens, refreshTokens]) {
        const entry = map.get(request.token);
        if (entry) entry.valid = false;
      }
    },
  };

  const sessions = new Map<string, StreamableHTTPServerTransport>();
  app = express();
  app.use((req, _res, next) => {
    upstream.requests.push({ method: req.method, path: req.path, headers: req.headers });
    next();
  });
  app.post('/token', express.urlencoded({ extended: false }), (req, res, next) => {
    const grant = (req.body as { grant_type?: string }).grant_type;
    if (grant === 'authorization_code' || grant === 'refresh_token') upstream.tokenCalls[grant]++;
    upstream.requests[upstream.requests.length - 1]!.body = req.body as Record<string, unknown>;
    if (controls.malformedTokenResponse) return void res.json(controls.malformedTokenResponse);
    next();
  });
  app.post('/register', express.json(), (req, _res, next) => {
    upstream.requests[upstream.requests.length - 1]!.body = req.body as Record<string, unknown>;
    next();
  });
  app.get('/.well-known/oauth-authorization-server', (_req, res, next) => {
    if (!controls.issParameterSupported) return next();
    const send = res.json.bind(res);
    res.json = (body: Record<string, unknown>) => send({ ...body, authorization_response_iss_parameter_supported: true });
    next();
  });
  app.use(
    mcpAuthRouter({
      provider,
      issuerUrl: new URL(upstream.issuer),
      resourceServerUrl: mcpUrl,
      scopesSupported: ['notes', 'admin', 'offline_access'],
      authorizationOptions: { rateLimit: false },
      tokenOptions: { rateLimit: false },
      clientRegistrationOptions: { rateLimit: false },
      revocationOptions: { rateLimit: false },
    }),
  );
  const resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(mcpUrl);
  app.all('/mcp', (_req, res, next) => {
    if (!controls.always401) return next();
    res
      .set('WWW-Authenticate', `Bearer error="invalid_token", error_description="never", resource_metadata="${resourceMetadataUrl}"`)
      .status(401)
      .json({ error: 'invalid_token' });
  });
  app.all('/mcp', (req, res, next) =>
    requireBearerAuth({ verifier: provider, resourceMetadataUrl, expectedResource: mcpUrl, requiredScopes: controls.requiredScopes })(
      req,
      res,
      next,
    ),
  );
  app.all('/mcp', express.json(), async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id) return void res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, created),
      });
      const mcp = new McpServer({ name: 'oauth-upstream', version: '1.0.0' });
      mcp.registerTool('whoami', { inputSchema: {} }, async (_args, extra) => ({
        content: [{ type: 'text', text: `client ${extra.authInfo?.clientId} scopes ${extra.authInfo?.scopes.join(' ')}` }],
      }));
      mcp.registerTool('echo', { inputSchema: { message: z.string() } }, async ({ message }) => ({
        content: [{ type: 'text', text: message }],
      }));
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });

  return Object.assign(upstream, {
    expireAccessTokens() {
      for (const entry of accessTokens.values()) entry.valid = false;
    },
    revokeEverything() {
      for (const map of [accessTokens, refreshTokens]) for (const entry of map.values()) entry.valid = false;
    },
    async close() {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/**
 * A person's browser connecting an upstream through the portal: `/connect/{id}` (signing in
 * first if needed), the upstream's authorization endpoint, and back to the portal's callback.
 * Resolves the portal's final answer (the "connected" page, or an error page).
 */
export async function connectInBrowser(
  browser: import('./browser-form-client.js').FormBrowser,
  upstreamId: string,
  person?: { username: string; password: string },
  query = '',
): Promise<Response> {
  let res = await browser.follow(`${browser.origin}/connect/${upstreamId}${query}`);
  if (res.status === 200 && person) res = await browser.signIn(res, person);
  const authorize = res.headers.get('location');
  if (res.status !== 303 || !authorize) return res;
  const back = await fetch(authorize, { redirect: 'manual' });
  const callback = back.headers.get('location');
  if (!callback) throw new Error(`the upstream's authorization endpoint answered ${back.status}`);
  return browser.follow(callback);
}

/** The upstreams a person holds tokens for at a portal: what its connects stored. */
export function storedConnections(portal: { store: Store }, personId: string): Promise<string[]> {
  return portal.store.setMembers(storeKey('upstream-token-index', personId));
}
