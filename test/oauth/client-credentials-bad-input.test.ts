import { decodeJwt } from 'jose';
import { hashPassword } from '../../portal/crypto/password.js';
import {
  basicAuth,
  formPost,
  json,
  mcpInitialize,
  pkce,
  authorizeUrl,
  registerClient,
  startOAuthPortal,
  type OAuthErrorBody,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { TEST_PASSWORD_COST, type TestPortal } from '../helpers/portal.js';

const ROBOT = { id: 'robot', secret: 'robot-secret-0123456789' };

/**
 * `grant_type=client_credentials` for configured service clients: tokens are attributed to
 * `service:{id}` and reach only the upstreams it lists; everything else is refused.
 */
describe('client_credentials', () => {
  let portal: TestPortal;

  beforeAll(async () => {
    portal = await startOAuthPortal({
      // Nothing listens at these URLs: no test reaches an upstream.
      upstreams: [
        { id: 'wiki', kind: 'http', url: 'http://127.0.0.1:1' },
        { id: 'notes', kind: 'mcp', url: 'http://127.0.0.1:1/mcp' },
      ],
      service_clients: [{ client_id: ROBOT.id, secret_hash: await hashPassword(ROBOT.secret, TEST_PASSWORD_COST), upstreams: ['wiki'] }],
    });
  });
  afterAll(() => portal.close());

  const asRobot = (fields: Record<string, string> = {}, secret = ROBOT.secret) =>
    formPost(portal.url, { grant_type: 'client_credentials', ...fields }, { authorization: basicAuth(ROBOT.id, secret) });

  async function expectOAuthError(res: Response, status: number, error: string): Promise<void> {
    const body = await json<OAuthErrorBody & { access_token?: string }>(res);
    expect({ status: res.status, error: body.error }).toEqual({ status, error });
    expect(body.access_token).toBeUndefined();
  }

  test('a service client gets a token for service:{id}, limited to its upstreams, without a refresh token', async () => {
    const res = await asRobot();
    expect(res.status).toBe(200);
    const tokens = await json<TokenBody>(res);
    expect(tokens.refresh_token).toBeUndefined();
    const claims = decodeJwt(tokens.access_token) as { sub: string; aud: string; client_id: string; scope: string; grant_id: string };
    expect(claims).toMatchObject({ sub: 'service:robot', aud: `${portal.url}/mcp`, client_id: 'robot', scope: 'mcp' });
    // The aggregate reaches wiki and notes; the robot's grant only wiki.
    const grant = await portal.grants.find(claims.grant_id);
    expect(grant).toMatchObject({ kind: 'service', upstreamIds: ['wiki'], person: { id: 'service:robot' } });
    const mcp = await mcpInitialize(`${portal.url}/mcp`, tokens.access_token);
    expect(mcp.status).toBe(200);
    await mcp.text();
    // And it is no key to the upstream it was not given.
    const notes = await mcpInitialize(`${portal.url}/mcp/notes`, tokens.access_token);
    expect(notes.status).toBe(401);
    await notes.text();
  });

  test('client_secret_post works too; a resource it may use is its audience', async () => {
    const res = await formPost(portal.url, {
      grant_type: 'client_credentials',
      client_id: ROBOT.id,
      client_secret: ROBOT.secret,
      resource: `${portal.url}/apps/wiki`,
    });
    expect(res.status).toBe(200);
    const tokens = await json<TokenBody>(res);
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: 'service:robot', aud: `${portal.url}/apps/wiki` });
  });

  test('a resource it may not use, or that does not exist, is invalid_target', async () => {
    await expectOAuthError(await asRobot({ resource: `${portal.url}/mcp/notes` }), 400, 'invalid_target');
    await expectOAuthError(await asRobot({ resource: 'https://evil.example/mcp' }), 400, 'invalid_target');
  });

  test('a scope beyond its configured one is invalid_scope', async () => {
    await expectOAuthError(await asRobot({ scope: 'mcp offline_access' }), 400, 'invalid_scope');
    await expectOAuthError(await asRobot({ scope: 'admin' }), 400, 'invalid_scope');
  });

  test('a wrong secret is 401 invalid_client with a Basic challenge; no secret at all is 401 invalid_client', async () => {
    const wrong = await asRobot({}, 'wrong-secret');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic /);
    await expectOAuthError(wrong, 401, 'invalid_client');
    await expectOAuthError(
      await formPost(portal.url, { grant_type: 'client_credentials', client_id: ROBOT.id, client_secret: 'wrong-secret' }),
      401,
      'invalid_client',
    );
    await expectOAuthError(await formPost(portal.url, { grant_type: 'client_credentials', client_id: ROBOT.id }), 401, 'invalid_client');
  });

  test('a registered (non-service) client is unauthorized_client', async () => {
    const confidential = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
    await expectOAuthError(
      await formPost(
        portal.url,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(confidential.client_id, confidential.client_secret!) },
      ),
      400,
      'unauthorized_client',
    );
    const publicClient = await registerClient(portal.url);
    await expectOAuthError(
      await formPost(portal.url, { grant_type: 'client_credentials', client_id: publicClient.client_id }),
      400,
      'unauthorized_client',
    );
  });

  test('a service client may not use the person-facing grants or /authorize', async () => {
    await expectOAuthError(
      await asRobot({
        grant_type: 'authorization_code',
        code: 'A'.repeat(43),
        code_verifier: 'v'.repeat(43),
        redirect_uri: 'http://127.0.0.1:9999/callback',
      }),
      400,
      'unauthorized_client',
    );
    await expectOAuthError(await asRobot({ grant_type: 'refresh_token', refresh_token: 'a.b' }), 400, 'unauthorized_client');
    const page = await fetch(authorizeUrl(portal.url, ROBOT.id, pkce().challenge), {
      redirect: 'manual',
      headers: { accept: 'text/html' },
    });
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    await page.text();
  });
});
