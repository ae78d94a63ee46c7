import { resolveConfig } from '../../portal/config/load.js';
import { configError } from '../helpers/config-error.js';

const exchange = (credentials: Record<string, unknown>) => ({
  upstreams: [
    {
      id: 'remote',
      kind: 'mcp',
      url: 'http://127.0.0.1:1/mcp',
      credentials: {
        type: 'token-exchange',
        token_endpoint: 'https://sts.example/token',
        audience: 'https://api.example',
        client_id: 'gate',
        ...credentials,
      },
    },
  ],
});

describe('delegation config keys', () => {
  test('a complete token-exchange credential, service clients with keys, trusted issuers and id_jag load', () => {
    const config = resolveConfig(
      {
        ...exchange({ client_secret_env: 'STS_SECRET' }),
        login: { idps: [{ id: 'corp', issuer: 'https://idp.example', client_id: 'g', client_secret: 's', id_jag: true }] },
        service_clients: [{ client_id: 'robot', jwks_uri: 'https://robot.example/jwks.json', upstreams: ['remote'] }],
        token_exchange: {
          trusted_issuers: [{ id: 'gate-a', issuer: 'https://gate-a.example', jwks_uri: 'https://gate-a.example/.well-known/jwks.json' }],
        },
      },
      { STS_SECRET: 'sts-secret' },
      'test',
    );
    expect(config.login.idps[0]!.idJag).toBe(true);
    expect(config.tokenExchange.trustedIssuers[0]!.id).toBe('gate-a');
  });

  test('token-exchange mistakes name the key', () => {
    expect(configError(exchange({}))).toMatch(/^config: upstreams\[0\]\.credentials\.client_secret_env: give exactly one of/);
    expect(configError(exchange({ client_secret_env: 'A', private_key_env: 'B' }))).toMatch(
      /credentials\.client_secret_env: give exactly one/,
    );
    expect(configError(exchange({ client_secret_env: 'STS_SECRET' }))).toMatch(
      /credentials\.client_secret_env: environment variable STS_SECRET is not set/,
    );
    expect(configError(exchange({ private_key_env: 'STS_KEY' }), { STS_KEY: 'not a key' })).toMatch(
      /credentials\.private_key_env: environment variable STS_KEY is not a PKCS#8 PEM/,
    );
    expect(configError(exchange({ client_secret_env: 'S', token_endpoint: undefined }))).toMatch(
      /credentials\.token_endpoint: is required for type token-exchange/,
    );
    expect(
      configError({
        upstreams: [{ id: 'x', kind: 'mcp', url: 'http://127.0.0.1:1/mcp', credentials: { audience: 'https://api.example' } }],
      }),
    ).toMatch(/credentials\.audience: is only for type token-exchange/);
  });

  test('a service client has exactly one way to authenticate', () => {
    const upstreams = [{ id: 'wiki', kind: 'http', url: 'http://127.0.0.1:1' }];
    expect(configError({ upstreams, service_clients: [{ client_id: 'r', upstreams: ['wiki'] }] })).toMatch(
      /service_clients\[0\]\.secret_hash: give exactly one of secret_hash, jwks or jwks_uri/,
    );
    expect(
      configError({
        upstreams,
        service_clients: [{ client_id: 'r', secret_hash: 'scrypt$x', jwks_uri: 'https://r.example/jwks', upstreams: ['wiki'] }],
      }),
    ).toMatch(/give exactly one/);
  });

  test('a trusted issuer id must not name people signed in another way', () => {
    const document = {
      login: { idps: [{ id: 'corp', issuer: 'https://idp.example', client_id: 'g', client_secret: 's' }] },
      token_exchange: { trusted_issuers: [{ id: 'corp', issuer: 'https://sts.example', jwks_uri: 'https://sts.example/jwks' }] },
    };
    expect(configError(document)).toMatch(/token_exchange\.trusted_issuers\[0\]\.id: "corp" already names people/);
  });
});
