import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { accessTokenHash, dpopKey, dpopProof, thumbprint, type DpopKey } from '../helpers/dpop.js';
import { startTestUpstream, type TestUpstream } from '../helpers/http-app-upstream.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import {
  RecordingStore,
  authorizeCode,
  challenges,
  clientAuth,
  formPost,
  json,
  registerClient,
  startOAuthPortal,
  type Authorized,
  type OAuthErrorBody,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import type { TestPortal } from '../helpers/portal.js';
import { rawRequest } from '../helpers/raw-http.js';

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
});
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A proof with `alg: none` (RFC 7519 §6: unsecured, so an empty signature). */
function unsignedProof(key: DpopKey, htm: string, htu: string, accessToken?: string): string {
  const payload = { jti: randomUUID(), htm, htu, iat: now(), ...(accessToken ? { ath: accessTokenHash(accessToken) } : {}) };
  return `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })}.${b64(payload)}.`;
}

/** A proof MACed with HS256 over a secret it embeds as an `oct` JWK: a symmetric algorithm. */
function symmetricProof(htm: string, htu: string, accessToken?: string): Promise<string> {
  const secret = randomBytes(32);
  const payload = { jti: randomUUID(), htm, htu, iat: now(), ...(accessToken ? { ath: accessTokenHash(accessToken) } : {}) };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: secret.toString('base64url') } } as never)
    .sign(secret);
}

/**
 * DPoP bad input (RFC 9449): at `/token` (§5: `invalid_dpop_proof`, and `invalid_grant` for a bound
 * refresh token or a `dpop_jkt` code without the right key) and at `/mcp` and `/apps/{id}` (§7.1:
 * 401 with the error in the `DPoP` challenge, or in the `Bearer` one for a bound token sent as a
 * bearer token, §7.2). Each changes nothing: no grant or refresh token is written, the code or
 * refresh token still works with a good proof, and no request reaches an upstream.
 */
