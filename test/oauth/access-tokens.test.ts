import { createAccessTokens } from '../../portal/oauth/access-tokens.js';
import type { Grant } from '../../portal/oauth/grant-store.js';
import { createSigningKeys } from '../../portal/oauth/signing-keys.js';
import { MemoryStore } from '../../portal/store/index.js';
import { testClock } from '../helpers/test-clock.js';

/**
 * A token's signature is checked once per process; what can change is checked on every use.
 * Each case presents a token that already passed once, so the second answer comes from the cache.
 */
describe('access tokens: the per-process cache of checked signatures', () => {
  const issuer = 'http://127.0.0.1:1';
  const clock = testClock();
  const store = new MemoryStore({ clock });
  const keys = createSigningKeys({
    store,
    secret: 'access-tokens-test-secret-0123456789abcdef',
    rotateAfterMs: 60_000,
    retainAfterRotationMs: 60_000,
    clock,
  });
  const tokens = createAccessTokens({ issuer, keys, clock });
  const grant: Grant = {
    id: 'grant-1',
    kind: 'person',
    person: { id: 'local:alice', groups: [] } as unknown as Grant['person'],
    clientId: 'client-1',
    scope: ['mcp'],
    resource: `${issuer}/mcp`,
    upstreamIds: [],
    createdAt: Date.now(),
  };
  afterAll(() => store.close());

  test('a cached token presented for another resource is refused', async () => {
    const { token } = await tokens.issue(grant, 60_000);
    await expect(tokens.verify(token, { audience: `${issuer}/mcp` })).resolves.toMatchObject({ grant_id: 'grant-1' });
    await expect(tokens.verify(token, { audience: `${issuer}/mcp/notes` })).rejects.toMatchObject({
      code: 'invalid_token',
      message: 'the access token is for another resource',
    });
    await expect(tokens.verify(token, { audience: [`${issuer}/mcp/notes`, `${issuer}/mcp`] })).resolves.toMatchObject({
      aud: `${issuer}/mcp`,
    });
  });

  test('a cached token stops working when it expires', async () => {
    const { token } = await tokens.issue(grant, 1_000);
    await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'local:alice' });
    clock.advance(2_100);
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'invalid_token', message: 'the access token expired' });
  });

  test('a token differing from a cached one by its signature is refused', async () => {
    const { token } = await tokens.issue(grant, 60_000);
    await tokens.verify(token);
    const [header, payload, signature] = token.split('.');
    const forged = `${header}.${payload}.${signature!.slice(0, -4)}${signature!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    await expect(tokens.verify(forged)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});
