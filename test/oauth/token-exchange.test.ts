import { decodeJwt, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { createPortalAssertions } from '../../portal/credentials/portal-jwt.js';
import { SIGNING_ALG } from '../../portal/oauth/signing-keys.js';
import { callTool } from '../helpers/mcp-call.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { formPost, registerClient, tokensFor, UNLIMITED, type RegisteredClient, type TokenBody } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { insecure } from '../helpers/strict-client.js';
import { toolText } from '../helpers/mcp-wire.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/**
 * RFC 8693 token exchange at the portal, with oauth4webapi as the client: an agent narrows its
 * token for a sub-agent (another resource of the portal, no more scope), the new token's `act`
 * records the chain and ends with the original grant. A second portal is a trusted issuer: its
 * signed assertions are subject tokens here, for the person `{id}:{sub}` under the usual policy.
 */
describe('token exchange', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;
  let peer: TestPortal;
  let stranger: TestPortal;
  let as: oauth.AuthorizationServer;
  let agent: RegisteredClient;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    const accounts = await testAccounts();
    // The peer and the stranger are other Gatehouses; only the peer is trusted.
    peer = await startTestPortal({ document: { login: { accounts }, rate_limits: UNLIMITED } });
    stranger = await startTestPortal({ document: { login: { accounts }, rate_limits: UNLIMITED } });
    portal = await startTestPortal({
      document: {
        login: { accounts },
        rate_limits: UNLIMITED,
        upstreams: [
          { id: 'notes', kind: 'mcp', url: upstream.url, access: { groups: ['eng'] } },
          { id: 'ledger', kind: 'mcp', url: upstream.url, access: { groups: ['finance', 'eng'] } },
          { id: 'payroll', kind: 'mcp', url: upstream.url, access: { groups: ['finance'] } },
        ],
        token_exchange: { trusted_issuers: [{ id: 'gate-a', issuer: peer.url, jwks_uri: `${peer.url}/.well-known/jwks.json` }] },
      },
    });
    const issuer = new URL(portal.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    agent = await registerClient(portal.url, {
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE],
    });
  });
  afterAll(async () => {
    await Promise.all([portal?.close(), peer?.close(), stranger?.close(), upstream?.close()]);
  });

  const exchange = (subjectToken: string, params: Record<string, string> = {}, client = agent) =>
    oauth.genericTokenEndpointRequest(
      as,
      { client_id: client.client_id },
      oauth.ClientSecretBasic(client.client_secret!),
      TOKEN_EXCHANGE,
      { subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, ...params },
      insecure,
    );
  const exchanged = async (subjectToken: string, params: Record<string, string> = {}) =>
    (await oauth.processGenericTokenEndpointResponse(
      as,
      { client_id: agent.client_id },
      await exchange(subjectToken, params),
    )) as oauth.TokenEndpointResponse & { issued_token_type?: string };
  const aliceTokens = (params: Record<string, string> = {}): Promise<TokenBody> =>
    tokensFor(portal.url, agent, { params: { scope: 'mcp offline_access', ...params } });
  const mcpStatus = async (path: string, token: string) => {
    const res = await fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    await res.text();
    return res.status;
  };

  test('an agent narrows its token for a sub-agent: one upstream, fewer scopes, act records the chain, no refresh token', async () => {
    const original = await aliceTokens();
    const narrow = await exchanged(original.access_token, { resource: `${portal.url}/mcp/notes`, scope: 'mcp' });
    expect(narrow.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
    expect(narrow.refresh_token).toBeUndefined();
    expect(narrow.scope).toBe('mcp');
    const claims = decodeJwt(narrow.access_token);
    expect(claims).toMatchObject({
      sub: 'local:alice',
      aud: `${portal.url}/mcp/notes`,
      client_id: agent.client_id,
      scope: 'mcp',
      act: { sub: agent.client_id },
    });

    // The sub-agent's token works on its upstream, and only there.
    expect(toolText(await callTool(`${portal.url}/mcp/notes`, narrow.access_token, 'echo', { message: 'from the sub-agent' }))).toBe(
      'from the sub-agent',
    );
    expect(await mcpStatus('/mcp/ledger', narrow.access_token)).toBe(401);

    // Exchanged again, the chain grows by one.
    const narrower = await exchanged(narrow.access_token);
    expect(decodeJwt(narrower.access_token)).toMatchObject({
      aud: `${portal.url}/mcp/notes`,
      act: { sub: agent.client_id, act: { sub: agent.client_id } },
    });
    expect(portal.logs.lines.some((l) => l.event === 'token_issued' && l.grant === 'token_exchange' && l.person === 'local:alice')).toBe(
      true,
    );
  });

  test('revoking the original grant revokes every token exchanged from it', async () => {
    const original = await aliceTokens();
    const narrow = await exchanged(original.access_token, { resource: `${portal.url}/mcp/notes` });
    const narrower = await exchanged(narrow.access_token);
    expect(await mcpStatus('/mcp/notes', narrower.access_token)).toBe(200);

    const revoked = await oauth.revocationRequest(
      as,
      { client_id: agent.client_id },
      oauth.ClientSecretBasic(agent.client_secret!),
      original.refresh_token!,
      insecure,
    );
    await oauth.processRevocationResponse(revoked);
    expect(await mcpStatus('/mcp/notes', narrow.access_token)).toBe(401);
    expect(await mcpStatus('/mcp/notes', narrower.access_token)).toBe(401);
  });

  test("a trusted issuer's assertion becomes the person {id}:{sub} with its email and groups, under the usual policy", async () => {
    const peerClient = await registerClient(peer.url);
    const peerAlice = {
      person: { id: 'local:alice', idp: 'local', email: 'alice@example.com', emailVerified: true, groups: ['eng'] },
      clientId: peerClient.client_id,
      grantId: 'g',
      scope: ['mcp'],
      resource: `${peer.url}/mcp`,
      upstreamIds: [],
      expiresAt: 0,
    };
    const assertion = await createPortalAssertions({ issuer: peer.url, keys: peer.keys }).mint(peerAlice, `${portal.url}/mcp`);

    const tokens = await exchanged(assertion, { subject_token_type: JWT_TYPE });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: 'gate-a:local:alice',
      aud: `${portal.url}/mcp`,
      act: { sub: agent.client_id, act: { sub: peerClient.client_id, iss: peer.url } },
    });
    const grant = await portal.grants.find(decodeJwt(tokens.access_token).grant_id as string);
    // Policy: `eng` reaches notes and ledger, not payroll.
    expect(grant).toMatchObject({
      person: { id: 'gate-a:local:alice', idp: 'gate-a', email: 'alice@example.com', groups: ['eng'] },
      upstreamIds: ['notes', 'ledger'],
    });
    expect(toolText(await callTool(`${portal.url}/mcp`, tokens.access_token, 'notes__echo', { message: 'across portals' }))).toBe(
      'across portals',
    );
    const seen = decodeJwt(upstream.requests.at(-1)!.headers.authorization!.replace(/^Bearer /, ''));
    expect(seen).toMatchObject({ iss: portal.url, sub: 'gate-a:local:alice', email: 'alice@example.com' });

    const payroll = await exchange(assertion, { subject_token_type: JWT_TYPE, resource: `${portal.url}/mcp/payroll` });
    expect(((await payroll.json()) as { error: string }).error).toBe('invalid_target');
  });

  describe('bad input: the RFC error, nothing issued, audited', () => {
    async function expectRefused(res: Promise<Response>, error: string): Promise<void> {
      const grants = (await portal.grants.listByClient(agent.client_id)).length;
      const refusals = portal.logs.lines.filter((l) => l.event === 'token_refused').length;
      const answer = await res;
      const body = (await answer.json()) as { error: string; access_token?: string };
      expect({ status: answer.status, error: body.error, token: body.access_token }).toEqual({ status: 400, error, token: undefined });
      expect((await portal.grants.listByClient(agent.client_id)).length).toBe(grants);
      const audited = portal.logs.lines.filter((l) => l.event === 'token_refused');
      expect(audited.length).toBe(refusals + 1);
      expect(audited.at(-1)).toMatchObject({ outcome: 'failure', clientId: agent.client_id, grant: 'token_exchange', error });
    }

    test('an expired subject token', async () => {
      const { kid, privateKey } = await portal.keys.current();
      const original = decodeJwt((await aliceTokens()).access_token);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ ...original, iat: now - 3600, exp: now - 600 })
        .setProtectedHeader({ alg: SIGNING_ALG, typ: 'at+jwt', kid })
        .sign(privateKey);
      await expectRefused(exchange(expired), 'invalid_request');
    });

    test('a revoked subject token', async () => {
      const original = await aliceTokens();
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(
          as,
          { client_id: agent.client_id },
          oauth.ClientSecretBasic(agent.client_secret!),
          original.refresh_token!,
          insecure,
        ),
      );
      await expectRefused(exchange(original.access_token), 'invalid_request');
    });

    test("a wider scope than the subject token's", async () => {
      const original = await aliceTokens({ scope: 'mcp' });
      await expectRefused(exchange(original.access_token, { scope: 'mcp offline_access' }), 'invalid_scope');
      await expectRefused(exchange(original.access_token, { scope: 'mcp admin' }), 'invalid_scope');
    });

    test('a token of an untrusted issuer', async () => {
      const foreign = await tokensFor(stranger.url, await registerClient(stranger.url), { person: ALICE });
      await expectRefused(exchange(foreign.access_token), 'invalid_request');
    });

    test("a trusted issuer's expired assertion", async () => {
      const { kid, privateKey } = await peer.keys.current();
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ email: 'alice@example.com', groups: ['eng'] })
        .setProtectedHeader({ alg: SIGNING_ALG, kid })
        .setIssuer(peer.url)
        .setSubject('local:alice')
        .setAudience(`${portal.url}/mcp`)
        .setIssuedAt(now - 3600)
        .setExpirationTime(now - 600)
        .sign(privateKey);
      await expectRefused(exchange(expired, { subject_token_type: JWT_TYPE }), 'invalid_request');
    });

    test('a resource not of this portal', async () => {
      const original = await aliceTokens();
      await expectRefused(exchange(original.access_token, { resource: 'https://elsewhere.example/mcp' }), 'invalid_target');
    });

    test('a resource the subject token does not reach', async () => {
      const original = await aliceTokens();
      const narrow = await exchanged(original.access_token, { resource: `${portal.url}/mcp/notes` });
      await expectRefused(exchange(narrow.access_token, { resource: `${portal.url}/mcp/ledger` }), 'invalid_target');
    });

    test('a subject token issued to another client', async () => {
      const other = await registerClient(portal.url, {
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', TOKEN_EXCHANGE],
      });
      const theirs = await tokensFor(portal.url, other);
      await expectRefused(exchange(theirs.access_token), 'invalid_request');
    });

    test('no subject_token_type, or one the portal does not take', async () => {
      const original = await aliceTokens();
      await expectRefused(
        formPost(
          portal.url,
          { grant_type: TOKEN_EXCHANGE, subject_token: original.access_token },
          { authorization: `Basic ${Buffer.from(`${agent.client_id}:${agent.client_secret}`).toString('base64')}` },
        ),
        'invalid_request',
      );
      await expectRefused(
        exchange(original.access_token, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }),
        'invalid_request',
      );
    });
  });
});
