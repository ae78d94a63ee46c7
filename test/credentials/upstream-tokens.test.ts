import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { FIRST_ACCOUNT_ID, createUpstreamTokenStore, type UpstreamConnectionRecord } from '../../portal/credentials/upstream-tokens.js';
import { createSealer } from '../../portal/crypto/seal.js';
import { MemoryStore } from '../../portal/store/memory-store.js';
import { storeKey, type Store } from '../../portal/store/store.js';
import { createTestRedisStore } from '../helpers/redis.js';

const record = (accessToken: string): UpstreamConnectionRecord => ({
  accessToken,
  scope: ['notes'],
  asIssuer: 'https://as.example',
  clientKey: 'configured',
  resource: 'https://notes.example/mcp',
  status: 'connected',
  connectedAt: 1,
  refreshedAt: 1,
});

/**
 * A person's connections at `oauth` upstreams, on the memory store and on Redis. The list of a
 * person's accounts has a key of its own: an upstream may be called anything its id pattern allows,
 * `index` included, without its tokens and the list taking each other's place.
 */
describe.each([
  ['memory', async () => ({ store: new MemoryStore() as Store, cleanup: async () => {} })],
  ['Redis', async () => createTestRedisStore()],
])('upstream tokens on the %s store', (_name, open) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  const sealer = createSealer('test-secret-0123456789abcdef-0123456789', 'upstream-token');

  beforeAll(async () => ({ store, cleanup } = await open()));
  afterAll(() => cleanup());

  test('an upstream named "index" and another: both are listed, read and removed on their own', async () => {
    const tokens = createUpstreamTokenStore(store, sealer);
    const index = { personId: 'local:alice', upstreamId: 'index', accountId: FIRST_ACCOUNT_ID };
    const notes = { personId: 'local:alice', upstreamId: 'notes', accountId: FIRST_ACCOUNT_ID };
    await tokens.write(index, record('token-for-index'));
    await tokens.write(notes, record('token-for-notes'));
    expect((await tokens.accounts('local:alice')).map((a) => a.upstreamId).sort()).toEqual(['index', 'notes']);
    expect((await tokens.read(index))?.record.accessToken).toBe('token-for-index');
    await tokens.remove(index);
    expect(await tokens.read(index)).toBeUndefined();
    expect((await tokens.accounts('local:alice')).map((a) => a.upstreamId)).toEqual(['notes']);
    expect((await tokens.read(notes))?.record.accessToken).toBe('token-for-notes');
  });

  test('a list kept where it was before it had a key of its own is still listed', async () => {
    const tokens = createUpstreamTokenStore(store, sealer);
    const notes = { personId: 'local:bob', upstreamId: 'notes', accountId: FIRST_ACCOUNT_ID };
    await store.set(
      storeKey('upstream-token', 'local:bob', 'notes'),
      sealer.seal(JSON.stringify(record('old')), 'upstream-token\nlocal:bob\nnotes'),
    );
    await store.addToSet(storeKey('upstream-token', 'local:bob', 'index'), 'notes');
    expect(await tokens.accounts('local:bob')).toEqual([notes]);
    expect((await tokens.read(notes))?.record.accessToken).toBe('old');
  });
});
