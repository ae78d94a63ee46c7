import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { connectIdpAgent, runBrowser } from '../helpers/idp-browser.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/** The person the upstream was told about: the portal-jwt of the last request that carried one. */
function lastAssertion(recorder: RecordingServer): Record<string, unknown> {
  const header = [...recorder.requests].reverse().find((r) => r.headers.authorization)?.headers.authorization;
  return decodeJwt(header!.replace(/^Bearer /, ''));
}

describe('sign-in through company IdPs (two real oidc-provider instances, one primary)', () => {
  let corp: OidcIdp;
  let partner: OidcIdp;
  let recorder: RecordingServer;
  let portal: TestPortal;

  beforeAll(async () => {
    // corp sends only `sub` in the ID token (the portal must ask UserInfo); partner puts every claim in it.
    corp = await startOidcIdp({ cookiePrefix: 'corp' });
    partner = await startOidcIdp({ claimsInIdToken: true, cookiePrefix: 'partner' });
    recorder = await startRecordingMcpServer();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    portal = await startTestPortal({
      document: {
        rate_limits: { login_per_minute: 1000 },
        login: {
          accounts: await testAccounts(),
          idps: [
            {
              id: 'corp',
              title: 'Corp SSO',
              issuer: corp.issuer,
              client_id: 'gatehouse',
              client_secret: 'corp-secret',
              scopes: ['openid', 'email', 'profile', 'groups'],
              primary: true,
            },
            {
              id: 'corp-post',
              issuer: corp.issuer,
              client_id: 'gatehouse-post',
              client_secret: 'post-secret',
              client_auth: 'client_secret_post',
              scopes: ['openid', 'email', 'profile', 'groups'],
            },
            {
              id: 'partner',
              title: 'Partner Co',
              issuer: partner.issuer,
              client_id: 'gatehouse',
              client_auth: 'private_key_jwt',
              private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
              private_key_id: 'gatehouse-key-1',
              scopes: ['openid', 'email', 'profile', 'groups'],
            },
          ],
        },
        upstreams: [{ id: 'recorder', kind: 'mcp', url: recorder.url }],
      },
    });
    const callback = (id: string) => [`${portal.url}/login/${id}/callback`];
    corp.register([
      {
        client_id: 'gatehouse',
        client_secret: 'corp-secret',
        redirect_uris: callback('corp'),
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'gatehouse-post',
        client_secret: 'post-secret',
        redirect_uris: callback('corp-post'),
        token_endpoint_auth_method: 'client_secret_post',
      },
    ]);
    partner.register([
      {
        client_id: 'gatehouse',
        redirect_uris: callback('partner'),
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'gatehouse-key-1', alg: 'ES256', use: 'sig' }] },
      },
    ]);
    corp.people.set('carol', { email: 'carol@corp.example', email_verified: true, name: 'Carol Corp', groups: ['eng', 'ops'] });
    corp.people.set('dave', { email: 'dave@corp.example', email_verified: true, name: 'Dave', groups: ['sales'] });
    partner.people.set('erin', { email: 'erin@partner.example', email_verified: true, name: 'Erin Partner', groups: ['contractors'] });
  });
  afterAll(async () => {
    await portal?.close();
    await recorder?.close();
    await corp?.close();
    await partner?.close();
  });

  const origins = () => [portal.url, corp.issuer, partner.issuer];

  test('the sign-in page goes straight to the primary IdP; ?choose shows every IdP and the built-in form', async () => {
    const browser = new FormBrowser(portal.url);
    const direct = await browser.get(`${portal.url}/login?return_to=%2Fconsent%3Frequest%3Dabc`);
    expect(direct.status).toBe(303);
    expect(direct.headers.get('location')).toBe('/login/corp?return_to=%2Fconsent%3Frequest%3Dabc');

    const chooser = await browser.get(`${portal.url}/login?choose`);
    const page = await chooser.text();
    expect(chooser.status).toBe(200);
    expect(page).toContain('Sign in with Corp SSO');
    expect(page).toContain('Sign in with corp-post');
    expect(page).toContain('Sign in with Partner Co');
    expect(page).toContain('name="username"');
    expect(page).toContain('name="password"');
    expect(page.match(/<button/g)).toHaveLength(1);

    // Starting a sign-in sends the browser to the IdP with PKCE (S256), state and nonce.
    const start = await browser.get(`${portal.url}/login/corp`);
    expect(start.status).toBe(303);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.origin).toBe(corp.issuer);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: 'gatehouse',
      redirect_uri: `${portal.url}/login/corp/callback`,
      scope: 'openid email profile groups',
      code_challenge_method: 'S256',
    });
    expect(authorize.searchParams.get('state')).toMatch(/^[\w-]{32,}$/);
    expect(authorize.searchParams.get('nonce')).toMatch(/^[\w-]{32,}$/);
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
  });

  test('full agent flow: /authorize → primary IdP (claims from UserInfo) → back → consent → token → MCP call as the IdP person', async () => {
    const { client, provider } = await connectIdpAgent(portal.url, [corp.issuer, partner.issuer], { idpLogin: 'carol' });
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('recorder__echo');
      const result = (await client.callTool({ name: 'recorder__echo', arguments: { message: 'hi from carol' } })) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'hi from carol' }]);
      // The browser really went through the IdP's login and back to the portal's callback.
      expect(provider.browser.cookies.has('gatehouse_session')).toBe(true);
      const assertion = lastAssertion(recorder);
      expect(assertion).toMatchObject({ sub: 'corp:carol', email: 'carol@corp.example', groups: ['eng', 'ops'] });
      const [grant] = await portal.grants.listByPerson('corp:carol');
      expect(grant!.person).toMatchObject({
        id: 'corp:carol',
        idp: 'corp',
        name: 'Carol Corp',
        email: 'carol@corp.example',
        emailVerified: true,
        groups: ['eng', 'ops'],
      });
    } finally {
      await client.close();
    }
  });

  test('a second IdP from the chooser: private_key_jwt client auth, claims from the ID token', async () => {
    const { client } = await connectIdpAgent(
      portal.url,
      [corp.issuer, partner.issuer],
      { idpLogin: 'erin', chooseIdp: 'partner' },
      {
        // The person signs in on the chooser first; the agent's authorization then finds the session.
        prepare: (browser, known) => runBrowser(browser, `${portal.url}/login?choose`, known, { idpLogin: 'erin', chooseIdp: 'partner' }),
      },
    );
    try {
      const result = (await client.callTool({ name: 'recorder__echo', arguments: { message: 'from erin' } })) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'from erin' }]);
      expect(lastAssertion(recorder)).toMatchObject({ sub: 'partner:erin', email: 'erin@partner.example', groups: ['contractors'] });
    } finally {
      await client.close();
    }
  });

  test('client_secret_post: the same IdP under another client, and the person id names the IdP entry', async () => {
    const browser = new FormBrowser(portal.url);
    const outcome = await runBrowser(browser, `${portal.url}/login?choose&return_to=%2Fsigned-in`, origins(), {
      idpLogin: 'dave',
      chooseIdp: 'corp-post',
    });
    expect(outcome.visited.at(-1)).toBe(`${portal.url}/signed-in`);
    expect(browser.cookies.has('gatehouse_session')).toBe(true);
    const stored = await portal.store.get('idp-person:{corp-post:dave}');
    expect(JSON.parse(stored!)).toMatchObject({ id: 'corp-post:dave', idp: 'corp-post', email: 'dave@corp.example', groups: ['sales'] });
  });
});
