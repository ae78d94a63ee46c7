import { hashPassword } from '../../portal/crypto/password.js';
import {
  basicAuth,
  formPost,
  json,
  registerClient,
  startOAuthPortal,
  tokensFor,
  type OAuthErrorBody,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { TEST_PASSWORD_COST, type TestPortal } from '../helpers/portal.js';

const ROBOT = { id: 'robot', secret: 'robot-secret-0123456789' };

/**
 * `POST /introspect` (RFC 7662) answers only about the caller's own tokens: a client, service
 * clients included, learns nothing about a token issued to another client (§2.2 `active: false`;
 * §4: the server decides what a caller may see). A person's token is no service client's business.
 */
describe('/introspect answers a client about its own tokens only', () => {
  let portal: TestPortal;

  beforeAll(async () => {
    portal = await startOAuthPortal({
      // Nothing listens here: no test reaches the upstream.
      upstreams: [{ id: 'wiki', kind: 'http', url: 'http://127.0.0.1:1' }],
      service_clients: [{ client_id: ROBOT.id, secret_hash: await hashPassword(ROBOT.secret, TEST_PASSWORD_COST), upstreams: ['wiki'] }],
    });
  });
  afterAll(() => portal.close());

  const asRobot = (fields: Record<string, string>, path: string) =>
    formPost(portal.url, fields, { authorization: basicAuth(ROBOT.id, ROBOT.secret) }, path);

  async function robotToken(): Promise<string> {
    const res = await asRobot({ grant_type: 'client_credentials' }, '/token');
    expect(res.status).toBe(200);
    return (await json<TokenBody>(res)).access_token;
  }

  test('a service client introspects its own token: active, attributed to service:{id}', async () => {
    const res = await asRobot({ token: await robotToken() }, '/introspect');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ active: true, client_id: ROBOT.id, sub: `service:${ROBOT.id}` });
  });

  test('a service client asking about a person’s tokens learns nothing: active false, no claims', async () => {
    const agent = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
    const tokens = await tokensFor(portal.url, agent, { params: { scope: 'mcp offline_access' } });
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      const res = await asRobot({ token }, '/introspect');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ active: false });
    }
    // The token's own client still may ask.
    const own = await formPost(
      portal.url,
      { token: tokens.access_token },
      { authorization: basicAuth(agent.client_id, agent.client_secret!) },
      '/introspect',
    );
    expect(await own.json()).toMatchObject({ active: true, sub: 'local:alice', client_id: agent.client_id });
  });

  test('a confidential client asking about another client’s token learns nothing', async () => {
    const other = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
    const asker = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
    const tokens = await tokensFor(portal.url, other);
    for (const token of [tokens.access_token, await robotToken()]) {
      const res = await formPost(portal.url, { token }, { authorization: basicAuth(asker.client_id, asker.client_secret!) }, '/introspect');
      expect(await res.json()).toEqual({ active: false });
    }
  });

  test('a public client may not introspect at all (401 invalid_client)', async () => {
    const agent = await registerClient(portal.url);
    const tokens = await tokensFor(portal.url, agent);
    const res = await formPost(portal.url, { token: tokens.access_token, client_id: agent.client_id }, {}, '/introspect');
    expect(res.status).toBe(401);
    expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_client');
  });
});
