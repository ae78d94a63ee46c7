import {
  REDIRECT_URI,
  authorizeCode,
  basicAuth,
  exchangeCode,
  formPost,
  json,
  mcpInitialize,
  refresh,
  registerClient,
  startOAuthPortal,
  tokensFor,
  type Authorized,
  type OAuthErrorBody,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { testClock } from '../helpers/test-clock.js';
import type { TestPortal } from '../helpers/portal.js';

/** Expects an OAuth error answer (RFC 6749 §5.2) with `status` and `error`, never cacheable. */
async function expectOAuthError(res: Response, status: number, error: string): Promise<OAuthErrorBody> {
  const body = await json<OAuthErrorBody>(res);
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(res.headers.get('cache-control')).toBe('no-store');
  return body;
}

/** Expects a successful token response, and resolves it. */
async function expectTokens(res: Response): Promise<TokenBody> {
  expect(res.status).toBe(200);
  const body = await json<TokenBody>(res);
  expect(body.access_token).toBeTruthy();
  return body;
}

/** The access token works at `/mcp` (200) or was revoked (401 invalid_token). */
async function mcpStatus(portal: TestPortal, token: string): Promise<number> {
  const res = await mcpInitialize(`${portal.url}/mcp`, token);
  await res.text();
  if (res.status === 401) expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  return res.status;
}

describe('/token rejects bad input and changes nothing', () => {
  let portal: TestPortal;
  let client: RegisteredClient;

  beforeAll(async () => {
    portal = await startOAuthPortal();
    client = await registerClient(portal.url);
  });
  afterAll(() => portal.close());

  /** A fresh code for `owner` (default: the shared public client), as ALICE. */
  const codeFor = (owner: RegisteredClient = client): Promise<Authorized> => authorizeCode(portal.url, owner.client_id);

  describe('authorization_code: PKCE and redirect URI', () => {
    test('a wrong code_verifier is invalid_grant, and the code still works with the right one', async () => {
      const authorized = await codeFor();
      await expectOAuthError(await exchangeCode(portal.url, client, authorized, { code_verifier: 'x'.repeat(43) }), 400, 'invalid_grant');
      // The verifier of another authorization is as wrong.
      const other = await codeFor();
      await expectOAuthError(await exchangeCode(portal.url, client, authorized, { code_verifier: other.verifier }), 400, 'invalid_grant');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a missing code_verifier is invalid_request, and the code still works', async () => {
      const authorized = await codeFor();
      await expectOAuthError(await exchangeCode(portal.url, client, authorized, { code_verifier: undefined }), 400, 'invalid_request');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a malformed code_verifier (too short, or the challenge itself) is invalid_grant, and the code still works', async () => {
      const authorized = await codeFor();
      await expectOAuthError(await exchangeCode(portal.url, client, authorized, { code_verifier: 'short' }), 400, 'invalid_grant');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a redirect_uri other than the authorization request’s is invalid_grant; missing is invalid_request; the code still works', async () => {
      const authorized = await codeFor();
      await expectOAuthError(
        await exchangeCode(portal.url, client, authorized, { redirect_uri: 'http://127.0.0.1:9999/other' }),
        400,
        'invalid_grant',
      );
      await expectOAuthError(
        await exchangeCode(portal.url, client, authorized, { redirect_uri: 'https://evil.example/callback' }),
        400,
        'invalid_grant',
      );
      await expectOAuthError(await exchangeCode(portal.url, client, authorized, { redirect_uri: undefined }), 400, 'invalid_request');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a code issued to another client is invalid_grant, and its own client can still use it', async () => {
      const authorized = await codeFor();
      const thief = await registerClient(portal.url);
      await expectOAuthError(await exchangeCode(portal.url, thief, authorized), 400, 'invalid_grant');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a resource other than the authorized one is invalid_target, and the code still works', async () => {
      const authorized = await codeFor();
      await expectOAuthError(
        await exchangeCode(portal.url, client, authorized, { resource: 'https://evil.example/mcp' }),
        400,
        'invalid_target',
      );
      await expectTokens(await exchangeCode(portal.url, client, authorized, { resource: `${portal.url}/mcp` }));
    });

    test('an unknown or malformed code is invalid_grant', async () => {
      await expectOAuthError(
        await exchangeCode(portal.url, client, { code: 'A'.repeat(43), verifier: 'v'.repeat(43), redirectUri: REDIRECT_URI }),
        400,
        'invalid_grant',
      );
      await expectOAuthError(
        await exchangeCode(portal.url, client, { code: '../../etc', verifier: 'v'.repeat(43), redirectUri: REDIRECT_URI }),
        400,
        'invalid_grant',
      );
      await expectOAuthError(
        await exchangeCode(portal.url, client, { code: '', verifier: 'v'.repeat(43), redirectUri: REDIRECT_URI }),
        400,
        'invalid_request',
      );
    });
  });

  test('code replay: the second exchange is invalid_grant and revokes the grant the first produced', async () => {
    const authorized = await codeFor();
    const first = await expectTokens(await exchangeCode(portal.url, client, authorized));
    expect(await mcpStatus(portal, first.access_token)).toBe(200);

    await expectOAuthError(await exchangeCode(portal.url, client, authorized), 400, 'invalid_grant');
    expect(await mcpStatus(portal, first.access_token)).toBe(401);
    await expectOAuthError(await refresh(portal.url, client, first.refresh_token!), 400, 'invalid_grant');
  });

  test('concurrent exchanges of one code: exactly one succeeds, and what it issued is revoked', async () => {
    const authorized = await codeFor();
    const results = await Promise.all([1, 2, 3].map(() => exchangeCode(portal.url, client, authorized)));
    const statuses = results.map((res) => res.status).sort();
    expect(statuses).toEqual([200, 400, 400]);
    const winner = (await results.find((res) => res.status === 200)!.json()) as { access_token: string };
    await Promise.all(results.filter((res) => res.status !== 200).map((res) => res.text()));
    // A code presented twice is a replay (RFC 6749 §4.1.2), even when the two arrive together.
    expect(await mcpStatus(portal, winner.access_token)).toBe(401);
  });

  describe('request shape', () => {
    test('a repeated parameter is invalid_request, and the code still works', async () => {
      const authorized = await codeFor();
      const fields = {
        grant_type: 'authorization_code',
        code: authorized.code,
        code_verifier: authorized.verifier,
        redirect_uri: REDIRECT_URI,
        client_id: client.client_id,
      };
      await expectOAuthError(
        await formPost(portal.url, { ...fields, redirect_uri: [REDIRECT_URI, 'https://evil.example/cb'] }),
        400,
        'invalid_request',
      );
      await expectOAuthError(
        await formPost(portal.url, { ...fields, code_verifier: [authorized.verifier, authorized.verifier] }),
        400,
        'invalid_request',
      );
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a JSON body is invalid_request, and the code still works', async () => {
      const authorized = await codeFor();
      const res = await fetch(`${portal.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'authorization_code',
          code: authorized.code,
          code_verifier: authorized.verifier,
          redirect_uri: REDIRECT_URI,
          client_id: client.client_id,
        }),
      });
      await expectOAuthError(res, 400, 'invalid_request');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a body with too many parameters is 413 invalid_request, and the code still works', async () => {
      const authorized = await codeFor();
      const padding = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, '1']));
      const fields = {
        grant_type: 'authorization_code',
        code: authorized.code,
        code_verifier: authorized.verifier,
        redirect_uri: REDIRECT_URI,
        client_id: client.client_id,
      };
      await expectOAuthError(await formPost(portal.url, { ...fields, ...padding }), 413, 'invalid_request');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a body over the size limit is 413 invalid_request; one that does not decompress is 400 invalid_request', async () => {
      await expectOAuthError(
        await formPost(portal.url, {
          grant_type: 'refresh_token',
          refresh_token: 'x'.repeat(2 * 1024 * 1024),
          client_id: client.client_id,
        }),
        413,
        'invalid_request',
      );
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const res = await fetch(`${portal.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': encoding },
          body: 'grant_type=authorization_code',
        });
        await expectOAuthError(res, 400, 'invalid_request');
      }
    });

    test('a missing grant_type is invalid_request; an unknown one unsupported_grant_type', async () => {
      await expectOAuthError(await formPost(portal.url, { client_id: client.client_id }), 400, 'invalid_request');
      await expectOAuthError(
        await formPost(portal.url, { grant_type: 'password', username: 'alice', password: 'alice-password', client_id: client.client_id }),
        400,
        'unsupported_grant_type',
      );
    });
  });

  describe('client authentication (RFC 6749 §2.3, §5.2)', () => {
    let confidential: RegisteredClient;
    let postClient: RegisteredClient;

    beforeAll(async () => {
      confidential = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
      postClient = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_post' });
    });

    test('an unknown client is 401 invalid_client (with a Basic challenge when it used Basic)', async () => {
      const authorized = await codeFor();
      await expectOAuthError(await exchangeCode(portal.url, client, authorized, { client_id: 'no-such-client' }), 401, 'invalid_client');
      const basic = await formPost(
        portal.url,
        { grant_type: 'authorization_code', code: authorized.code, code_verifier: authorized.verifier, redirect_uri: REDIRECT_URI },
        { authorization: basicAuth('no-such-client', 'secret') },
      );
      expect(basic.headers.get('www-authenticate')).toMatch(/^Basic /);
      await expectOAuthError(basic, 401, 'invalid_client');
      await expectOAuthError(
        await formPost(portal.url, {
          grant_type: 'authorization_code',
          code: authorized.code,
          code_verifier: authorized.verifier,
          redirect_uri: REDIRECT_URI,
        }),
        401,
        'invalid_client',
      );
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('a wrong secret with client_secret_basic is 401 invalid_client with WWW-Authenticate: Basic, and the code still works', async () => {
      const authorized = await codeFor(confidential);
      const res = await exchangeCode(portal.url, { ...confidential, client_secret: 'wrong-secret' }, authorized);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]*"$/);
      await expectOAuthError(res, 401, 'invalid_client');
      await expectTokens(await exchangeCode(portal.url, confidential, authorized));
    });

    test('a wrong secret with client_secret_post is 401 invalid_client, and the code still works', async () => {
      const authorized = await codeFor(postClient);
      await expectOAuthError(
        await exchangeCode(portal.url, { ...postClient, client_secret: 'wrong-secret' }, authorized),
        401,
        'invalid_client',
      );
      await expectTokens(await exchangeCode(portal.url, postClient, authorized));
    });

    test('a confidential client that sends no secret, or uses a method it did not register, is 401 invalid_client', async () => {
      const authorized = await codeFor(confidential);
      await expectOAuthError(
        await exchangeCode(portal.url, { ...confidential, token_endpoint_auth_method: 'none' }, authorized),
        401,
        'invalid_client',
      );
      await expectOAuthError(
        await exchangeCode(portal.url, { ...confidential, token_endpoint_auth_method: 'client_secret_post' }, authorized),
        401,
        'invalid_client',
      );
      await expectTokens(await exchangeCode(portal.url, confidential, authorized));
    });

    test('a public client sending a secret is 401 invalid_client, and the code still works', async () => {
      const authorized = await codeFor();
      await expectOAuthError(await exchangeCode(portal.url, client, authorized, { client_secret: 'made-up' }), 401, 'invalid_client');
      const basic = await exchangeCode(
        portal.url,
        { ...client, token_endpoint_auth_method: 'client_secret_basic', client_secret: 'made-up' },
        authorized,
      );
      expect(basic.headers.get('www-authenticate')).toMatch(/^Basic /);
      await expectOAuthError(basic, 401, 'invalid_client');
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('an Authorization header that is not Basic client credentials is invalid_request, even beside a public client_id, and the code still works', async () => {
      const authorized = await codeFor();
      for (const authorization of ['Basic !!!', 'Bearer some-token', 'Basic', 'Digest username="x"']) {
        await expectOAuthError(
          await formPost(
            portal.url,
            {
              grant_type: 'authorization_code',
              code: authorized.code,
              code_verifier: authorized.verifier,
              redirect_uri: REDIRECT_URI,
              client_id: client.client_id,
            },
            { authorization },
          ),
          400,
          'invalid_request',
        );
      }
      await expectTokens(await exchangeCode(portal.url, client, authorized));
    });

    test('two authentication methods at once are invalid_request', async () => {
      const authorized = await codeFor(confidential);
      const res = await formPost(
        portal.url,
        {
          grant_type: 'authorization_code',
          code: authorized.code,
          code_verifier: authorized.verifier,
          redirect_uri: REDIRECT_URI,
          client_secret: confidential.client_secret!,
        },
        { authorization: basicAuth(confidential.client_id, confidential.client_secret!) },
      );
      await expectOAuthError(res, 400, 'invalid_request');
      await expectTokens(await exchangeCode(portal.url, confidential, authorized));
    });
  });

  describe('grant types the client did not register are unauthorized_client', () => {
    test('refresh_token for a client registered for authorization_code only', async () => {
      const codeOnly = await registerClient(portal.url, { grant_types: ['authorization_code'] });
      const tokens = await tokensFor(portal.url, codeOnly);
      expect(tokens.refresh_token).toBeUndefined();
      await expectOAuthError(await refresh(portal.url, codeOnly, 'anything.anything'), 400, 'unauthorized_client');
      // Even with a real refresh token of another client's grant.
      const other = await tokensFor(portal.url, client);
      await expectOAuthError(await refresh(portal.url, codeOnly, other.refresh_token!), 400, 'unauthorized_client');
      await expectTokens(await refresh(portal.url, client, other.refresh_token!));
    });

    test('client_credentials for a registered (non-service) client', async () => {
      const confidential = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
      const res = await formPost(
        portal.url,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(confidential.client_id, confidential.client_secret!) },
      );
      await expectOAuthError(res, 400, 'unauthorized_client');
      await expectOAuthError(
        await formPost(portal.url, { grant_type: 'client_credentials', client_id: client.client_id }),
        400,
        'unauthorized_client',
      );
    });
  });

  describe('refresh_token', () => {
    test('a benign concurrent refresh within the grace window succeeds for both', async () => {
      const tokens = await tokensFor(portal.url, client);
      const [a, b] = await Promise.all([
        refresh(portal.url, client, tokens.refresh_token!),
        refresh(portal.url, client, tokens.refresh_token!),
      ]);
      const [first, second] = [await expectTokens(a!), await expectTokens(b!)];
      expect(first.refresh_token).not.toBe(second.refresh_token);
      expect(await mcpStatus(portal, first.access_token)).toBe(200);
      expect(await mcpStatus(portal, second.access_token)).toBe(200);
      // And a sequential re-presentation inside the window, too: nothing was revoked.
      await expectTokens(await refresh(portal.url, client, tokens.refresh_token!));
      await expectTokens(await refresh(portal.url, client, first.refresh_token!));
    });

    test('refresh of a revoked grant is invalid_grant', async () => {
      const tokens = await tokensFor(portal.url, client);
      const revoked = await formPost(portal.url, { token: tokens.access_token, client_id: client.client_id }, {}, '/revoke');
      expect(revoked.status).toBe(200);
      await expectOAuthError(await refresh(portal.url, client, tokens.refresh_token!), 400, 'invalid_grant');
      expect(await mcpStatus(portal, tokens.access_token)).toBe(401);
    });

    test('a refresh token presented by another client is invalid_grant, and still works for its own client', async () => {
      const tokens = await tokensFor(portal.url, client);
      const other = await registerClient(portal.url);
      await expectOAuthError(await refresh(portal.url, other, tokens.refresh_token!), 400, 'invalid_grant');
      expect(await mcpStatus(portal, tokens.access_token)).toBe(200);
      await expectTokens(await refresh(portal.url, client, tokens.refresh_token!));
    });

    test('a refresh that widens the scope is invalid_scope, and the refresh token still works', async () => {
      const tokens = await tokensFor(portal.url, client);
      await expectOAuthError(
        await refresh(portal.url, client, tokens.refresh_token!, { scope: 'mcp offline_access' }),
        400,
        'invalid_scope',
      );
      await expectOAuthError(
        await refresh(portal.url, client, tokens.refresh_token!, { resource: 'https://evil.example/mcp' }),
        400,
        'invalid_target',
      );
      await expectTokens(await refresh(portal.url, client, tokens.refresh_token!));
    });

    test('an unknown, malformed or missing refresh token is invalid_grant / invalid_request', async () => {
      await expectOAuthError(await refresh(portal.url, client, 'abc.def'), 400, 'invalid_grant');
      await expectOAuthError(await refresh(portal.url, client, 'not a token'), 400, 'invalid_grant');
      await expectOAuthError(
        await formPost(portal.url, { grant_type: 'refresh_token', client_id: client.client_id }),
        400,
        'invalid_request',
      );
    });
  });
});

describe('/revoke and /introspect reject bad request shapes and change nothing', () => {
  let portal: TestPortal;
  let confidential: RegisteredClient;
  let tokens: TokenBody;

  beforeAll(async () => {
    portal = await startOAuthPortal();
    confidential = await registerClient(portal.url, { token_endpoint_auth_method: 'client_secret_basic' });
    tokens = await tokensFor(portal.url, confidential);
  });
  afterAll(() => portal.close());

  const basic = () => ({ authorization: basicAuth(confidential.client_id, confidential.client_secret!) });
  const introspect = async () =>
    (await json<{ active: boolean }>(await formPost(portal.url, { token: tokens.access_token }, basic(), '/introspect'))).active;

  test.each(['/introspect', '/revoke'])(
    '%s: a repeated parameter is invalid_request (RFC 6749 §3.1), and the token stays active',
    async (path) => {
      const repeated: Array<Record<string, string | string[]>> = [
        { token: tokens.access_token, token_type_hint: ['access_token', 'refresh_token'] },
        { token: [tokens.access_token, tokens.access_token] },
      ];
      for (const fields of repeated) {
        await expectOAuthError(await formPost(portal.url, fields, basic(), path), 400, 'invalid_request');
      }
      expect(await introspect()).toBe(true);
    },
  );

  test.each(['/introspect', '/revoke'])(
    '%s: an Authorization header that is not Basic credentials is invalid_request, and the token stays active',
    async (path) => {
      await expectOAuthError(
        await formPost(
          portal.url,
          { token: tokens.access_token, client_id: confidential.client_id },
          { authorization: 'Bearer whatever' },
          path,
        ),
        400,
        'invalid_request',
      );
      expect(await introspect()).toBe(true);
    },
  );
});

describe('/token with short code TTL and reuse grace (10 s)', () => {
  let portal: TestPortal;
  let client: RegisteredClient;
  const clock = testClock();

  beforeAll(async () => {
    portal = await startOAuthPortal({ tokens: { code_ttl: '10s', refresh_reuse_grace: '10s' } }, undefined, clock);
    client = await registerClient(portal.url);
  });
  afterAll(() => portal.close());

  test('an expired code is invalid_grant', async () => {
    const authorized = await authorizeCode(portal.url, client.client_id);
    clock.advance(11_000);
    await expectOAuthError(await exchangeCode(portal.url, client, authorized), 400, 'invalid_grant');
  });

  test('refresh token reuse after the grace window is invalid_grant and revokes the whole grant', async () => {
    const tokens = await tokensFor(portal.url, client);
    const second = await expectTokens(await refresh(portal.url, client, tokens.refresh_token!));
    const third = await expectTokens(await refresh(portal.url, client, second.refresh_token!));
    expect(await mcpStatus(portal, third.access_token)).toBe(200);
    clock.advance(11_000);

    await expectOAuthError(await refresh(portal.url, client, tokens.refresh_token!), 400, 'invalid_grant');
    expect(await mcpStatus(portal, third.access_token)).toBe(401);
    expect(await mcpStatus(portal, second.access_token)).toBe(401);
    await expectOAuthError(await refresh(portal.url, client, third.refresh_token!), 400, 'invalid_grant');
  });
});
