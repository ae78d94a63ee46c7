import { decodeJwt, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import * as oauth from 'oauth4webapi';
import { listen, type RunningServer } from '../../portal/http/server.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { startTestPortal, type TestPortal } from '../helpers/portal.js';
import { insecure } from '../helpers/strict-client.js';

/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2) for service clients, with oauth4webapi's
 * PrivateKeyJwt as the client: keys inline (`jwks`) or published (`jwks_uri`, served here on
 * 127.0.0.1); the assertion's audience is the issuer or the token endpoint; its `jti` is used once.
 */
describe('private_key_jwt for service clients', () => {
  let portal: TestPortal;
  let jwksHost: RunningServer;
  let as: oauth.AuthorizationServer;
  let inlineKey: CryptoKey;
  let remoteKey: CryptoKey;
  let strangerKey: CryptoKey;

  beforeAll(async () => {
    const [inline, remote, stranger] = await Promise.all([generateKeyPair('ES256'), generateKeyPair('ES256'), generateKeyPair('ES256')]);
    [inlineKey, remoteKey, strangerKey] = [inline.privateKey, remote.privateKey, stranger.privateKey];
    const remoteJwks = { keys: [{ ...(await exportJWK(remote.publicKey)), kid: 'remote-1', alg: 'ES256' }] };
    jwksHost = await listen((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(remoteJwks)), {
      host: '127.0.0.1',
      port: 0,
    });
    portal = await startTestPortal({
      document: {
        rate_limits: UNLIMITED,
        upstreams: [{ id: 'wiki', kind: 'http', url: 'http://127.0.0.1:1' }],
        service_clients: [
          {
            client_id: 'nightly-inline',
            jwks: { keys: [{ ...(await exportJWK(inline.publicKey)), kid: 'inline-1', alg: 'ES256' }] },
            upstreams: ['wiki'],
          },
          { client_id: 'nightly-remote', jwks_uri: `${jwksHost.url}/jwks.json`, upstreams: ['wiki'] },
        ],
      },
    });
    const issuer = new URL(portal.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  });
  afterAll(async () => {
    await portal?.close();
    await jwksHost?.close(1_000);
  });

  type Payload = Record<string, unknown>;
  const tokenRequest = (clientId: string, key: CryptoKey, kid: string, modify?: (payload: Payload) => void) =>
    oauth.clientCredentialsGrantRequest(
      as,
      { client_id: clientId },
      oauth.PrivateKeyJwt({ key, kid }, { [oauth.modifyAssertion]: (_header, payload) => modify?.(payload as Payload) }),
      new URLSearchParams(),
      insecure,
    );

  test('metadata lists private_key_jwt and the new grant types', () => {
    expect(as.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(as.token_endpoint_auth_signing_alg_values_supported).toContain('ES256');
    expect(as.grant_types_supported).toEqual(
      expect.arrayContaining(['urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:ietf:params:oauth:grant-type:token-exchange']),
    );
  });

  test('inline keys, audience the issuer; published keys, audience the token endpoint', async () => {
    const inline = await oauth.processClientCredentialsResponse(
      as,
      { client_id: 'nightly-inline' },
      await tokenRequest('nightly-inline', inlineKey, 'inline-1'),
    );
    expect(decodeJwt(inline.access_token)).toMatchObject({ sub: 'service:nightly-inline', client_id: 'nightly-inline' });
    const remote = await oauth.processClientCredentialsResponse(
      as,
      { client_id: 'nightly-remote' },
      await tokenRequest('nightly-remote', remoteKey, 'remote-1', (payload) => {
        payload.aud = as.token_endpoint;
      }),
    );
    expect(decodeJwt(remote.access_token)).toMatchObject({ sub: 'service:nightly-remote' });
  });

  describe('bad input: invalid_client, nothing issued, audited', () => {
    async function expectRefused(res: Promise<Response>, clientId = 'nightly-inline'): Promise<void> {
      const grants = (await portal.grants.listByClient(clientId)).length;
      const failures = portal.logs.lines.filter((l) => l.event === 'client_auth_failed').length;
      const answer = await res;
      const body = (await answer.json()) as { error: string; access_token?: string };
      expect({ status: answer.status, error: body.error, token: body.access_token }).toEqual({
        status: 401,
        error: 'invalid_client',
        token: undefined,
      });
      expect((await portal.grants.listByClient(clientId)).length).toBe(grants);
      expect(portal.logs.lines.filter((l) => l.event === 'client_auth_failed').at(failures)).toMatchObject({
        outcome: 'failure',
        clientId,
        method: 'private_key_jwt',
      });
    }
    const now = () => Math.floor(Date.now() / 1000);

    test('wrong audience', () =>
      expectRefused(
        tokenRequest('nightly-inline', inlineKey, 'inline-1', (payload) => {
          payload.aud = 'https://elsewhere.example';
        }),
      ));

    test('replayed jti', async () => {
      const jti = `fixed-${Date.now()}`;
      const fixed = (payload: Payload) => {
        payload.jti = jti;
      };
      expect((await tokenRequest('nightly-inline', inlineKey, 'inline-1', fixed)).status).toBe(200);
      await expectRefused(tokenRequest('nightly-inline', inlineKey, 'inline-1', fixed));
    });

    test('expired', () =>
      expectRefused(
        tokenRequest('nightly-inline', inlineKey, 'inline-1', (payload) => {
          Object.assign(payload, { iat: now() - 900, nbf: now() - 900, exp: now() - 600 });
        }),
      ));

    test('a lifetime that is not short', () =>
      expectRefused(
        tokenRequest('nightly-inline', inlineKey, 'inline-1', (payload) => {
          payload.exp = now() + 3600;
        }),
      ));

    test('signed by a key the client does not have', async () => {
      await expectRefused(tokenRequest('nightly-inline', strangerKey, 'inline-1'));
      await expectRefused(tokenRequest('nightly-remote', strangerKey, 'remote-1'), 'nightly-remote');
    });

    test('a sub that is another client', () =>
      expectRefused(
        tokenRequest('nightly-inline', inlineKey, 'inline-1', (payload) => {
          Object.assign(payload, { sub: 'nightly-remote', iss: 'nightly-remote' });
        }),
      ));
  });
});
