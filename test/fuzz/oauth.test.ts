/**
 * Fuzzing the OAuth endpoints (/register, /authorize, /token, /revoke, /introspect) with fast-check.
 *
 * Every target starts from a request that works and applies one to three generated edits (a
 * parameter dropped, sent twice, added, or its value edited: characters replaced, inserted,
 * deleted, case-flipped, percent-encoded, or swapped for hostile text). Whatever the input:
 * never a 5xx, the portal keeps answering, and nothing is granted where the input was invalid:
 * no client with an unsafe redirect URI, no code, no token, no active introspection, no revocation.
 *
 * Replay a failure with the command its message prints:
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npm test -- test/fuzz/oauth.test.ts -t '<target>:'
 * FUZZ_SEED alone reruns every target with that seed; FUZZ_RUNS=20 runs twenty times as many inputs.
 */
import fc from 'fast-check';
import { FormBrowser } from '../helpers/browser-form-client.js';
import {
  anyRepeated,
  applyEdit,
  applyFieldEdits,
  changed,
  fieldEdits,
  formBody,
  fuzz,
  FUZZ_TIMEOUT_MS,
  FuzzTally,
  nastyText,
  oneIn,
  single,
  stringEdit,
  wellFormed,
  type FieldEdit,
  type StringEdit,
} from '../helpers/fuzz.js';
import {
  authorizeCode,
  basicAuth,
  json,
  RecordingStore,
  registerClient,
  startOAuthPortal,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import type { TestPortal } from '../helpers/portal.js';
import { isLoopbackHost } from '../../portal/net/addresses.js';

/** A web client's redirect URI: https, so no loopback port leniency (RFC 8252 §7.3) applies. */
const REDIRECT = 'https://agent.example.com/callback';
const tally = new FuzzTally('test/fuzz/oauth.test.ts');

/** How a request authenticates its client: as it should, or not. */
type Auth = 'keep' | 'drop' | 'wrong-secret' | 'other-client' | 'garbage' | 'secret-in-body';
const authVariant = fc.constantFrom<Auth>('keep', 'keep', 'keep', 'drop', 'wrong-secret', 'other-client', 'garbage', 'secret-in-body');

describe('fuzzing the OAuth endpoints', () => {
  let store: RecordingStore;
  let portal: TestPortal;
  let publicClient: RegisteredClient;
  let confidential: RegisteredClient;
  let browser: FormBrowser;

  beforeAll(async () => {
    store = new RecordingStore();
    portal = await startOAuthPortal({}, store);
    publicClient = await registerClient(portal.url, { redirect_uris: [REDIRECT] });
    confidential = await registerClient(portal.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' });
    browser = new FormBrowser(portal.url);
    // The first authorizations sign in and consent; later ones are answered at once with a code.
    for (const client of [publicClient, confidential]) await freshCode(client);
  });
  afterEach(async () => {
    // Never a crash: the portal still answers after every target.
    expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
  });
  afterAll(async () => {
    tally.print();
    await portal?.close();
    await store?.close();
  });

  function freshCode(client: RegisteredClient, scope = 'mcp') {
    return authorizeCode(portal.url, client.client_id, { browser, params: { redirect_uri: REDIRECT, scope } });
  }

  function post(path: string, entries: Array<[string, string]>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${portal.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: formBody(entries),
    });
  }

  /** The Authorization header and body fields of `auth` for `client` (the confidential client uses Basic). */
  function authenticate(client: RegisteredClient, auth: Auth): { headers: Record<string, string>; fields: Array<[string, string]> } {
    const own: Record<string, string> =
      client.token_endpoint_auth_method === 'client_secret_basic'
        ? { authorization: basicAuth(client.client_id, client.client_secret!) }
        : {};
    const named: Array<[string, string]> = client.token_endpoint_auth_method === 'none' ? [['client_id', client.client_id]] : [];
    switch (auth) {
      case 'keep':
        return { headers: own, fields: named };
      case 'drop':
        return { headers: {}, fields: [] };
      case 'wrong-secret':
        return { headers: { authorization: basicAuth(client.client_id, 'not-the-secret') }, fields: [] };
      case 'other-client':
        return client === confidential
          ? { headers: {}, fields: [['client_id', publicClient.client_id]] }
          : { headers: { authorization: basicAuth(confidential.client_id, confidential.client_secret!) }, fields: [] };
      case 'garbage':
        return { headers: { authorization: 'Basic !!!' }, fields: named };
      case 'secret-in-body':
        return { headers: own, fields: [...named, ['client_secret', confidential.client_secret!]] };
    }
  }

  /** Whether the request authenticated `client` as it registered, and nothing else. */
  function authenticatedAs(client: RegisteredClient, auth: Auth, entries: ReadonlyArray<[string, string]>): boolean {
    const keeps =
      auth === 'keep' ||
      (auth === 'drop' && client.token_endpoint_auth_method === 'none' && single(entries, 'client_id') === client.client_id);
    const clientId = single(entries, 'client_id');
    const namesItself =
      client.token_endpoint_auth_method === 'none'
        ? clientId === client.client_id
        : clientId === undefined || clientId === client.client_id;
    return keeps && namesItself && !entries.some(([name]) => name === 'client_secret');
  }

  test(
    '/register: a client is registered only with safe redirect URIs; a refused one writes nothing',
    async () => {
      const valid = {
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        client_name: 'Fuzz agent',
      };
      const hostileUri = fc.oneof(
        fc.constantFrom(
          'javascript:alert(1)',
          'JaVaScRiPt:alert(1)',
          'data:text/html,x',
          'vbscript:x',
          'file:///etc/passwd',
          'blob:https://a/b',
          'about:blank',
          'ws://agent.example.com/cb',
          'http://evil.example/cb',
          'https://agent.example.com/cb#frag',
          'https://user:pw@agent.example.com/cb',
          'https://*.example.com/cb',
          '/relative',
          '',
          'com.example.app:/cb',
          'myapp:/cb',
          'http://127.0.0.1:8080/cb',
          'http://[::1]/cb',
          'http://localhost/cb',
          'http://localhost.evil.example/cb',
          'http://127.1/cb',
          'http://0x7f000001/cb',
          'http://[::ffff:127.0.0.1]/cb',
          'HTTP://LOCALHOST/cb',
          ' https://agent.example.com/cb',
          'http:/127.0.0.1/cb',
          'https:agent.example.com/cb',
          `https://agent.example.com/${'a'.repeat(2100)}`,
          'https://агент.example/cb',
        ),
        fc.webUrl({ withFragments: true, withQueryParameters: true }),
        stringEdit.map((edit) => applyEdit(REDIRECT, edit)),
      );
      const member = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nastyText);
      const edit = fc.oneof(
        fc.record({ field: fc.constantFrom('redirect_uris'), value: fc.array(hostileUri, { maxLength: 3 }) as fc.Arbitrary<unknown> }),
        fc.record({
          field: fc.constantFrom(
            'token_endpoint_auth_method',
            'grant_types',
            'response_types',
            'application_type',
            'client_name',
            'client_uri',
            'logo_uri',
            'scope',
            'contacts',
            'jwks',
            'software_id',
          ),
          value: member,
        }),
        fc.record({
          field: fc.constantFrom('application_type'),
          value: fc.constantFrom('web', 'native', 'WEB', 'service', '') as fc.Arbitrary<unknown>,
        }),
        fc.record({
          field: fc.constantFrom('scope'),
          value: fc.constantFrom('mcp', 'admin', 'offline_access mcp', 'openid', 'mcp  mcp', '') as fc.Arbitrary<unknown>,
        }),
        fc.record({ field: nastyText, value: member }),
        fc.record({ field: fc.constantFrom('redirect_uris', 'client_name', 'token_endpoint_auth_method'), value: fc.constant(undefined) }),
      );
      const input = fc.record({ edits: fc.array(edit, { minLength: 1, maxLength: 3 }), text: oneIn(5, stringEdit) });

      await fuzz(
        tally,
        '/register',
        input,
        async ({ edits, text }) => {
          const document: Record<string, unknown> = { ...valid };
          for (const { field, value } of edits) {
            if (value === undefined) delete document[field];
            else document[field] = value;
          }
          const body = text ? applyEdit(JSON.stringify(document), text) : JSON.stringify(document);
          const clientsBefore = store.writes('client');
          const res = await fetch(`${portal.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          expect(res.status).toBeLessThan(500);
          const answer = (await res.json()) as { error?: string; redirect_uris?: string[]; application_type?: string };
          if (res.status === 201) {
            for (const uri of answer.redirect_uris!) expect(unsafeRedirect(uri)).toBeUndefined();
          } else {
            expect(['invalid_request', 'invalid_redirect_uri', 'invalid_client_metadata']).toContain(answer.error);
            expect(store.writes('client')).toBe(clientsBefore);
          }
        },
        300,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  test(
    '/authorize: a code goes only to the registered redirect URI, only for a valid request, with its state',
    async () => {
      const valid = {
        client_id: publicClient.client_id,
        redirect_uri: REDIRECT,
        response_type: 'code',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: 'fuzz-state',
        scope: 'mcp',
      };
      const input = fc.record({
        edits: fieldEdits(Object.keys(valid), ['resource', 'prompt', 'request', 'request_uri', 'nonce']),
        junk: oneIn(
          4,
          fc.constantFrom('%zz', '=', 'a[b]=c', '%FF%FE=1', '&&', '%00=%00', 'client_id=00000000-0000-4000-8000-000000000000'),
        ),
      });

      await fuzz(
        tally,
        '/authorize',
        input,
        async ({ edits, junk }) => {
          const entries = applyFieldEdits(valid, edits);
          const query = junk ? `${junk}&${formBody(entries)}` : formBody(entries);
          const { statuses, location } = await followAuthorize(`${portal.url}/authorize?${query}`);
          for (const status of statuses) expect(status).toBeLessThan(500);
          if (location === undefined) return;
          expect(location.startsWith(`${REDIRECT}?`)).toBe(true);
          const answer = new URL(location).searchParams;
          if (!answer.has('code')) return;
          expect(junk === null || !junk.startsWith('client_id')).toBe(true);
          expect(anyRepeated(entries)).toBe(false);
          expect(single(entries, 'client_id')).toBe(publicClient.client_id);
          expect(single(entries, 'redirect_uri')).toBe(REDIRECT);
          expect(single(entries, 'response_type')).toBe('code');
          expect(single(entries, 'code_challenge_method')).toBe('S256');
          expect(single(entries, 'code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
          const state = single(entries, 'state');
          expect(answer.get('state')).toBe(state === undefined ? null : wellFormed(state));
        },
        300,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  test(
    '/token code: an edited authorization-code exchange never yields a token unless it is still a valid one',
    async () => {
      const input = fc.record({
        confidential: fc.boolean(),
        edits: fieldEdits(['grant_type', 'code', 'code_verifier', 'redirect_uri', 'client_id'], ['resource', 'scope', 'client_secret']),
        auth: authVariant,
      });

      await fuzz(
        tally,
        '/token code',
        input,
        async ({ confidential: useConfidential, edits, auth }) => {
          const client = useConfidential ? confidential : publicClient;
          const { code, verifier } = await freshCode(client);
          const credentials = authenticate(client, auth);
          const valid = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT };
          const entries = applyFieldEdits({ ...valid, ...Object.fromEntries(credentials.fields) }, edits);
          const res = await post('/token', entries, credentials.headers);
          expect(res.status).toBeLessThan(500);
          const body = (await res.json()) as Partial<TokenBody> & { error?: string };
          if (body.access_token === undefined) {
            expect(res.status).toBeGreaterThanOrEqual(400);
            expect(typeof body.error).toBe('string');
            return;
          }
          // Issued: then nothing that binds the code was changed.
          expect(anyRepeated(entries)).toBe(false);
          expect(single(entries, 'grant_type')).toBe('authorization_code');
          expect(single(entries, 'code')).toBe(code);
          expect(single(entries, 'code_verifier')).toBe(verifier);
          expect(single(entries, 'redirect_uri')).toBe(REDIRECT);
          expect(authenticatedAs(client, auth, entries)).toBe(true);
          const resource = single(entries, 'resource');
          if (entries.some(([name]) => name === 'resource')) expect(wellFormed(resource!).replace(/\/+$/, '')).toBe(`${portal.url}/mcp`);
        },
        200,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  test(
    '/token refresh: an edited refresh never yields a token unless it is still a valid one',
    async () => {
      const { code, verifier } = await freshCode(confidential, 'mcp offline_access');
      const first = await json<TokenBody>(
        await post(
          '/token',
          [
            ['grant_type', 'authorization_code'],
            ['code', code],
            ['code_verifier', verifier],
            ['redirect_uri', REDIRECT],
          ],
          authenticate(confidential, 'keep').headers,
        ),
      );
      let current = first.refresh_token!;
      expect(current).toBeTruthy();
      const input = fc.record({
        edits: fieldEdits(['grant_type', 'refresh_token', 'scope', 'client_id'], ['resource', 'scope', 'client_secret', 'code']),
        auth: authVariant,
      });

      await fuzz(
        tally,
        '/token refresh',
        input,
        async ({ edits, auth }) => {
          const credentials = authenticate(confidential, auth);
          const entries = applyFieldEdits(
            { grant_type: 'refresh_token', refresh_token: current, ...Object.fromEntries(credentials.fields) },
            edits,
          );
          const res = await post('/token', entries, credentials.headers);
          expect(res.status).toBeLessThan(500);
          const body = (await res.json()) as Partial<TokenBody>;
          if (body.access_token === undefined) return;
          expect(anyRepeated(entries)).toBe(false);
          expect(single(entries, 'grant_type')).toBe('refresh_token');
          expect(single(entries, 'refresh_token')).toBe(current);
          expect(authenticatedAs(confidential, auth, entries)).toBe(true);
          const scope = single(entries, 'scope');
          if (scope !== undefined) for (const s of scope.split(' ').filter(Boolean)) expect(['mcp', 'offline_access']).toContain(s);
          if (body.refresh_token) current = body.refresh_token;
        },
        150,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  describe('with tokens of the confidential client', () => {
    let tokens: TokenBody;
    beforeAll(async () => {
      const { code, verifier } = await freshCode(confidential, 'mcp offline_access');
      tokens = await json<TokenBody>(
        await post(
          '/token',
          [
            ['grant_type', 'authorization_code'],
            ['code', code],
            ['code_verifier', verifier],
            ['redirect_uri', REDIRECT],
          ],
          authenticate(confidential, 'keep').headers,
        ),
      );
    });

    const introspect = (token: string) =>
      post('/introspect', [['token', token]], authenticate(confidential, 'keep').headers).then((res) => json<{ active: boolean }>(res));

    test(
      '/introspect: a token is active exactly when the token and the caller are the real ones',
      async () => {
        const input = fc.record({
          edits: fieldEdits(['token', 'token_type_hint', 'client_id'], ['client_secret', 'token']),
          auth: authVariant,
          refresh: fc.boolean(),
        });

        await fuzz(
          tally,
          '/introspect',
          input,
          async ({ edits, auth, refresh }) => {
            const token = refresh ? tokens.refresh_token! : tokens.access_token;
            const credentials = authenticate(confidential, auth);
            const entries = applyFieldEdits(
              { token, token_type_hint: refresh ? 'refresh_token' : 'access_token', ...Object.fromEntries(credentials.fields) },
              edits,
            );
            const res = await post('/introspect', entries, credentials.headers);
            expect(res.status).toBeLessThan(500);
            const body = (await res.json()) as { active?: boolean };
            const genuine = !anyRepeated(entries) && single(entries, 'token') === token && authenticatedAs(confidential, auth, entries);
            expect(res.status === 200 && body.active === true).toBe(genuine);
          },
          200,
        );
      },
      FUZZ_TIMEOUT_MS,
    );

    test(
      '/revoke: an edited token, or another client, never revokes the grant',
      async () => {
        const input = fc.oneof(
          fc.record({
            token: stringEdit as fc.Arbitrary<StringEdit | null>,
            auth: authVariant,
            edits: fieldEdits(['token_type_hint', 'client_id'], ['token_type_hint']),
          }),
          fc.record({
            token: fc.constant(null),
            auth: fc.constantFrom<Auth>('drop', 'wrong-secret', 'other-client', 'garbage'),
            edits: fc.constant([] as FieldEdit[]),
          }),
        );

        await fuzz(
          tally,
          '/revoke',
          input,
          async ({ token: edit, auth, edits }) => {
            const token = edit === null ? tokens.access_token : changed(tokens.access_token, edit);
            const credentials = authenticate(confidential, auth);
            const entries = applyFieldEdits({ token, token_type_hint: 'access_token', ...Object.fromEntries(credentials.fields) }, edits);
            const res = await post('/revoke', entries, credentials.headers);
            expect(res.status).toBeLessThan(500);
            expect((await introspect(tokens.access_token)).active).toBe(true);
          },
          150,
        );
      },
      FUZZ_TIMEOUT_MS,
    );
  });

  /** Follows `/authorize` through the portal's own redirects; stops at a page or a redirect elsewhere. */
  async function followAuthorize(url: string): Promise<{ statuses: number[]; location?: string }> {
    const statuses: number[] = [];
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    for (let hop = 0; hop < 5; hop++) {
      const res = await fetch(url, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
      statuses.push(res.status);
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (!location || res.status < 300 || res.status >= 400) return { statuses };
      const next = new URL(location, url);
      if (next.origin !== portal.url) return { statuses, location: next.href };
      url = next.href;
    }
    throw new Error('too many redirects inside the portal');
  }
});

const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'ws:', 'wss:', 'ftp:']);

/** Why a registered redirect URI could leak a code (RFC 9700 §4.1, RFC 8252 §7), or `undefined`. */
function unsafeRedirect(uri: string): string | undefined {
  if (uri.includes('#')) return 'fragment';
  if (uri.includes('*')) return 'wildcard';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not absolute';
  }
  if (url.username || url.password) return 'credentials';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `scheme ${url.protocol}`;
  // Loopback as RFC 8252 §7.3 means it: 127.0.0.0/8, ::1 and IPv4-mapped 127.x, or `localhost`.
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) return 'http off loopback';
  return undefined;
}
