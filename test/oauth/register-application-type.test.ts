import { FormBrowser } from '../helpers/browser-form-client.js';
import {
  RecordingStore,
  authorizeUrl,
  json,
  pkce,
  registerClient,
  registerRequest,
  startOAuthPortal,
  type OAuthErrorBody,
  type RegisteredClient,
} from '../helpers/oauth-flow.js';
import type { TestPortal } from '../helpers/portal.js';
import { impliedApplicationType, redirectUriProblem } from '../../portal/oauth/redirect-uris.js';

type Registered = RegisteredClient & { application_type?: string };

/**
 * `application_type` in dynamic registration (OpenID Connect Dynamic Client Registration 1.0 §2;
 * MCP 2026-07-28 "Application Type and Redirect URI Constraints"): a `native` client may register
 * loopback `http` (RFC 8252 §7.3) and private-use schemes (§7.1) besides `https`; a `web` client
 * `https` only; a client that states none is taken to be what its redirect URIs imply. The type is
 * echoed (RFC 7591 §3.2.1, RFC 7592 §2.1); any other value is `invalid_client_metadata`, and a URI
 * the type may not use `invalid_redirect_uri`, with no client stored.
 */
describe('/register honours application_type', () => {
  let portal: TestPortal;
  let store: RecordingStore;

  beforeAll(async () => {
    store = new RecordingStore();
    portal = await startOAuthPortal({}, store);
  });
  afterAll(async () => {
    await portal.close();
    await store.close();
  });

  const base = { token_endpoint_auth_method: 'none', client_name: 'Typed Agent' };

  async function register(metadata: Record<string, unknown>): Promise<Registered> {
    return (await registerClient(portal.url, { ...base, ...metadata })) as Registered;
  }

  /** Posts the metadata and expects 400 `error`, no client in the answer, and no client written. */
  async function expectRejected(
    metadata: Record<string, unknown>,
    error: 'invalid_redirect_uri' | 'invalid_client_metadata',
  ): Promise<OAuthErrorBody> {
    const before = store.writes('client');
    const res = await registerRequest(portal.url, { ...base, ...metadata });
    const body = await json<OAuthErrorBody & { client_id?: string }>(res);
    expect({ status: res.status, error: body.error }).toEqual({ status: 400, error });
    expect(body.client_id).toBeUndefined();
    expect(store.writes('client')).toBe(before);
    return body;
  }

  describe('native clients', () => {
    test('register loopback http on every host form and any port, private-use schemes and https; the type is echoed', async () => {
      const redirectUris = [
        'http://127.0.0.1/cb',
        'http://127.0.0.1:53682/cb',
        'http://[::1]:8080/cb',
        'http://localhost:3000/callback',
        'com.example.agent:/oauth2redirect',
        'https://agent.example/callback',
      ];
      const client = await register({ application_type: 'native', redirect_uris: redirectUris });
      expect(client.application_type).toBe('native');
      expect(client.redirect_uris).toEqual(redirectUris);
    });

    test.each([
      ['a one-word scheme', 'myapp:/oauth2redirect'],
      ['a one-word scheme with an authority', 'cursor://anysphere.cursor-mcp/oauth/callback'],
    ])(
      'a private-use scheme not in reverse-DNS form (%s) is invalid_redirect_uri (RFC 8252 §7.1), and nothing is stored',
      async (_name, uri) => {
        const body = await expectRejected({ application_type: 'native', redirect_uris: [uri] }, 'invalid_redirect_uri');
        expect(body.error_description).toContain('reverse-DNS');
        await expectRejected({ redirect_uris: ['http://127.0.0.1:9999/callback', uri] }, 'invalid_redirect_uri');
      },
    );

    test('an operator may allow the one-word scheme of an app they trust (clients.private_use_schemes), and only that one', async () => {
      const trusting = await startOAuthPortal({ clients: { private_use_schemes: ['cursor'] } });
      try {
        const cursor = 'cursor://anysphere.cursor-mcp/oauth/callback';
        const client = (await registerClient(trusting.url, { ...base, application_type: 'native', redirect_uris: [cursor] })) as Registered;
        expect(client.redirect_uris).toEqual([cursor]);
        const refused = await registerRequest(trusting.url, { ...base, application_type: 'native', redirect_uris: ['myapp:/cb'] });
        expect(refused.status).toBe(400);
        expect((await json<OAuthErrorBody>(refused)).error_description).toContain('clients.private_use_schemes');
      } finally {
        await trusting.close();
      }
    });

    test('RFC 7592 read gives the application type back', async () => {
      const client = await register({ application_type: 'native', redirect_uris: ['http://127.0.0.1:9999/callback'] });
      const res = await fetch(`${portal.url}/register/${client.client_id}`, {
        headers: { authorization: `Bearer ${client.registration_access_token}` },
      });
      expect(res.status).toBe(200);
      expect((await json<Registered>(res)).application_type).toBe('native');
    });

    test('a loopback redirect URI may come back on another port at /authorize (RFC 8252 §7.3), but not on another path', async () => {
      const client = await register({ application_type: 'native', redirect_uris: ['http://127.0.0.1:9999/callback'] });
      const { challenge } = pkce();
      const otherPort = await new FormBrowser(portal.url).follow(
        authorizeUrl(portal.url, client.client_id, challenge, { redirect_uri: 'http://127.0.0.1:51234/callback' }).href,
      );
      expect(otherPort.status).toBe(200);
      expect(await otherPort.text()).toContain('action="/login"');
      const otherPath = await new FormBrowser(portal.url).get(
        authorizeUrl(portal.url, client.client_id, challenge, { redirect_uri: 'http://127.0.0.1:9999/elsewhere' }).href,
      );
      expect(otherPath.status).toBe(400);
      expect(otherPath.headers.get('location')).toBeNull();
    });

    test('http on a host that is not loopback is invalid_redirect_uri', async () => {
      await expectRejected({ application_type: 'native', redirect_uris: ['http://agent.example/callback'] }, 'invalid_redirect_uri');
      await expectRejected(
        { application_type: 'native', redirect_uris: ['http://127.0.0.1:9999/callback', 'http://192.168.1.10/callback'] },
        'invalid_redirect_uri',
      );
    });
  });

  describe('web clients', () => {
    test('register https redirect URIs; the type is echoed', async () => {
      const client = await register({
        application_type: 'web',
        redirect_uris: ['https://agent.example/callback', 'https://agent.example:8443/oauth/cb'],
      });
      expect(client.application_type).toBe('web');
    });

    test.each([
      ['loopback http on 127.0.0.1', 'http://127.0.0.1:9999/callback'],
      ['loopback http on [::1]', 'http://[::1]:8080/callback'],
      ['loopback http on localhost', 'http://localhost:3000/callback'],
      ['a private-use scheme', 'com.example.agent:/oauth2redirect'],
      ['http on a public host', 'http://agent.example/callback'],
    ])('%s is invalid_redirect_uri, and nothing is stored', async (_name, uri) => {
      const body = await expectRejected({ application_type: 'web', redirect_uris: [uri] }, 'invalid_redirect_uri');
      expect(body.error_description).toContain('https');
      // One such URI among good ones spoils the registration.
      await expectRejected({ application_type: 'web', redirect_uris: ['https://agent.example/callback', uri] }, 'invalid_redirect_uri');
    });

    test('the same loopback URI registers once the client says it is native (what an MCP client retries with)', async () => {
      await expectRejected({ application_type: 'web', redirect_uris: ['http://localhost:3000/callback'] }, 'invalid_redirect_uri');
      expect((await register({ application_type: 'native', redirect_uris: ['http://localhost:3000/callback'] })).application_type).toBe(
        'native',
      );
    });
  });

  describe('clients that state no application_type', () => {
    test.each([
      ['loopback http', 'native', ['http://127.0.0.1:9999/callback']],
      ['a private-use scheme', 'native', ['com.example.agent:/oauth2redirect']],
      ['https and loopback', 'native', ['https://agent.example/callback', 'http://localhost:3000/callback']],
      ['https only', 'web', ['https://agent.example/callback']],
    ])('with %s are registered as %s, and told so', async (_name, type, redirectUris) => {
      const client = await register({ redirect_uris: redirectUris });
      expect(client.application_type).toBe(type);
      expect(client.redirect_uris).toEqual(redirectUris);
    });
  });

  test.each([
    ['an unknown word', 'desktop'],
    ['a different case', 'Native'],
    ['an empty string', ''],
    ['a number', 42],
    ['null', null],
    ['a list', ['native']],
  ])('application_type that is %s is invalid_client_metadata, and nothing is stored', async (_name, value) => {
    const body = await expectRejected(
      { application_type: value, redirect_uris: ['http://127.0.0.1:9999/callback'] },
      'invalid_client_metadata',
    );
    expect(body.error_description).toContain('application_type');
  });
});

