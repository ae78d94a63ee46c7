import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { createAccessTokens } from '../../portal/oauth/access-tokens.js';
import {
  bearerChallenge,
  formPost,
  json,
  mcpInitialize,
  registerClient,
  startOAuthPortal,
  tokensFor,
  type OAuthErrorBody,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { testClock } from '../helpers/test-clock.js';
import type { TestPortal } from '../helpers/portal.js';

/**
 * The bearer check of protected routes (RFC 6750 §3, RFC 9728 §5.1): every rejected token is
 * 401 with `WWW-Authenticate: Bearer resource_metadata="…", error="invalid_token"`; no token is
 * 401 with a challenge but no `error`; a token without scope `mcp` is 403 `insufficient_scope`.
 */
describe('bearer tokens at /mcp', () => {
  let portal: TestPortal;
  let client: RegisteredClient;
  let tokens: TokenBody;
  let metadataUrl: string;

  beforeAll(async () => {
    // `notes` makes `/mcp/notes` a resource of its own; nothing listens at its URL (no test reaches it).
    portal = await startOAuthPortal({ upstreams: [{ id: 'notes', kind: 'mcp', url: 'http://127.0.0.1:1/mcp' }] });
    client = await registerClient(portal.url);
    tokens = await tokensFor(portal.url, client);
    metadataUrl = `${portal.url}/.well-known/oauth-protected-resource/mcp`;
  });
  afterAll(() => portal.close());

  /** Expects 401 `invalid_token` at `url` with a well-formed challenge naming the resource's metadata. */
  async function expectInvalidToken(token: string, url = `${portal.url}/mcp`, metadata = metadataUrl): Promise<void> {
    const res = await mcpInitialize(url, token);
    expect(res.status).toBe(401);
    const challenge = bearerChallenge(res.headers.get('www-authenticate'));
    expect(challenge).toMatchObject({ resource_metadata: metadata, error: 'invalid_token' });
    expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_token');
  }

  /** The token's header and claims, to forge look-alikes. */
  function partsOf(token: string) {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  }

  test('the genuine token works (the control case)', async () => {
    const res = await mcpInitialize(`${portal.url}/mcp`, tokens.access_token);
    expect(res.status).toBe(200);
    await res.text();
  });

  test('no token: 401 with the resource_metadata challenge and no error code (RFC 6750 §3.1)', async () => {
    const res = await mcpInitialize(`${portal.url}/mcp`);
    expect(res.status).toBe(401);
    const challenge = bearerChallenge(res.headers.get('www-authenticate'));
    expect(challenge.resource_metadata).toBe(metadataUrl);
    expect(challenge.error).toBeUndefined();
    // The metadata it points to names this resource.
    const metadata = await json<{ resource: string; authorization_servers: string[] }>(await fetch(challenge.resource_metadata!));
    expect(metadata).toMatchObject({ resource: `${portal.url}/mcp`, authorization_servers: [portal.url] });
  });

  test('alg: none with the same claims and kid is invalid_token', async () => {
    const { header, claims } = partsOf(tokens.access_token);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ ...header, alg: 'none' })}.${encode(claims)}.`;
    await expectInvalidToken(unsigned);
    // With the original signature kept, too.
    await expectInvalidToken(`${encode({ ...header, alg: 'none' })}.${encode(claims)}.${tokens.access_token.split('.')[2]}`);
  });

  test('a token signed by another key (same claims, same kid) is invalid_token', async () => {
    const { header, claims } = partsOf(tokens.access_token);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid! }).sign(privateKey);
    await expectInvalidToken(forged);
    const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker-key' }).sign(privateKey);
    await expectInvalidToken(unknownKid);
  });

  test('an HS256 token (algorithm confusion) is invalid_token', async () => {
    const { header, claims } = partsOf(tokens.access_token);
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid! })
      .sign(new TextEncoder().encode('x'.repeat(32)));
    await expectInvalidToken(forged);
  });

  test('a genuine signature over altered claims is invalid_token', async () => {
    const [head, , signature] = tokens.access_token.split('.');
    const { claims } = partsOf(tokens.access_token);
    const altered = Buffer.from(JSON.stringify({ ...claims, sub: 'local:bob' })).toString('base64url');
    await expectInvalidToken(`${head}.${altered}.${signature}`);
  });

  test('garbage is invalid_token', async () => {
    await expectInvalidToken('not-a-jwt');
    await expectInvalidToken('a.b.c');
  });

  test('a token for /mcp presented at /mcp/notes (wrong aud) is invalid_token, and /mcp/notes’s own metadata is named', async () => {
    const notes = `${portal.url}/mcp/notes`;
    await expectInvalidToken(tokens.access_token, notes, `${portal.url}/.well-known/oauth-protected-resource/mcp/notes`);
    await expect(
      createAccessTokens({ issuer: portal.url, keys: portal.keys }).verify(tokens.access_token, { audience: notes }),
    ).rejects.toMatchObject({ code: 'invalid_token' });
  });

  test('a token for /mcp/notes presented at /mcp (wrong aud) is invalid_token', async () => {
    const notesTokens = await tokensFor(portal.url, client, { params: { resource: `${portal.url}/mcp/notes` } });
    await expect(
      createAccessTokens({ issuer: portal.url, keys: portal.keys }).verify(notesTokens.access_token, {
        audience: `${portal.url}/mcp/notes`,
      }),
    ).resolves.toMatchObject({ aud: `${portal.url}/mcp/notes` });
    await expectInvalidToken(notesTokens.access_token);
  });

  test('a token of a revoked grant is invalid_token', async () => {
    const fresh = await tokensFor(portal.url, client);
    const revoked = await formPost(portal.url, { token: fresh.refresh_token!, client_id: client.client_id }, {}, '/revoke');
    expect(revoked.status).toBe(200);
    await expectInvalidToken(fresh.access_token);
  });

  test('a token lacking scope mcp (consent for offline_access only) is 403 insufficient_scope', async () => {
    const offlineOnly = await tokensFor(portal.url, client, { params: { scope: 'offline_access' } });
    expect(offlineOnly.scope).toBe('offline_access');
    const res = await mcpInitialize(`${portal.url}/mcp`, offlineOnly.access_token);
    expect(res.status).toBe(403);
    const challenge = bearerChallenge(res.headers.get('www-authenticate'));
    expect(challenge).toMatchObject({ resource_metadata: metadataUrl, error: 'insufficient_scope', scope: 'mcp' });
    expect((await json<OAuthErrorBody>(res)).error).toBe('insufficient_scope');
  });

  test('a malformed Bearer header is 401 invalid_token with the challenge', async () => {
    for (const authorization of [`Bearer ${tokens.access_token} extra`, 'Bearer', 'Bearer  ']) {
      const res = await mcpInitialize(`${portal.url}/mcp`, undefined, { authorization });
      expect(res.status).toBe(401);
      expect(bearerChallenge(res.headers.get('www-authenticate'))).toMatchObject({
        resource_metadata: metadataUrl,
        error: 'invalid_token',
      });
      await res.text();
    }
  });

  test('another authentication scheme is no token: 401 with the challenge and no error code (RFC 6750 §3.1)', async () => {
    for (const authorization of [
      `Basic ${Buffer.from('a:b').toString('base64')}`,
      `DPoP ${tokens.access_token}`,
      `Bearertoken ${tokens.access_token}`,
    ]) {
      const res = await mcpInitialize(`${portal.url}/mcp`, undefined, { authorization });
      expect(res.status).toBe(401);
      const challenge = bearerChallenge(res.headers.get('www-authenticate'));
      expect(challenge.resource_metadata).toBe(metadataUrl);
      expect(challenge.error).toBeUndefined();
      await res.text();
    }
  });

  test('a token in the query string is not accepted (RFC 9700 §2.4 / OAuth 2.1 §5.2)', async () => {
    const res = await fetch(`${portal.url}/mcp?access_token=${tokens.access_token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    expect(res.status).toBe(401);
    expect(bearerChallenge(res.headers.get('www-authenticate')).error).toBeUndefined();
    await res.text();
  });
});

describe('expired bearer tokens (access_ttl 1 s)', () => {
  let portal: TestPortal;
  const clock = testClock();

  beforeAll(async () => {
    portal = await startOAuthPortal({ tokens: { access_ttl: '1s' } }, undefined, clock);
  });
  afterAll(() => portal.close());

  test('an expired token is 401 invalid_token', async () => {
    const client = await registerClient(portal.url);
    const tokens = await tokensFor(portal.url, client);
    // `exp` has one-second resolution: move past the next whole second after it.
    clock.advance(2_100);
    const res = await mcpInitialize(`${portal.url}/mcp`, tokens.access_token);
    expect(res.status).toBe(401);
    expect(bearerChallenge(res.headers.get('www-authenticate'))).toMatchObject({
      resource_metadata: `${portal.url}/.well-known/oauth-protected-resource/mcp`,
      error: 'invalid_token',
    });
    expect((await json<OAuthErrorBody>(res)).error).toBe('invalid_token');
  });
});
