import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  bearerChallenge,
  json,
  mcpInitialize,
  registerClient,
  startOAuthPortal,
  tokensFor,
  type OAuthErrorBody,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { LogCapture, type TestPortal } from '../helpers/portal.js';
import { errorHandler } from '../../portal/http/errors.js';
import { createLogger } from '../../portal/logger.js';
import { stepUpScope } from '../../portal/oauth/scopes.js';

/**
 * A token that lacks a scope is 403 `insufficient_scope` (RFC 6750 §3.1) whose challenge asks
 * for what the request needs together with what the token already holds for the resource, so a
 * client that re-authorizes with exactly that scope keeps its other access (MCP 2026-07-28
 * "Step-Up Authorization Flow"). `offline_access` is never asked for (a refresh token is no
 * resource requirement), and a token for another resource is asked only what is needed here.
 */
describe('insufficient_scope asks for the step-up scope', () => {
  let portal: TestPortal;
  let full: TokenBody;
  let offlineOnly: TokenBody;
  let route: Server;
  let routeUrl: string;

  beforeAll(async () => {
    portal = await startOAuthPortal();
    const client = await registerClient(portal.url);
    full = await tokensFor(portal.url, client, { params: { scope: 'mcp offline_access' } });
    offlineOnly = await tokensFor(portal.url, client, { params: { scope: 'offline_access' } });
    // A route of the aggregate's resource that needs a scope agents' tokens lack: the portal's own bearer check and error writer.
    const app = express();
    app.get(
      '/needs-admin',
      portal.oauth.requireBearer({ resource: () => ({ url: `${portal.url}/mcp`, path: '/mcp' }), scope: ['admin'] }),
      (_req, res) => void res.json({ ok: true }),
    );
    app.use(errorHandler(createLogger({ level: 'silent', destination: new LogCapture() })));
    route = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => route.once('listening', resolve));
    routeUrl = `http://127.0.0.1:${(route.address() as AddressInfo).port}/needs-admin`;
  });
  afterAll(async () => {
    await new Promise((resolve) => route.close(resolve));
    await portal.close();
  });

  test('the tokens are what the test thinks they are (the control case)', () => {
    expect(full.scope.split(' ').sort()).toEqual(['mcp', 'offline_access']);
    expect(offlineOnly.scope).toBe('offline_access');
  });

  test('a token holding mcp and offline_access, at a route that needs admin: scope="admin mcp"', async () => {
    const res = await fetch(routeUrl, { headers: { authorization: `Bearer ${full.access_token}` } });
    expect(res.status).toBe(403);
    const challenge = bearerChallenge(res.headers.get('www-authenticate'));
    expect(challenge).toEqual({
      resource_metadata: `${portal.url}/.well-known/oauth-protected-resource/mcp`,
      scope: 'admin mcp',
      error: 'insufficient_scope',
      error_description: expect.stringContaining('admin'),
    });
    expect((await json<OAuthErrorBody>(res)).error).toBe('insufficient_scope');
  });

  test('a token holding only offline_access at /mcp: scope="mcp", without offline_access', async () => {
    const res = await mcpInitialize(`${portal.url}/mcp`, offlineOnly.access_token);
    expect(res.status).toBe(403);
    expect(bearerChallenge(res.headers.get('www-authenticate'))).toMatchObject({ error: 'insufficient_scope', scope: 'mcp' });
    expect((await json<OAuthErrorBody>(res)).error).toBe('insufficient_scope');
  });

  test('a token for another resource (the aggregate) at the admin API: only the scope needed there', async () => {
    const res = await fetch(`${portal.url}/admin/api/v1/clients`, { headers: { authorization: `Bearer ${full.access_token}` } });
    expect(res.status).toBe(403);
    expect(bearerChallenge(res.headers.get('www-authenticate'))).toMatchObject({
      error: 'insufficient_scope',
      scope: 'admin',
      resource_metadata: `${portal.url}/.well-known/oauth-protected-resource/admin`,
    });
  });

  test('a refused request changes nothing: the token still works where its scope suffices', async () => {
    await (await fetch(routeUrl, { headers: { authorization: `Bearer ${full.access_token}` } })).text();
    const res = await mcpInitialize(`${portal.url}/mcp`, full.access_token);
    expect(res.status).toBe(200);
    await res.text();
  });

  test('without a token, the challenge names only what is needed (there is nothing held to keep)', async () => {
    const res = await fetch(routeUrl);
    expect(res.status).toBe(401);
    expect(bearerChallenge(res.headers.get('www-authenticate'))).toEqual({
      resource_metadata: `${portal.url}/.well-known/oauth-protected-resource/mcp`,
      scope: 'admin',
    });
  });
});

describe('stepUpScope', () => {
  test('needed first, then what is held, each once, without offline_access', () => {
    expect(stepUpScope(['admin'], ['mcp', 'offline_access'])).toEqual(['admin', 'mcp']);
    expect(stepUpScope(['mcp'], ['offline_access'])).toEqual(['mcp']);
    expect(stepUpScope(['files:write'], ['files:read', 'files:write'])).toEqual(['files:write', 'files:read']);
    expect(stepUpScope(['a', 'b'], [])).toEqual(['a', 'b']);
  });
});
