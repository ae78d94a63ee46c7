import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import {
  Client as ModernClient,
  CrossAppAccessProvider,
  StreamableHTTPClientTransport as ModernTransport,
} from '@modelcontextprotocol/client';
import { startIdJagIdp, type IdJagIdp, type IdJagOptions } from '../helpers/id-jag-idp.js';
import { callTool } from '../helpers/mcp-call.js';
import { closedPort, startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, testKeyPrefix } from '../helpers/redis.js';
import { insecure } from '../helpers/strict-client.js';
import { toolText } from '../helpers/mcp-wire.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * Enterprise-managed authorization (draft-ietf-oauth-identity-assertion-authz-grant, the MCP
 * extension): an IdP written with jose signs ID-JAGs; oauth4webapi presents them at `/token` as
 * RFC 7523 JWT bearer grants; the tokens reach a real MCP upstream as the IdP's person, under the
 * upstream's `access` rules. Two portal processes share one Redis, so an ID-JAG is used once across both.
 */
describe('ID-JAG (jwt-bearer grant)', () => {
  let idp: IdJagIdp;
  let partner: IdJagIdp;
  let upstream: RecordingServer;
  let first: TestPortal;
  let second: TestPortal;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let clientSecret: string;
  let unreachableIdp: string;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    [idp, partner, upstream] = await Promise.all([startIdJagIdp(), startIdJagIdp(), startRecordingMcpServer()]);
    unreachableIdp = `http://127.0.0.1:${await closedPort()}`;
    const keyPrefix = testKeyPrefix();
    const [a, b] = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(a.cleanup, b.cleanup);
    const document = {
      login: {
        accounts: await testAccounts(),
        idps: [
          { id: 'corp', issuer: idp.issuer, client_id: 'gatehouse', client_secret: 'corp-secret', id_jag: true },
          { id: 'partner', issuer: partner.issuer, client_id: 'gatehouse', client_secret: 'partner-secret' },
          { id: 'gone', issuer: unreachableIdp, client_id: 'gatehouse', client_secret: 'gone-secret', id_jag: true },
        ],
      },
      upstreams: [
        { id: 'notes', kind: 'mcp', url: upstream.url, access: { groups: ['eng'] } },
        { id: 'ledger', kind: 'mcp', url: upstream.url, access: { groups: ['finance'] } },
      ],
      rate_limits: UNLIMITED,
    };
    first = await startTestPortal({ document, store: a.store });
    second = await startTestPortal({ document, store: b.store, env: { PUBLIC_URL: first.url } });
    const issuer = new URL(first.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          redirect_uris: ['http://127.0.0.1:9999/callback'],
          grant_types: [JWT_BEARER],
          token_endpoint_auth_method: 'client_secret_basic',
          client_name: 'Enterprise Agent',
        },
        insecure,
      ),
    );
    client = { client_id: registered.client_id };
    clientSecret = registered.client_secret as string;
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await Promise.all([idp?.close(), partner?.close(), upstream?.close()]);
  });

  const dana = { email: 'dana@corp.example', email_verified: true, name: 'Dana', groups: ['eng'] };
  const idJag = (options: IdJagOptions & { resource?: string; clientId?: string; from?: IdJagIdp } = {}) =>
    (options.from ?? idp).idJag(
      {
        audience: first.url,
        clientId: options.clientId ?? client.client_id,
        subject: 'U-dana',
        resource: options.resource ?? `${first.url}/mcp/notes`,
      },
      { ...options, claims: { ...dana, ...options.claims } },
    );
  const present = (assertion: string, portal = first, params: Record<string, string> = {}) =>
    oauth.genericTokenEndpointRequest(
      { ...as, token_endpoint: `${portal.url}/token` },
      client,
      oauth.ClientSecretBasic(clientSecret),
      JWT_BEARER,
      { assertion, ...params },
      insecure,
    );

  test('an ID-JAG of an id_jag IdP gets a token without a browser; it reaches the upstream as the IdP person', async () => {
    const tokens = await oauth.processGenericTokenEndpointResponse(as, client, await present(await idJag()));
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope).toBe('mcp');
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: 'corp:U-dana',
      aud: `${first.url}/mcp/notes`,
      client_id: client.client_id,
    });

    const result = await callTool(`${first.url}/mcp/notes`, tokens.access_token, 'echo', { message: 'hello from dana' });
    expect(toolText(result)).toBe('hello from dana');
    const seen = upstream.requests.at(-1)!.headers.authorization!.replace(/^Bearer /, '');
    expect(decodeJwt(seen)).toMatchObject({
      sub: 'corp:U-dana',
      email: 'dana@corp.example',
      groups: ['eng'],
      act: { sub: client.client_id },
    });
    expect(first.logs.lines.some((l) => l.event === 'token_issued' && l.grant === 'id_jag' && l.person === 'corp:U-dana')).toBe(true);
  });

  test("the v2 MCP SDK's CrossAppAccessProvider finds the portal (RFC 9728), presents the ID-JAG and calls the upstream", async () => {
    const asked: Array<{ authorizationServerUrl: string; resourceUrl: string }> = [];
    const provider = new CrossAppAccessProvider({
      clientId: client.client_id,
      clientSecret,
      expectedIssuer: first.url,
      assertion: async (context) => {
        asked.push({ authorizationServerUrl: context.authorizationServerUrl, resourceUrl: context.resourceUrl });
        return idp.idJag(
          { audience: context.authorizationServerUrl, clientId: client.client_id, subject: 'U-dana', resource: context.resourceUrl },
          { claims: dana },
        );
      },
    });
    const agent = new ModernClient({ name: 'cross-app-agent', version: '1.0.0' });
    await agent.connect(new ModernTransport(new URL(`${first.url}/mcp/notes`), { authProvider: provider }));
    try {
      expect(toolText(await agent.callTool({ name: 'echo', arguments: { message: 'cross-app access' } }))).toBe('cross-app access');
    } finally {
      await agent.close();
    }
    expect(asked).toEqual([{ authorizationServerUrl: first.url, resourceUrl: `${first.url}/mcp/notes` }]);
    expect(decodeJwt(provider.tokens()!.access_token)).toMatchObject({ sub: 'corp:U-dana', aud: `${first.url}/mcp/notes` });
  });

  test('upstream policy applies: the aggregate reaches only what the person may use; a resource they may not use is invalid_target', async () => {
    const tokens = await oauth.processGenericTokenEndpointResponse(
      as,
      client,
      await present(await idJag({ resource: `${first.url}/mcp` })),
    );
    const grant = await first.grants.find(decodeJwt(tokens.access_token).grant_id as string);
    expect(grant).toMatchObject({ upstreamIds: ['notes'], person: { id: 'corp:U-dana', idp: 'corp', groups: ['eng'] } });

    const refused = await present(await idJag({ resource: `${first.url}/mcp/ledger` }));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_target');
  });

  describe('bad input: invalid_grant, nothing issued, audited', () => {
    async function expectRefused(assertion: string, error = 'invalid_grant', portal = first): Promise<void> {
      const before = (await first.grants.listByClient(client.client_id)).length;
      const refusals = portal.logs.lines.filter((l) => l.event === 'token_refused').length;
      const res = await present(assertion, portal);
      const body = (await res.json()) as { error: string; access_token?: string };
      expect({ status: res.status, error: body.error, token: body.access_token }).toEqual({ status: 400, error, token: undefined });
      expect((await first.grants.listByClient(client.client_id)).length).toBe(before);
      const audited = portal.logs.lines.filter((l) => l.event === 'token_refused');
      expect(audited.length).toBe(refusals + 1);
      expect(audited.at(-1)).toMatchObject({ outcome: 'failure', clientId: client.client_id, grant: 'id_jag', error });
    }

    test('wrong aud', async () => expectRefused(await idJag({ claims: { aud: 'https://other-portal.example' } })));
    test('aud naming this portal and another', async () =>
      expectRefused(await idJag({ claims: { aud: [first.url, 'https://other-portal.example'] } })));
    test('unknown issuer', async () => expectRefused(await idJag({ claims: { iss: 'https://unknown-idp.example' } })));
    test('an IdP without id_jag: true', async () => expectRefused(await idJag({ from: partner })));
    test('expired', async () => expectRefused(await idJag({ lifetimeSeconds: -120 })));
    test('a lifetime that is not short', async () => expectRefused(await idJag({ lifetimeSeconds: 3600 })));
    test('client_id of another client', async () => expectRefused(await idJag({ clientId: 'some-other-agent' })));
    test('typ missing', async () => expectRefused(await idJag({ typ: null })));
    test('typ wrong', async () => expectRefused(await idJag({ typ: 'JWT' })));
    test('signed by a key the IdP does not publish', async () => expectRefused(await idJag({ foreignKey: true })));
    test('no jti', async () => expectRefused(await idJag({ claims: { jti: undefined } })));

    test('a public client may not present an ID-JAG: unauthorized_client', async () => {
      const registered = await oauth.processDynamicClientRegistrationResponse(
        await oauth.dynamicClientRegistrationRequest(
          as,
          { redirect_uris: ['http://127.0.0.1:9999/callback'], grant_types: [JWT_BEARER], token_endpoint_auth_method: 'none' },
          insecure,
        ),
      );
      const publicClient = { client_id: registered.client_id };
      const assertion = await idp.idJag({ audience: first.url, clientId: publicClient.client_id, subject: 'U-dana' }, { claims: dana });
      const res = await oauth.genericTokenEndpointRequest(as, publicClient, oauth.None(), JWT_BEARER, { assertion }, insecure);
      expect({ status: res.status, error: ((await res.json()) as { error: string }).error }).toEqual({
        status: 400,
        error: 'unauthorized_client',
      });
      expect(await first.grants.listByClient(publicClient.client_id)).toEqual([]);
    });

    test('an IdP whose keys cannot be fetched: temporarily_unavailable, nothing issued', async () => {
      const res = await present(await idJag({ claims: { iss: unreachableIdp } }));
      const body = (await res.json()) as { error: string; access_token?: string };
      expect({ status: res.status, error: body.error, token: body.access_token }).toEqual({
        status: 503,
        error: 'temporarily_unavailable',
        token: undefined,
      });
      expect(first.logs.lines.filter((l) => l.event === 'token_refused').at(-1)).toMatchObject({
        grant: 'id_jag',
        error: 'temporarily_unavailable',
      });
    });

    test('replayed, on the same process and on another one', async () => {
      const assertion = await idJag();
      expect((await present(assertion)).status).toBe(200);
      await expectRefused(assertion);
      await expectRefused(assertion, 'invalid_grant', second);
      const another = await idJag();
      expect((await present(another, second)).status).toBe(200);
      await expectRefused(another);
    });
  });
});
