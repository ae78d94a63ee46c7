import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { listen } from '../../portal/http/server.js';
import { createRemoteKeys, isKeyFetchFailure } from '../../portal/oauth/remote-keys.js';

/**
 * An OpenID provider on 127.0.0.1 whose discovery names its JWKS either on its own origin or on
 * another one (`localhost`, the same server under another name): a `jwks_uri` on another origin is
 * learned, not configured, so the portal may not reach it inside the network.
 */
describe('remote keys: only the origins the operator configured may be inside the network', () => {
  let issuer = '';
  let jwksOrigin = '';
  let jwksFetches = 0;
  let server: Awaited<ReturnType<typeof listen>>;
  const keys = generateKeyPair('ES256');

  beforeAll(async () => {
    const { publicKey } = await keys;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    server = await listen(
      (req, res) => {
        const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (req.url === '/.well-known/openid-configuration')
          return json({
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${jwksOrigin}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['ES256'],
          });
        if (req.url === '/jwks') {
          jwksFetches++;
          return json({ keys: [jwk] });
        }
        res.writeHead(404).end();
      },
      { host: '127.0.0.1', port: 0 },
    );
    issuer = server.url;
  });
  afterAll(() => server.close(1_000));

  const signed = async () =>
    new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setExpirationTime('1m')
      .sign((await keys).privateKey);

  test("discovery naming a jwks_uri on the issuer's own origin: verified", async () => {
    jwksOrigin = issuer;
    const { payload } = await jwtVerify(await signed(), createRemoteKeys().ofOidcIssuer(issuer));
    expect(payload.sub).toBe('alice');
  });

  test('a JWKS URL the operator configured, on a loopback address: verified', async () => {
    const { payload } = await jwtVerify(await signed(), createRemoteKeys().atJwksUri(`${issuer}/jwks`));
    expect(payload.sub).toBe('alice');
  });

  test('bad input: discovery naming a jwks_uri on another origin inside the network is refused before any request', async () => {
    jwksOrigin = issuer.replace('127.0.0.1', 'localhost');
    const before = jwksFetches;
    const failure = await jwtVerify(await signed(), createRemoteKeys().ofOidcIssuer(issuer)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(isKeyFetchFailure(failure)).toBe(true);
    expect(jwksFetches).toBe(before);
  });
});
