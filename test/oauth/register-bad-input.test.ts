import {
  RecordingStore,
  REDIRECT_URI,
  json,
  registerClient,
  registerRequest,
  startOAuthPortal,
  type OAuthErrorBody,
  type RegisteredClient,
} from '../helpers/oauth-flow.js';
import type { TestPortal } from '../helpers/portal.js';

/**
 * `POST /register` (RFC 7591) with bad metadata: `invalid_redirect_uri` or
 * `invalid_client_metadata` (§3.2.2), 400 for malformed JSON, 413 past the body limit,
 * and in every case no client stored.
 */
describe('/register rejects bad input and stores no client', () => {
  let portal: TestPortal;
  let store: RecordingStore;

  beforeAll(async () => {
    store = new RecordingStore();
    portal = await startOAuthPortal({ http: { body_limit: '16kb' } }, store);
  });
  afterAll(async () => {
    await portal.close();
    await store.close();
  });

  /** Posts `body` and expects `status` with `error`, no `client_id`, and no client written. */
  async function expectRejected(body: unknown, status: number, error: string, headers: Record<string, string> = {}): Promise<void> {
    const before = store.writes('client');
    const res = await registerRequest(portal.url, body, headers);
    const answer = await json<OAuthErrorBody & { client_id?: string }>(res);
    expect({ status: res.status, error: answer.error }).toEqual({ status, error });
    expect(answer.client_id).toBeUndefined();
    expect(store.writes('client')).toBe(before);
  }

  const valid = { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', client_name: 'Agent' };

  test('a valid registration stores one client (the control case)', async () => {
    const before = store.writes('client');
    const client = await registerClient(portal.url);
    expect(client.client_id).toBeTruthy();
    expect(store.writes('client')).toBe(before + 1);
  });

  describe('redirect URIs are invalid_redirect_uri', () => {
    test.each([
      ['javascript:', 'javascript:alert(document.cookie)'],
      ['javascript: with //', 'javascript://127.0.0.1/%0aalert(1)'],
      ['data:', 'data:text/html,<script>alert(1)</script>'],
      ['vbscript:', 'vbscript:msgbox(1)'],
      ['file:', 'file:///etc/passwd'],
      ['a fragment', 'https://app.example/callback#frag'],
      ['an empty fragment', 'https://app.example/callback#'],
      ['a wildcard host', 'https://*.example.com/callback'],
      ['a wildcard path', 'https://app.example/*'],
      ['non-loopback http', 'http://app.example/callback'],
      ['http on a name that only starts like loopback', 'http://127.0.0.1.evil.example/callback'],
      ['http on a name that only starts like localhost', 'http://localhost.evil.example/callback'],
      ['http on 0.0.0.0', 'http://0.0.0.0:8080/callback'],
      ['credentials', 'https://user:pass@app.example/callback'],
      ['a relative URI', '/callback'],
      ['not a URI', 'not a uri'],
      ['an empty string', ''],
    ])('%s', async (_name, uri) => {
      await expectRejected({ ...valid, redirect_uris: [uri] }, 400, 'invalid_redirect_uri');
      // One bad URI among good ones spoils the registration.
      await expectRejected({ ...valid, redirect_uris: [REDIRECT_URI, uri] }, 400, 'invalid_redirect_uri');
    });

    test('missing, empty, not a list, or too many', async () => {
      await expectRejected({ token_endpoint_auth_method: 'none' }, 400, 'invalid_redirect_uri');
      await expectRejected({ ...valid, redirect_uris: [] }, 400, 'invalid_redirect_uri');
      await expectRejected({ ...valid, redirect_uris: REDIRECT_URI }, 400, 'invalid_redirect_uri');
      await expectRejected({ ...valid, redirect_uris: [42] }, 400, 'invalid_redirect_uri');
      await expectRejected(
        { ...valid, redirect_uris: Array.from({ length: 21 }, (_, i) => `http://127.0.0.1:${1000 + i}/cb`) },
        400,
        'invalid_redirect_uri',
      );
    });

    test('what may be registered: https, loopback http on any host form, a private-use scheme', async () => {
      const client = await registerClient(portal.url, {
        redirect_uris: [
          'https://app.example/callback',
          'http://127.0.0.1/cb',
          'http://localhost:3000/cb',
          'http://[::1]:8080/cb',
          'com.example.app:/oauth2redirect',
        ],
      });
      expect(client.redirect_uris).toHaveLength(5);
    });
  });

  describe('other metadata is invalid_client_metadata', () => {
    test.each([
      ['an unknown auth method', { token_endpoint_auth_method: 'private_key_jwt' }],
      ['a grant type registration may not ask for', { grant_types: ['client_credentials'] }],
      ['the implicit grant', { grant_types: ['implicit'] }],
      ['an empty grant type list', { grant_types: [] }],
      ['response type token', { response_types: ['token'] }],
      ['an unsupported scope', { scope: 'mcp superuser' }],
      ['a javascript: client_uri', { client_uri: 'javascript:alert(1)' }],
      ['a data: logo_uri', { logo_uri: 'data:image/png;base64,AAAA' }],
      ['a client_name over 500 characters', { client_name: 'x'.repeat(501) }],
      ['a client_name that is not a string', { client_name: { html: '<b>' } }],
      ['too many contacts', { contacts: Array.from({ length: 11 }, (_, i) => `a${i}@example.com`) }],
    ])('%s', async (_name, metadata) => {
      await expectRejected({ ...valid, ...metadata }, 400, 'invalid_client_metadata');
    });

    test('a body that is not an object', async () => {
      await expectRejected([], 400, 'invalid_client_metadata');
    });
  });

  describe('malformed and oversized bodies', () => {
    test('malformed JSON is 400 invalid_request', async () => {
      await expectRejected('{"redirect_uris": [', 400, 'invalid_request');
      await expectRejected('not json at all', 400, 'invalid_request');
      // A JSON scalar is not a metadata object (strict JSON parsing).
      await expectRejected('"https://app.example/cb"', 400, 'invalid_request');
    });

    test('a body over the limit is 413', async () => {
      const big = { ...valid, software_statement: 'x'.repeat(32 * 1024) };
      await expectRejected(big, 413, 'invalid_request');
    });

    test('a body that does not decompress is 400 invalid_request', async () => {
      await expectRejected('{"redirect_uris": []}', 400, 'invalid_request', { 'content-encoding': 'gzip' });
    });

    test('a body that is not JSON is refused', async () => {
      const before = store.writes('client');
      const res = await fetch(`${portal.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ redirect_uris: REDIRECT_URI }).toString(),
      });
      expect(res.status).toBe(400);
      expect((await json<OAuthErrorBody>(res)).error).toMatch(/^invalid_(redirect_uri|client_metadata|request)$/);
      expect(store.writes('client')).toBe(before);
    });
  });

  test('unknown metadata is dropped, not stored or echoed', async () => {
    const res = await registerRequest(portal.url, {
      ...valid,
      is_admin: true,
      registration_access_token: 'chosen',
      client_id: 'chosen-id',
      client_secret: 'chosen-secret',
    });
    expect(res.status).toBe(201);
    const client = await json<RegisteredClient & Record<string, unknown>>(res);
    expect(client.client_id).not.toBe('chosen-id');
    expect(client.registration_access_token).not.toBe('chosen');
    expect(client.client_secret).toBeUndefined();
    expect(client.is_admin).toBeUndefined();
  });

  describe('RFC 7592 management with a wrong token changes nothing', () => {
    test('DELETE with another client’s registration access token is 401 invalid_token, and the client survives', async () => {
      const victim = await registerClient(portal.url);
      const attacker = await registerClient(portal.url);
      const uri = `${portal.url}/register/${victim.client_id}`;
      const res = await fetch(uri, { method: 'DELETE', headers: { authorization: `Bearer ${attacker.registration_access_token}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_token');
      const read = await fetch(uri, { headers: { authorization: `Bearer ${victim.registration_access_token}` } });
      expect(read.status).toBe(200);
      expect((await json<RegisteredClient>(read)).client_id).toBe(victim.client_id);
    });
  });
});
