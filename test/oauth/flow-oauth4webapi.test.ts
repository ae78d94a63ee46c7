import * as oauth from 'oauth4webapi';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { buildAuthorizeUrl, insecure } from '../helpers/strict-client.js';

const REDIRECT_URI = 'http://127.0.0.1:9999/callback';

/** An MCP initialize request, to prove a token works on the protected endpoint. */
function initialize(url: string, token: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
}

describe('authorization code flow, validated by oauth4webapi as a strict client', () => {
  let portal: TestPortal;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    portal = await startTestPortal({ document: { login: { accounts: await testAccounts() } } });
    const issuer = new URL(portal.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  });
  afterAll(() => portal.close());

  async function registerPublicClient(): Promise<oauth.Client> {
    const res = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        client_name: 'Test Agent',
      },
      insecure,
    );
    return (await oauth.processDynamicClientRegistrationResponse(res)) as oauth.Client;
  }

  async function authorize(client: oauth.Client, extra: { scope?: string; resource?: string } = {}) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = await buildAuthorizeUrl(as, client.client_id, { redirectUri: REDIRECT_URI, verifier, state, ...extra });
    const browser = new FormBrowser(portal.url);
    const callback = await browser.authorize(url.href, ALICE);
    return { params: oauth.validateAuthResponse(as, client, callback, state), verifier, browser };
  }

  test('discovery metadata advertises what MCP clients need', () => {
    expect(as).toMatchObject({
      issuer: portal.url,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: true,
      registration_endpoint: `${portal.url}/register`,
      revocation_endpoint: `${portal.url}/revoke`,
      introspection_endpoint: `${portal.url}/introspect`,
    });
    expect(as.scopes_supported).toEqual(expect.arrayContaining(['mcp', 'offline_access']));
  });

  test('register → PKCE → sign in → consent → token → protected request → refresh → revoke', async () => {
    const client = await registerPublicClient();
    const { params, verifier } = await authorize(client);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, insecure),
    );
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.refresh_token).toBeDefined();
    expect((await initialize(`${portal.url}/mcp`, tokens.access_token)).status).toBe(200);

    // RFC 9068 shape
    const [header, payload] = tokens.access_token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(header.kid).toBeDefined();
    expect(payload).toMatchObject({
      iss: portal.url,
      sub: 'local:alice',
      aud: `${portal.url}/mcp`,
      client_id: client.client_id,
      scope: 'mcp',
    });
    expect(payload.jti && payload.grant_id && payload.exp > payload.iat).toBeTruthy();

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure),
    );
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await initialize(`${portal.url}/mcp`, refreshed.access_token)).status).toBe(200);

    const revoked = await oauth.revocationRequest(as, client, oauth.None(), refreshed.refresh_token!, insecure);
    await oauth.processRevocationResponse(revoked);
    // Revoking the refresh token ends the grant's access tokens at once.
    const after = await initialize(`${portal.url}/mcp`, refreshed.access_token);
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  test('a second authorization for the same client, resource and scope skips the consent page', async () => {
    const client = await registerPublicClient();
    const first = await authorize(client);
    expect(first.params.get('code')).toBeTruthy();
    const url = await buildAuthorizeUrl(as, client.client_id, { redirectUri: REDIRECT_URI, verifier: oauth.generateRandomCodeVerifier() });
    const res = await first.browser.follow(url.href);
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    // A wider scope asks again.
    url.searchParams.set('scope', 'mcp offline_access');
    const again = await first.browser.follow(url.href);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('action="/consent"');
  });

  test('a confidential client authenticates with client_secret_basic, and introspects its own token', async () => {
    const res = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        client_name: 'Confidential',
      },
      insecure,
    );
    const client = (await oauth.processDynamicClientRegistrationResponse(res)) as oauth.Client & { client_secret: string };
    const auth = oauth.ClientSecretBasic(client.client_secret);
    const { params, verifier } = await authorize(client);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT_URI, verifier, insecure),
    );
    expect(tokens.refresh_token).toBeUndefined();
    const introspection = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
    );
    expect(introspection).toMatchObject({
      active: true,
      sub: 'local:alice',
      client_id: client.client_id,
      aud: `${portal.url}/mcp`,
      email: 'alice@example.com',
    });
  });

  test('RFC 7592: read and delete a registration with its registration access token', async () => {
    const res = await fetch(`${portal.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', client_name: 'Managed' }),
    });
    expect(res.status).toBe(201);
    const registered = (await res.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string };
    const auth = { authorization: `Bearer ${registered.registration_access_token}` };
    const read = await fetch(registered.registration_client_uri, { headers: auth });
    expect(await read.json()).toMatchObject({ client_id: registered.client_id, client_name: 'Managed', redirect_uris: [REDIRECT_URI] });
    expect((await fetch(registered.registration_client_uri, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(registered.registration_client_uri, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect((await fetch(registered.registration_client_uri, { headers: auth })).status).toBe(401);
  });
});
