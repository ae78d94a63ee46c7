import { FormBrowser } from '../helpers/browser-form-client.js';
import {
  REDIRECT_URI,
  RecordingStore,
  authorizeCode,
  authorizeUrl,
  exchangeCode,
  json,
  pkce,
  registerClient,
  startOAuthPortal,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { startMetadataDocumentHost, type MetadataDocumentHost } from '../helpers/metadata-document-host.js';
import { BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * `GET /authorize` with bad input (OAuth 2.1 §4.1.2.1, RFC 9207): before the client and its
 * redirect URI are trusted, an HTML page and never a redirect; after, a redirect back with
 * `error`, `state` and `iss`. Either way no authorization request is stored. A registered
 * redirect URI alone earns no trust (anyone can register one: RFC 9700 §4.11.2, open
 * redirectors); the person must be signed in and have approved the client before.
 */
describe('/authorize rejects bad input', () => {
  let portal: TestPortal;
  let store: RecordingStore;
  let client: RegisteredClient;
  /** ALICE's browser: signed in, and she approved `client` before. */
  let trusted: FormBrowser;

  beforeAll(async () => {
    store = new RecordingStore();
    portal = await startOAuthPortal({}, store);
    client = await registerClient(portal.url);
    trusted = (await authorizeCode(portal.url, client.client_id)).browser;
  });
  afterAll(async () => {
    await portal.close();
    await store.close();
  });

  /** GET as a person's browser would, without following redirects. */
  function visit(url: URL | string): Promise<Response> {
    return fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
  }

  /** Expects a redirect (of ALICE, who approved the client before) to REDIRECT_URI carrying `error`, the request's `state` and the portal's `iss`; no request stored. */
  async function expectErrorRedirect(url: URL, error: string, state: string | null = 'xyz-state'): Promise<void> {
    const before = store.writes('authreq');
    const res = await trusted.get(url.href);
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('state')).toBe(state);
    expect(location.searchParams.get('iss')).toBe(portal.url);
    expect(location.searchParams.has('code')).toBe(false);
    expect(store.writes('authreq')).toBe(before);
  }

  /** Expects the person's HTML error page with `status`, no `Location`, and no request stored. */
  async function expectErrorPage(url: URL | string, status = 400, browser?: FormBrowser): Promise<void> {
    const before = store.writes('authreq');
    const res = browser ? await browser.get(String(url)) : await visit(url);
    expect(res.status).toBe(status);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    await res.text();
    expect(store.writes('authreq')).toBe(before);
  }

  test('a well-formed request goes on to consent (the control case)', async () => {
    const res = await visit(authorizeUrl(portal.url, client.client_id, pkce().challenge));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/consent\?request=/);
  });

  describe('PKCE (S256 only, RFC 7636; OAuth 2.1 §4.1.1)', () => {
    test('code_challenge_method=plain is refused with invalid_request', async () => {
      const { verifier } = pkce();
      await expectErrorRedirect(
        authorizeUrl(portal.url, client.client_id, verifier, { code_challenge_method: 'plain' }),
        'invalid_request',
      );
    });

    test('a missing code_challenge_method is refused (it would default to plain)', async () => {
      await expectErrorRedirect(
        authorizeUrl(portal.url, client.client_id, pkce().challenge, { code_challenge_method: undefined }),
        'invalid_request',
      );
    });

    test('a missing code_challenge is refused with invalid_request', async () => {
      await expectErrorRedirect(authorizeUrl(portal.url, client.client_id, '', { code_challenge: undefined }), 'invalid_request');
    });

    test('a challenge that is not a base64url SHA-256 hash is refused', async () => {
      await expectErrorRedirect(authorizeUrl(portal.url, client.client_id, 'short'), 'invalid_request');
    });

    test('without state, the error redirect carries no state but still iss', async () => {
      await expectErrorRedirect(
        authorizeUrl(portal.url, client.client_id, '', { code_challenge: undefined, state: undefined }),
        'invalid_request',
        null,
      );
    });
  });

  test('response_type other than code is unsupported_response_type', async () => {
    await expectErrorRedirect(
      authorizeUrl(portal.url, client.client_id, pkce().challenge, { response_type: 'token' }),
      'unsupported_response_type',
    );
  });

  test('an unregistered scope is invalid_scope', async () => {
    await expectErrorRedirect(authorizeUrl(portal.url, client.client_id, pkce().challenge, { scope: 'mcp admin' }), 'invalid_scope');
  });

  test('a resource the portal does not serve is invalid_target (RFC 8707 §2)', async () => {
    await expectErrorRedirect(
      authorizeUrl(portal.url, client.client_id, pkce().challenge, { resource: 'https://evil.example/mcp' }),
      'invalid_target',
    );
    await expectErrorRedirect(
      authorizeUrl(portal.url, client.client_id, pkce().challenge, { resource: `${portal.url}/mcp/nope` }),
      'invalid_target',
    );
  });

  describe('no open redirect: errors go back only to a client the person approved before', () => {
    const invalid = () => [
      authorizeUrl(portal.url, client.client_id, pkce().challenge, { response_type: 'token' }),
      authorizeUrl(portal.url, client.client_id, '', { code_challenge: undefined }),
      authorizeUrl(portal.url, client.client_id, pkce().challenge, { scope: 'bogus' }),
      authorizeUrl(portal.url, client.client_id, pkce().challenge, { resource: 'https://evil.example/mcp' }),
    ];

    test('a stranger (not signed in) gets a page, never a redirect to the registered URI', async () => {
      for (const url of invalid()) await expectErrorPage(url);
    });

    test('a non-browser gets the OAuth error as JSON, not a redirect', async () => {
      const res = await fetch(authorizeUrl(portal.url, client.client_id, pkce().challenge, { response_type: 'token' }), {
        redirect: 'manual',
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect((await json<{ error: string }>(res)).error).toBe('unsupported_response_type');
    });

    test('a signed-in person who never approved the client gets a page', async () => {
      const stranger = await registerClient(portal.url, { client_name: 'Never approved' });
      const bob = new FormBrowser(portal.url);
      await bob.signIn(await bob.get(`${portal.url}/login`), BOB);
      await expectErrorPage(authorizeUrl(portal.url, stranger.client_id, pkce().challenge, { response_type: 'token' }), 400, bob);
      // ALICE approved `client`, not this one.
      await expectErrorPage(authorizeUrl(portal.url, stranger.client_id, pkce().challenge, { response_type: 'token' }), 400, trusted);
    });

    test('once the person approved the client, each error goes back to it', async () => {
      for (const url of invalid()) {
        const res = await trusted.get(url.href);
        expect(res.status).toBe(303);
        expect(new URL(res.headers.get('location')!).searchParams.get('error')).toEqual(expect.any(String));
      }
    });
  });

  describe('prompt (OpenID Connect Core §3.1.2.1)', () => {
    test('an unknown value, or none with another, is invalid_request', async () => {
      await expectErrorRedirect(authorizeUrl(portal.url, client.client_id, pkce().challenge, { prompt: 'maybe' }), 'invalid_request');
      await expectErrorRedirect(
        authorizeUrl(portal.url, client.client_id, pkce().challenge, { prompt: 'none consent' }),
        'invalid_request',
      );
    });

    test('prompt=none: a stranger gets login_required as a page; a signed-in person with the consent remembered gets a code', async () => {
      await expectErrorPage(authorizeUrl(portal.url, client.client_id, pkce().challenge, { prompt: 'none' }), 401);
      const answered = await trusted.follow(authorizeUrl(portal.url, client.client_id, pkce().challenge, { prompt: 'none' }).href);
      expect(new URL(answered.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    });

    test('prompt=none where the person would be asked: consent_required, back to a client approved before, else a page', async () => {
      // Another resource than the remembered consent covers, for the same client: it would ask.
      const asking = authorizeUrl(portal.url, client.client_id, pkce().challenge, { prompt: 'none', scope: 'mcp offline_access' });
      const answered = await trusted.follow(asking.href);
      expect(answered.status).toBe(303);
      expect(new URL(answered.headers.get('location')!).searchParams.get('error')).toBe('consent_required');
      const stranger = await registerClient(portal.url, { client_name: 'Never approved' });
      const page = await trusted.follow(authorizeUrl(portal.url, stranger.client_id, pkce().challenge, { prompt: 'none' }).href);
      expect(page.status).toBe(403);
      expect(page.headers.get('location')).toBeNull();
    });
  });

  describe('redirect URI', () => {
    test('a redirect URI the client did not register gets a page, never a redirect to it', async () => {
      for (const redirectUri of [
        'https://evil.example/callback',
        'http://127.0.0.1:9999/other',
        'http://localhost:9999/callback',
        `${REDIRECT_URI}?x=1`,
        `${REDIRECT_URI}#frag`,
      ]) {
        await expectErrorPage(authorizeUrl(portal.url, client.client_id, pkce().challenge, { redirect_uri: redirectUri }));
      }
    });

    test('even with other errors present, an unregistered redirect URI is never redirected to', async () => {
      await expectErrorPage(
        authorizeUrl(portal.url, client.client_id, '', {
          redirect_uri: 'https://evil.example/cb',
          code_challenge: undefined,
          scope: 'bogus',
        }),
      );
    });

    test('a missing redirect_uri gets a page', async () => {
      await expectErrorPage(authorizeUrl(portal.url, client.client_id, pkce().challenge, { redirect_uri: undefined }));
    });

    test('a loopback http redirect URI may use any port (RFC 8252 §7.3), and the code is bound to it', async () => {
      const portless = await registerClient(portal.url, {
        redirect_uris: ['http://127.0.0.1/callback', 'http://localhost:8080/cb', 'http://[::1]:1/cb'],
      });
      for (const redirectUri of ['http://127.0.0.1:54321/callback', 'http://localhost:1/cb', 'http://[::1]:65000/cb']) {
        const res = await visit(authorizeUrl(portal.url, portless.client_id, pkce().challenge, { redirect_uri: redirectUri }));
        expect(res.status).toBe(303);
        expect(res.headers.get('location')).toMatch(/^\/consent\?request=/);
      }
      const authorized = await authorizeCode(portal.url, portless.client_id, {
        params: { redirect_uri: 'http://127.0.0.1:54321/callback' },
      });
      expect(authorized.callback.origin).toBe('http://127.0.0.1:54321');
      // At /token, the port the authorization used is the one that must be named.
      const mismatch = await exchangeCode(portal.url, portless, authorized, { redirect_uri: 'http://127.0.0.1/callback' });
      expect(mismatch.status).toBe(400);
      expect((await json<{ error: string }>(mismatch)).error).toBe('invalid_grant');
      const ok = await exchangeCode(portal.url, portless, authorized);
      expect(ok.status).toBe(200);
      expect((await json<TokenBody>(ok)).access_token).toBeTruthy();
    });

    test('a loopback redirect URI still must match host and path', async () => {
      const portless = await registerClient(portal.url, { redirect_uris: ['http://127.0.0.1/callback'] });
      for (const redirectUri of [
        'http://127.0.0.1:5000/other',
        'http://localhost:5000/callback',
        'http://127.0.0.1:5000/callback?extra=1',
        'http://user@127.0.0.1:5000/callback',
      ]) {
        await expectErrorPage(authorizeUrl(portal.url, portless.client_id, pkce().challenge, { redirect_uri: redirectUri }));
      }
    });

    test('any port is for loopback http only: an https redirect URI must match exactly', async () => {
      const https = await registerClient(portal.url, { redirect_uris: ['https://app.example/cb'] });
      await expectErrorPage(authorizeUrl(portal.url, https.client_id, pkce().challenge, { redirect_uri: 'https://app.example:8443/cb' }));
    });
  });

  describe('client', () => {
    test('an unknown client_id gets a page (JSON for a non-browser), no redirect', async () => {
      await expectErrorPage(authorizeUrl(portal.url, 'no-such-client', pkce().challenge));
      const res = await fetch(authorizeUrl(portal.url, 'no-such-client', pkce().challenge), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect((await json<{ error: string }>(res)).error).toBe('invalid_client');
    });

    test('a missing client_id gets a page', async () => {
      await expectErrorPage(authorizeUrl(portal.url, '', pkce().challenge, { client_id: undefined }));
    });
  });

  describe('repeated parameters (RFC 6749 §3.1) are refused with a page, never acted on', () => {
    const repeat = (url: URL, name: string, value: string): URL => {
      url.searchParams.append(name, value);
      return url;
    };

    test.each([
      ['redirect_uri', 'https://evil.example/callback'],
      ['redirect_uri', REDIRECT_URI],
      ['client_id', 'other'],
      ['state', 'other-state'],
      ['scope', 'offline_access'],
      ['code_challenge', pkce().challenge],
    ])('%s twice', async (name, value) => {
      await expectErrorPage(repeat(authorizeUrl(portal.url, client.client_id, pkce().challenge), name, value));
      const res = await fetch(repeat(authorizeUrl(portal.url, client.client_id, pkce().challenge), name, value), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect((await json<{ error: string }>(res)).error).toBe('invalid_request');
    });
  });

  test('a repeated parameter’s name is not reflected unescaped into the page', async () => {
    const url = authorizeUrl(portal.url, client.client_id, pkce().challenge);
    url.searchParams.append('<script>x</script>', '1');
    url.searchParams.append('<script>x</script>', '2');
    const res = await visit(url);
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain('<script>x');
  });

  test('a signed-in person sees no consent for a rejected request', async () => {
    // A browser that is signed in (and has consented before) still gets the page, not a code.
    const browser = new FormBrowser(portal.url);
    await authorizeCode(portal.url, client.client_id, { browser });
    const res = await browser.get(
      authorizeUrl(portal.url, client.client_id, pkce().challenge, { redirect_uri: 'https://evil.example/cb' }).href,
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});

/**
 * Client ID metadata documents: anyone can publish one naming any redirect URI, so such a client
 * earns no more trust than a registered one (an error page until the person approved it), and a
 * document's redirect URIs follow the registration rules (private-use schemes in reverse-DNS form).
 */
describe('/authorize with a metadata-document client is no open redirect', () => {
  let host: MetadataDocumentHost;
  let portal: TestPortal;

  beforeAll(async () => {
    host = await startMetadataDocumentHost();
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, clients: { metadata_documents: { allow_private_addresses: true } } },
      metadataDocumentCa: host.cert,
    });
  });
  afterAll(async () => {
    await portal?.close();
    await host?.close();
  });

  test('an error for an attacker-hosted document is a page, never a redirect to its URI', async () => {
    const landing = 'https://evil.example/landing';
    const clientId = host.publish('/phish.json', { client_name: 'Phish', redirect_uris: [landing], token_endpoint_auth_method: 'none' });
    const res = await fetch(authorizeUrl(portal.url, clientId, pkce().challenge, { redirect_uri: landing, response_type: 'token' }), {
      redirect: 'manual',
      headers: { accept: 'text/html' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('unsupported response type');
  });

  test('a document whose private-use scheme is not reverse-DNS is no client', async () => {
    const clientId = host.publish('/one-word.json', { redirect_uris: ['myapp:/callback'], token_endpoint_auth_method: 'none' });
    const res = await fetch(authorizeUrl(portal.url, clientId, pkce().challenge, { redirect_uri: 'myapp:/callback' }), {
      redirect: 'manual',
      headers: { accept: 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect((await json<{ error: string }>(res)).error).toBe('invalid_client');
  });
});
