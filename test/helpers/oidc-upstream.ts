/// <reference path="./oidc-provider.d.ts" />
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { listen } from '../../portal/http/server.js';

/**
 * An upstream MCP server whose authorization server is a real `oidc-provider` on the same origin:
 * people sign in at its development login form (any password; the login is the account's `sub`),
 * it registers clients dynamically (RFC 7591), issues JWT access tokens for the MCP endpoint
 * through resource indicators (RFC 8707), rotating refresh tokens with `offline_access`, and ID
 * tokens with the `email` claim (`conformIdTokenClaims: false`). The MCP endpoint publishes RFC 9728
 * metadata, checks every token against the provider's keys, and its `whoami` tool answers the
 * token's `sub`: the test sees which of a person's accounts a call used.
 */
export interface OidcUpstream {
  /** The MCP endpoint, `http://127.0.0.1:{port}/mcp`. */
  url: string;
  /** The authorization server's issuer (the same origin). */
  issuer: string;
  /** The accounts that can sign in, by login (`sub`), with their email. */
  people: Map<string, { email: string }>;
  /** Lifetime of the access tokens issued from now on (seconds). */
  controls: { accessTtlSeconds: number };
  /** Token endpoint grants that succeeded, by grant type. */
  grants: { authorization_code: number; refresh_token: number };
  /** The `sub` of every token the MCP endpoint accepted, in order. */
  callers: string[];
  close(): Promise<void>;
}

export async function startOidcUpstream(): Promise<OidcUpstream> {
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const app = express();
  const running = await listen(
    (req, res) => {
      if (req.url?.startsWith('/mcp') || req.url?.startsWith('/.well-known/oauth-protected-resource')) app(req, res);
      else handle!(req, res);
    },
    { host: '127.0.0.1', port: 0 },
  );
  const issuer = running.url;
  const mcpUrl = `${issuer}/mcp`;
  const people = new Map<string, { email: string }>();
  const controls = { accessTtlSeconds: 3600 };
  const grants = { authorization_code: 0, refresh_token: 0 };
  const callers: string[] = [];
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'upstream-key-1', alg: 'RS256', use: 'sig' };
  const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'upstream-key-1', alg: 'RS256', use: 'sig' }] });

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    cookies: {
      keys: ['upstream-cookie-key-0123456789'],
      names: { session: 'up_session', interaction: 'up_interaction', resume: 'up_resume' },
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'email', 'offline_access'],
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => mcpUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== mcpUrl) throw new errors.InvalidTarget();
          return { scope: 'notes', audience: mcpUrl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    pkce: { required: () => true },
    ttl: {
      AccessToken: () => controls.accessTtlSeconds,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 3600,
    },
    async renderError(ctx: { type: string; body: string }, out: Record<string, string>) {
      ctx.type = 'html';
      ctx.body = `<p>error: ${out.error}</p>`;
    },
    async findAccount(_ctx: unknown, id: string) {
      const person = people.get(id);
      return person && { accountId: id, claims: async () => ({ sub: id, email: person.email, email_verified: true }) };
    },
  });
  provider.on('grant.success', (ctx: unknown) => {
    const type = (ctx as { oidc: { params: { grant_type?: string } } }).oidc.params.grant_type;
    if (type === 'authorization_code' || type === 'refresh_token') grants[type]++;
  });
  provider.on('server_error', (_ctx: unknown, err: unknown) => {
    if (process.env.IDP_DEBUG) console.error(err);
  });
  handle = provider.callback();

  const resourceMetadataUrl = `${issuer}/.well-known/oauth-protected-resource/mcp`;
  app.get(
    '/.well-known/oauth-protected-resource/mcp',
    (_req, res) => void res.json({ resource: mcpUrl, authorization_servers: [issuer], scopes_supported: ['notes'] }),
  );
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      try {
        const { payload } = await jwtVerify(token, keys, { issuer, audience: mcpUrl, typ: 'at+jwt' });
        return {
          token,
          clientId: String(payload.client_id),
          scopes: String(payload.scope ?? '').split(' '),
          expiresAt: payload.exp,
          extra: { sub: payload.sub },
        };
      } catch (error) {
        throw new InvalidTokenError(`token is not valid: ${(error as Error).message}`);
      }
    },
  };
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  app.all('/mcp', requireBearerAuth({ verifier, resourceMetadataUrl }), express.json(), async (req, res) => {
    callers.push(String(req.auth?.extra?.sub));
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id) return void res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, created),
      });
      const mcp = new McpServer({ name: 'oidc-upstream', version: '1.0.0' });
      mcp.registerTool('whoami', { inputSchema: {} }, async (_args, extra) => ({
        content: [{ type: 'text', text: `sub ${String(extra.authInfo?.extra?.sub)}` }],
      }));
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });

  return {
    url: mcpUrl,
    issuer,
    people,
    controls,
    grants,
    callers,
    async close() {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      await running.close(1_000);
    },
  };
}