describe('redirect URIs by application type (pure rules)', () => {
  test('the implied type: native for loopback http or a private-use scheme, web otherwise', () => {
    expect(impliedApplicationType(['https://a.example/cb'])).toBe('web');
    expect(impliedApplicationType(['https://localhost/cb'])).toBe('web');
    expect(impliedApplicationType(['http://a.example/cb'])).toBe('web');
    expect(impliedApplicationType(['https://a.example/cb', 'http://[::1]/cb'])).toBe('native');
    expect(impliedApplicationType(['myapp:/cb'])).toBe('native');
    expect(impliedApplicationType(['not a uri'])).toBe('web');
  });

  test('https is open to both types; the script and data schemes to neither', () => {
    for (const type of ['web', 'native'] as const) {
      expect(redirectUriProblem('https://a.example/cb', type)).toBeUndefined();
      expect(redirectUriProblem('javascript:alert(1)', type)).toBeDefined();
      expect(redirectUriProblem('data:text/html,x', type)).toBeDefined();
      expect(redirectUriProblem('https://a.example/cb#x', type)).toBeDefined();
    }
    expect(redirectUriProblem('http://127.0.0.1/cb', 'native')).toBeUndefined();
    expect(redirectUriProblem('http://127.0.0.1/cb', 'web')).toContain('native');
    expect(redirectUriProblem('com.example.app:/cb', 'web')).toContain('native');
    expect(redirectUriProblem('com.example.app:/cb', 'native')).toBeUndefined();
    expect(redirectUriProblem('myapp:/cb', 'native')).toContain('reverse-DNS');
  });
});