describe('DPoP bad input: the RFC 9449 error, nothing issued, nothing served', () => {
  let portal: TestPortal;
  let store: RecordingStore;
  let notes: RecordingServer;
  let wiki: TestUpstream;
  let client: RegisteredClient;
  let key: DpopKey;
  let otherKey: DpopKey;

  beforeAll(async () => {
    [notes, wiki, key, otherKey] = await Promise.all([startRecordingMcpServer(), startTestUpstream(), dpopKey(), dpopKey()]);
    store = new RecordingStore();
    portal = await startOAuthPortal(
      {
        upstreams: [
          { id: 'notes', kind: 'mcp', url: notes.url, tools: { pinning: 'off' } },
          { id: 'wiki', kind: 'http', url: wiki.url },
        ],
      },
      store,
    );
    client = await registerClient(portal.url);
  });
  afterAll(async () => {
    await portal?.close();
    await store?.close();
    await Promise.all([notes?.close(), wiki?.close()]);
  });

  const tokenUrl = () => `${portal.url}/token`;
  const codeFor = (params: Record<string, string> = {}): Promise<Authorized> =>
    authorizeCode(portal.url, client.client_id, { params: { scope: 'mcp offline_access', ...params } });
  const exchange = (authorized: Authorized, headers: Record<string, string> = {}) =>
    formPost(
      portal.url,
      {
        grant_type: 'authorization_code',
        code: authorized.code,
        code_verifier: authorized.verifier,
        redirect_uri: authorized.redirectUri,
        ...clientAuth(client).fields,
      },
      headers,
    );
  const refreshWith = (refreshToken: string, headers: Record<string, string> = {}) =>
    formPost(portal.url, { grant_type: 'refresh_token', refresh_token: refreshToken, ...clientAuth(client).fields }, headers);
  const tokenProof = (with_: DpopKey = key) => dpopProof(with_, { htm: 'POST', htu: tokenUrl() });
  const issued = () => ({ grants: store.writes('grant'), refresh: store.writes('refresh') });
  /** How many refusals were audited (`dpop_refused`). */
  const refusals = () => portal.logs.lines.filter((line) => line.event === 'dpop_refused' && line.outcome === 'failure').length;

  async function boundTokens(): Promise<TokenBody> {
    const res = await exchange(await codeFor(), { dpop: await tokenProof() });
    expect(res.status).toBe(200);
    const tokens = await json<TokenBody>(res);
    expect(tokens.token_type).toBe('DPoP');
    return tokens;
  }

  async function expectOAuthError(res: Response, status: number, error: string): Promise<void> {
    const body = await json<OAuthErrorBody>(res);
    expect({ status: res.status, error: body.error }).toEqual({ status, error });
  }

  describe('at /token: invalid_dpop_proof, and the code still works with a good proof', () => {
    const cases: Array<[string, () => Promise<string>]> = [
      ['a malformed DPoP header', async () => 'not-a.jwt'],
      ['a proof for another URL', () => dpopProof(key, { htm: 'POST', htu: `${portal.url}/mcp` })],
      ['a proof for another method', () => dpopProof(key, { htm: 'GET', htu: tokenUrl() })],
      ['a stale iat', () => dpopProof(key, { htm: 'POST', htu: tokenUrl() }, { claims: { iat: now() - 120 } })],
      ['an iat in the future', () => dpopProof(key, { htm: 'POST', htu: tokenUrl() }, { claims: { iat: now() + 120 } })],
      ['no jti', () => dpopProof(key, { htm: 'POST', htu: tokenUrl() }, { claims: { jti: undefined } })],
      ['typ other than dpop+jwt', () => dpopProof(key, { htm: 'POST', htu: tokenUrl() }, { header: { typ: 'JWT' } })],
      ['a symmetric algorithm (HS256)', () => symmetricProof('POST', tokenUrl())],
      ['alg none', async () => unsignedProof(key, 'POST', tokenUrl())],
      [
        'a signature by another key than the embedded jwk',
        () => dpopProof(key, { htm: 'POST', htu: tokenUrl() }, { header: { jwk: otherKey.publicJwk } }),
      ],
      [
        'a private key in the jwk',
        async () => {
          const pair = await generateKeyPair('ES256', { extractable: true });
          return dpopProof(
            { privateKey: pair.privateKey, publicJwk: await exportJWK(pair.privateKey), alg: 'ES256' },
            { htm: 'POST', htu: tokenUrl() },
          );
        },
      ],
    ];
    test.each(cases)('%s', async (_name, makeProof) => {
      const authorized = await codeFor();
      const [before, audited] = [issued(), refusals()];
      await expectOAuthError(await exchange(authorized, { dpop: await makeProof() }), 400, 'invalid_dpop_proof');
      expect(issued()).toEqual(before);
      expect(refusals()).toBe(audited + 1);
      const res = await exchange(authorized, { dpop: await tokenProof() });
      expect(res.status).toBe(200);
      expect((await json<TokenBody>(res)).token_type).toBe('DPoP');
    });

    test('a replayed jti: the proof that got one token gets no other', async () => {
      const proof = await tokenProof();
      expect((await exchange(await codeFor(), { dpop: proof })).status).toBe(200);
      const authorized = await codeFor();
      const before = issued();
      await expectOAuthError(await exchange(authorized, { dpop: proof }), 400, 'invalid_dpop_proof');
      expect(issued()).toEqual(before);
      expect((await exchange(authorized, { dpop: await tokenProof() })).status).toBe(200);
    });

    test('two DPoP headers', async () => {
      const authorized = await codeFor();
      const body = new URLSearchParams({
        grant_type: 'authorization_code',
        code: authorized.code,
        code_verifier: authorized.verifier,
        redirect_uri: authorized.redirectUri,
        client_id: client.client_id,
      }).toString();
      const before = issued();
      const answer = await rawRequest(
        Number(new URL(portal.url).port),
        `POST /token HTTP/1.1\r\nHost: ${new URL(portal.url).host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nDPoP: ${await tokenProof()}\r\nDPoP: ${await tokenProof()}\r\nConnection: close\r\n\r\n${body}`,
      );
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'invalid_dpop_proof' });
      expect(issued()).toEqual(before);
      expect((await exchange(authorized, { dpop: await tokenProof() })).status).toBe(200);
    });
  });

  describe('a bound refresh token (public client, RFC 9449 §5): invalid_grant without its key, and it is not spent', () => {
    test('without a proof, then with another key, then with its own', async () => {
      const tokens = await boundTokens();
      const [before, audited] = [issued(), refusals()];
      await expectOAuthError(await refreshWith(tokens.refresh_token!), 400, 'invalid_grant');
      await expectOAuthError(await refreshWith(tokens.refresh_token!, { dpop: await tokenProof(otherKey) }), 400, 'invalid_grant');
      expect(issued()).toEqual(before);
      expect(refusals()).toBe(audited + 2);
      const res = await refreshWith(tokens.refresh_token!, { dpop: await tokenProof() });
      expect(res.status).toBe(200);
      expect((await json<TokenBody>(res)).token_type).toBe('DPoP');
    });
  });

  describe('a code requested with dpop_jkt (RFC 9449 §10)', () => {
    test('exchanged without a proof or with another key: invalid_grant, and the code still works with the key', async () => {
      const authorized = await codeFor({ dpop_jkt: await thumbprint(key) });
      const [before, audited] = [issued(), refusals()];
      await expectOAuthError(await exchange(authorized), 400, 'invalid_grant');
      await expectOAuthError(await exchange(authorized, { dpop: await tokenProof(otherKey) }), 400, 'invalid_grant');
      expect(issued()).toEqual(before);
      expect(refusals()).toBe(audited + 2);
      expect((await exchange(authorized, { dpop: await tokenProof() })).status).toBe(200);
    });

    test('a malformed dpop_jkt is invalid_request at /authorize', async () => {
      const res = await fetch(
        `${portal.url}/authorize?${new URLSearchParams({ client_id: client.client_id, redirect_uri: 'http://127.0.0.1:9999/callback', response_type: 'code', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', dpop_jkt: 'short' })}`,
        { redirect: 'manual' },
      );
      await expectOAuthError(res, 400, 'invalid_request');
    });
  });

  describe('at the protected resources: 401 with the error, and nothing reaches the upstream', () => {
    let tokens: TokenBody;
    beforeAll(async () => {
      tokens = await boundTokens();
    });

    /**
     * The two kinds of resource: the MCP aggregate (POST) and an HTTP app (GET). The app's upstream
     * counts what reached it; the aggregate's refusal is the OAuth error body itself (no JSON-RPC
     * result), as an accepted `initialize` reaches upstreams only later, in the background.
     */
    const targets = [
      { name: '/mcp', method: 'POST', path: '/mcp', body: INITIALIZE, reached: () => 0 },
      { name: '/apps/{id}', method: 'GET', path: '/apps/wiki/echo', body: undefined, reached: () => wiki.seen.length },
    ];
    type Target = (typeof targets)[number];
    const send = (target: Target, headers: Record<string, string>) =>
      fetch(`${portal.url}${target.path}`, {
        method: target.method,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: target.body,
      });
    const urlOf = (target: Target) => `${portal.url}${target.path}`;
    const good = (target: Target, token = tokens.access_token, with_: DpopKey = key) =>
      dpopProof(with_, { htm: target.method, htu: urlOf(target), accessToken: token });

    /** Sends, expects 401 with `error` in the `scheme` challenge (and the DPoP challenge's `algs` always), and that nothing reached the upstream. */
    async function expectRefused(target: Target, headers: Record<string, string>, error: string, scheme: 'DPoP' | 'Bearer'): Promise<void> {
      const [reached, audited] = [target.reached(), refusals()];
      const res = await send(target, headers);
      await expectOAuthError(res, 401, error);
      const offered = challenges(res.headers.get('www-authenticate'));
      expect(offered[scheme]!.error).toBe(error);
      expect(offered.DPoP!.algs).toContain('ES256');
      expect(offered.Bearer!.resource_metadata).toBeDefined();
      expect(target.reached()).toBe(reached);
      expect(refusals()).toBe(audited + 1);
    }

    // Every row names the challenge that carries the error: jest reads a missing last argument as a `done` callback.
    const cases: Array<[string, (target: Target) => Promise<Record<string, string>>, string, 'DPoP' | 'Bearer']> = [
      [
        'a bound token sent as a bearer token (with a proof, even)',
        async (t) => ({ authorization: `Bearer ${tokens.access_token}`, dpop: await good(t) }),
        'invalid_token',
        'Bearer',
      ],
      ['a bound token without a proof', async () => ({ authorization: `DPoP ${tokens.access_token}` }), 'invalid_dpop_proof', 'DPoP'],
      [
        'a proof for another URL',
        async (t) => ({
          authorization: `DPoP ${tokens.access_token}`,
          dpop: await dpopProof(key, { htm: t.method, htu: `${portal.url}/mcp/notes`, accessToken: tokens.access_token }),
        }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'a proof for another method',
        async (t) => ({
          authorization: `DPoP ${tokens.access_token}`,
          dpop: await dpopProof(key, { htm: 'PUT', htu: urlOf(t), accessToken: tokens.access_token }),
        }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'a proof without ath',
        async (t) => ({ authorization: `DPoP ${tokens.access_token}`, dpop: await dpopProof(key, { htm: t.method, htu: urlOf(t) }) }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'a proof whose ath is another token’s',
        async (t) => ({ authorization: `DPoP ${tokens.access_token}`, dpop: await good(t, 'another-token') }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'a stale iat',
        async (t) => ({
          authorization: `DPoP ${tokens.access_token}`,
          dpop: await dpopProof(key, { htm: t.method, htu: urlOf(t), accessToken: tokens.access_token }, { claims: { iat: now() - 120 } }),
        }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'an iat in the future',
        async (t) => ({
          authorization: `DPoP ${tokens.access_token}`,
          dpop: await dpopProof(key, { htm: t.method, htu: urlOf(t), accessToken: tokens.access_token }, { claims: { iat: now() + 120 } }),
        }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'a symmetric algorithm (HS256)',
        async (t) => ({
          authorization: `DPoP ${tokens.access_token}`,
          dpop: await symmetricProof(t.method, urlOf(t), tokens.access_token),
        }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'alg none',
        async (t) => ({ authorization: `DPoP ${tokens.access_token}`, dpop: unsignedProof(key, t.method, urlOf(t), tokens.access_token) }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'a malformed DPoP header',
        async () => ({ authorization: `DPoP ${tokens.access_token}`, dpop: 'eyJ.not a jwt' }),
        'invalid_dpop_proof',
        'DPoP',
      ],
      [
        'a valid proof by another key than cnf.jkt',
        async (t) => ({ authorization: `DPoP ${tokens.access_token}`, dpop: await good(t, tokens.access_token, otherKey) }),
        'invalid_token',
        'DPoP',
      ],
      // Both keys are known to the portal by now: a key it imported before still verifies every signature.
      [
        'a signature by another key than the embedded jwk',
        async (t) => ({
          authorization: `DPoP ${tokens.access_token}`,
          dpop: await dpopProof(
            otherKey,
            { htm: t.method, htu: urlOf(t), accessToken: tokens.access_token },
            { header: { jwk: key.publicJwk } },
          ),
        }),
        'invalid_dpop_proof',
        'DPoP',
      ],
    ];
    for (const target of targets) {
      test.each(cases)(`${target.name}: %s`, async (_name, headersFor, error, scheme) => {
        await expectRefused(target, await headersFor(target), error, scheme);
      });

      test(`${target.name}: a replayed proof is refused the second time`, async () => {
        const headers = { authorization: `DPoP ${tokens.access_token}`, dpop: await good(target) };
        const first = await send(target, headers);
        expect(first.status).toBe(200);
        await first.text();
        await expectRefused(target, headers, 'invalid_dpop_proof', 'DPoP');
      });
    }

    test('an unbound (bearer) token sent with the DPoP scheme: invalid_token', async () => {
      const res = await exchange(await codeFor());
      const bearer = await json<TokenBody>(res);
      expect(bearer.token_type).toBe('Bearer');
      await expectRefused(
        targets[0]!,
        { authorization: `DPoP ${bearer.access_token}`, dpop: await good(targets[0]!, bearer.access_token) },
        'invalid_token',
        'DPoP',
      );
    });

    test('two DPoP headers at /mcp', async () => {
      const target = targets[0]!;
      const answer = await rawRequest(
        Number(new URL(portal.url).port),
        `POST /mcp HTTP/1.1\r\nHost: ${new URL(portal.url).host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${INITIALIZE.length}\r\nAuthorization: DPoP ${tokens.access_token}\r\nDPoP: ${await good(target)}\r\nDPoP: ${await good(target)}\r\nConnection: close\r\n\r\n${INITIALIZE}`,
      );
      expect(answer.status).toBe(401);
      expect(answer.text).toMatch(/WWW-Authenticate: Bearer [^\r\n]*DPoP algs="[^"]+", scope="mcp", error="invalid_dpop_proof"/i);
      expect(JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'invalid_dpop_proof' });
    });
  });
});
