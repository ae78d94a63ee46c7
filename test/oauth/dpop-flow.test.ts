import * as oauth from 'oauth4webapi';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { jwtPayload } from '../helpers/dpop.js';
import { startTestUpstream, type Echo, type TestUpstream } from '../helpers/http-app-upstream.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { challenges, UNLIMITED } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { buildAuthorizeUrl, insecure } from '../helpers/strict-client.js';

const REDIRECT_URI = 'http://127.0.0.1:9999/callback';
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'dpop-agent', version: '1' } },
});

/**
 * DPoP (RFC 9449) end to end, with oauth4webapi as the client and its DPoP handle making every
 * proof: authorization code flow (with `dpop_jkt`), refresh, introspection, and requests to
 * `/mcp`, `/mcp/{id}` and `/apps/{id}` with proofs.
 */
describe('DPoP-bound tokens, with oauth4webapi as the client', () => {
  let portal: TestPortal;
  let notes: RecordingServer;
  let wiki: TestUpstream;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    [notes, wiki] = await Promise.all([startRecordingMcpServer(), startTestUpstream()]);
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        admins: { groups: ['eng'] },
        rate_limits: UNLIMITED,
        upstreams: [
          { id: 'notes', kind: 'mcp', url: notes.url, tools: { pinning: 'off' } },
          { id: 'wiki', kind: 'http', url: wiki.url },
        ],
      },
    });
    const issuer = new URL(portal.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  });
  afterAll(async () => {
    await portal?.close();
    await Promise.all([notes?.close(), wiki?.close()]);
  });

  async function register(method: 'none' | 'client_secret_basic'): Promise<oauth.Client & { client_secret?: string }> {
    const res = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: method,
        grant_types: ['authorization_code', 'refresh_token'],
        client_name: 'DPoP agent',
      },
      insecure,
    );
    return (await oauth.processDynamicClientRegistrationResponse(res)) as oauth.Client & { client_secret?: string };
  }

  /** Authorization code flow with PKCE, `dpop_jkt` and `offline_access`, exchanged with a DPoP proof. */
  async function dpopTokens(
    client: oauth.Client,
    auth: oauth.ClientAuth,
    DPoP: oauth.DPoPHandle,
    resource?: string,
    scope = 'mcp offline_access',
  ) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = await buildAuthorizeUrl(as, client.client_id, { redirectUri: REDIRECT_URI, verifier, state, scope, resource });
    url.searchParams.set('dpop_jkt', await DPoP.calculateThumbprint());
    const callback = await new FormBrowser(portal.url).authorize(url.href, ALICE);
    const params = oauth.validateAuthResponse(as, client, callback, state);
    return oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, verifier, { ...insecure, DPoP }),
    );
  }

  const mcpHeaders = () => new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' });

  test('metadata: the authorization server and every protected resource list the DPoP algorithms', async () => {
    expect(as.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'PS256']));
    expect(as.dpop_signing_alg_values_supported).not.toContain('HS256');
    for (const path of ['/mcp', '/mcp/notes', '/apps/wiki']) {
      const metadata = (await (await fetch(`${portal.url}/.well-known/oauth-protected-resource${path}`)).json()) as Record<string, unknown>;
      expect(metadata).toMatchObject({
        resource: `${portal.url}${path}`,
        dpop_bound_access_tokens_required: false,
        dpop_signing_alg_values_supported: as.dpop_signing_alg_values_supported,
      });
    }
  });

  test('a 401 without a token offers both schemes, Bearer with its resource metadata and DPoP with its algorithms', async () => {
    const res = await fetch(`${portal.url}/mcp`, { method: 'POST', headers: mcpHeaders(), body: INITIALIZE });
    expect(res.status).toBe(401);
    const offered = challenges(res.headers.get('www-authenticate'));
    expect(offered.Bearer).toEqual({ resource_metadata: `${portal.url}/.well-known/oauth-protected-resource/mcp`, scope: 'mcp' });
    expect(offered.DPoP!.algs!.split(' ')).toEqual(as.dpop_signing_alg_values_supported);
  });

  test('public client: code flow → DPoP-bound token → /mcp and /apps/{id} with proofs → refresh bound to the same key', async () => {
    const client = await register('none');
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const jkt = await DPoP.calculateThumbprint();
    const tokens = await dpopTokens(client, oauth.None(), DPoP);
    expect(tokens.token_type).toBe('dpop');
    expect(tokens.refresh_token).toBeDefined();
    expect(jwtPayload(tokens.access_token)).toMatchObject({ aud: `${portal.url}/mcp`, cnf: { jkt } });

    const mcp = await oauth.protectedResourceRequest(tokens.access_token, 'POST', new URL(`${portal.url}/mcp`), mcpHeaders(), INITIALIZE, {
      ...insecure,
      DPoP,
    });
    expect(mcp.status).toBe(200);
    expect(mcp.headers.get('mcp-session-id')).toBeTruthy();
    await mcp.text();

    // The aggregate's token reaches the app; neither the token nor the proof is passed on to it.
    const seen = wiki.seen.length;
    const app = await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${portal.url}/apps/wiki/echo?x=1`),
      new Headers(),
      null,
      { ...insecure, DPoP },
    );
    expect(app.status).toBe(200);
    const echo = (await app.json()) as Echo;
    expect(echo.url).toBe('/echo?x=1');
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers.dpop).toBeUndefined();
    expect(wiki.seen.length).toBe(seen + 1);

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, { ...insecure, DPoP }),
    );
    expect(refreshed.token_type).toBe('dpop');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(jwtPayload(refreshed.access_token)).toMatchObject({ cnf: { jkt } });
    const again = await oauth.protectedResourceRequest(
      refreshed.access_token,
      'POST',
      new URL(`${portal.url}/mcp`),
      mcpHeaders(),
      INITIALIZE,
      { ...insecure, DPoP },
    );
    expect(again.status).toBe(200);
    await again.text();
  });

  test('a token for /mcp/{id}, bound with an EdDSA key, reaches that upstream with proofs', async () => {
    const client = await register('none');
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('EdDSA'));
    const tokens = await dpopTokens(client, oauth.None(), DPoP, `${portal.url}/mcp/notes`);
    expect(tokens.token_type).toBe('dpop');
    const before = notes.requests.length;
    const res = await oauth.protectedResourceRequest(
      tokens.access_token,
      'POST',
      new URL(`${portal.url}/mcp/notes`),
      mcpHeaders(),
      INITIALIZE,
      { ...insecure, DPoP },
    );
    expect(res.status).toBe(200);
    await res.text();
    expect(notes.requests.length).toBeGreaterThan(before);
    // The upstream gets the portal's own credential, never the agent's proof.
    expect(notes.requests.at(-1)!.headers.dpop).toBeUndefined();
  });

  test('the admin API takes a DPoP-bound admin token with its proof, and refuses it as a bearer token', async () => {
    const client = await register('none');
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const tokens = await dpopTokens(client, oauth.None(), DPoP, `${portal.url}/admin`, 'admin');
    expect(tokens.token_type).toBe('dpop');
    const me = await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${portal.url}/admin/api/v1/me`),
      new Headers({ accept: 'application/json' }),
      null,
      { ...insecure, DPoP },
    );
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ via: 'bearer' });
    const asBearer = await fetch(`${portal.url}/admin/api/v1/me`, {
      headers: { accept: 'application/json', authorization: `Bearer ${tokens.access_token}` },
    });
    expect(asBearer.status).toBe(401);
    expect(((await asBearer.json()) as { error: string }).error).toBe('invalid_token');
  });

  test('a confidential client: its introspection shows the binding (RFC 9449 §6.2)', async () => {
    const client = await register('client_secret_basic');
    const auth = oauth.ClientSecretBasic(client.client_secret!);
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const tokens = await dpopTokens(client, auth, DPoP);
    expect(tokens.token_type).toBe('dpop');
    const introspection = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
    );
    expect(introspection).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: await DPoP.calculateThumbprint() } });
  });

  test('bearer tokens keep working: a client without DPoP gets a Bearer token, introspected without cnf', async () => {
    const client = await register('client_secret_basic');
    const auth = oauth.ClientSecretBasic(client.client_secret!);
    const verifier = oauth.generateRandomCodeVerifier();
    const url = await buildAuthorizeUrl(as, client.client_id, { redirectUri: REDIRECT_URI, verifier });
    const params = oauth.validateAuthResponse(
      as,
      client,
      await new FormBrowser(portal.url).authorize(url.href, ALICE),
      oauth.expectNoState,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, verifier, insecure),
    );
    expect(tokens.token_type).toBe('bearer');
    expect(jwtPayload(tokens.access_token).cnf).toBeUndefined();
    const res = await oauth.protectedResourceRequest(
      tokens.access_token,
      'POST',
      new URL(`${portal.url}/mcp`),
      mcpHeaders(),
      INITIALIZE,
      insecure,
    );
    expect(res.status).toBe(200);
    await res.text();
    const introspection = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
    );
    expect(introspection.token_type).toBe('Bearer');
    expect(introspection.cnf).toBeUndefined();
  });
});
