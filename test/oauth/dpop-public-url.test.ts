import { hashPassword } from '../../portal/crypto/password.js';
import { dpopKey, dpopProof, jwtPayload, thumbprint, type DpopKey } from '../helpers/dpop.js';
import { hostRequest } from '../helpers/host-request.js';
import { startTestUpstream, type Echo, type TestUpstream } from '../helpers/http-app-upstream.js';
import { UNLIMITED, basicAuth, challenges, formPost, json, type OAuthErrorBody, type TokenBody } from '../helpers/oauth-flow.js';
import { startTestPortal, TEST_PASSWORD_COST, type TestPortal } from '../helpers/portal.js';

const PUBLIC_URL = 'http://gate.example.test:8443';
const HOSTED = 'hosted.example.test';
const SECRET = 'nightly-secret-0123456789';

/**
 * A proof's `htu` is the URL the client used: the portal's public address (`PUBLIC_URL`, as behind
 * a reverse proxy) or a host-routed app's origin, never the address the socket happens to see and
 * never what `Host` or `X-Forwarded-*` claim. A service client (client_credentials) binds its
 * token with DPoP as any other grant does.
 */
describe('DPoP behind a reverse proxy and at a host-routed app', () => {
  let portal: TestPortal;
  let wiki: TestUpstream;
  let key: DpopKey;
  let token: string;
  let local: string;

  beforeAll(async () => {
    [wiki, key] = await Promise.all([startTestUpstream(), dpopKey()]);
    portal = await startTestPortal({
      env: { PUBLIC_URL },
      document: {
        rate_limits: UNLIMITED,
        http: { trust_proxy: true },
        service_clients: [
          {
            client_id: 'nightly',
            secret_hash: await hashPassword(SECRET, TEST_PASSWORD_COST),
            upstreams: ['wiki', 'hosted'],
            scope: 'mcp',
          },
        ],
        upstreams: [
          { id: 'wiki', kind: 'http', url: wiki.url },
          { id: 'hosted', kind: 'http', url: wiki.url, host: HOSTED },
        ],
      },
    });
    local = portal.url;
    const res = await formPost(
      local,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('nightly', SECRET), dpop: await dpopProof(key, { htm: 'POST', htu: `${PUBLIC_URL}/token` }) },
    );
    expect(res.status).toBe(200);
    const tokens = await json<TokenBody>(res);
    expect(tokens.token_type).toBe('DPoP');
    expect(jwtPayload(tokens.access_token)).toMatchObject({ iss: PUBLIC_URL, cnf: { jkt: await thumbprint(key) } });
    token = tokens.access_token;
  });
  afterAll(async () => {
    await portal?.close();
    await wiki?.close();
  });

  /** A request for the path-routed app as a reverse proxy passes it on: to the portal's socket, with the public `Host`. */
  const appRequest = async (htu: string, headers: Record<string, string> = {}) =>
    hostRequest(`${local}/apps/wiki/echo`, new URL(PUBLIC_URL).host, {
      authorization: `DPoP ${token}`,
      dpop: await dpopProof(key, { htm: 'GET', htu, accessToken: token }),
      ...headers,
    });

  test('a proof for the public URL is accepted at whatever address the request arrives', async () => {
    const res = await appRequest(`${PUBLIC_URL}/apps/wiki/echo`);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as Echo).url).toBe('/echo');
  });

  test('a proof for the address the portal listens on is for another URL: invalid_dpop_proof', async () => {
    const res = await appRequest(`${local}/apps/wiki/echo`);
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as OAuthErrorBody).error).toBe('invalid_dpop_proof');
  });

  test('forwarded headers do not move the URL a proof must name', async () => {
    const forwarded = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    const res = await appRequest('https://evil.example/apps/wiki/echo', forwarded);
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as OAuthErrorBody).error).toBe('invalid_dpop_proof');
    expect((await appRequest(`${PUBLIC_URL}/apps/wiki/echo`, forwarded)).status).toBe(200);
  });

  test('a host-routed app: the proof names the app’s own origin, not the portal’s', async () => {
    const request = async (htu: string) =>
      hostRequest(`${local}/echo`, HOSTED, {
        authorization: `DPoP ${token}`,
        dpop: await dpopProof(key, { htm: 'GET', htu, accessToken: token }),
      });
    const accepted = await request(`http://${HOSTED}/echo`);
    expect(accepted.status).toBe(200);
    expect((JSON.parse(accepted.body) as Echo).url).toBe('/echo');
    const refused = await request(`${PUBLIC_URL}/echo`);
    expect(refused.status).toBe(401);
    expect((JSON.parse(refused.body) as OAuthErrorBody).error).toBe('invalid_dpop_proof');
    expect(challenges(refused.headers['www-authenticate'] as string).Bearer!.resource_metadata).toBe(
      `http://${HOSTED}/.well-known/oauth-protected-resource`,
    );
  });
});
