import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore, createRedisStore, StoreUnavailableError, storeKey, type Store } from '../../portal/store/index.js';
import { createTestRedisStore, testKeyPrefix } from '../helpers/redis.js';
import { TestRedisCluster } from '../helpers/redis-cluster.js';
import { testClock } from '../helpers/test-clock.js';

interface Backend {
  /**
   * Two handles on one shared state (two portal processes): the same store object for memory.
   * `elapse` lets time pass for expiry: the memory store's clock moves; Redis expires keys by its
   * own clock, so there the test really waits.
   */
  open(): Promise<{ store: Store; peer: Store; cleanup: () => Promise<void>; elapse: (ms: number) => Promise<void> }>;
}

const wait = (ms: number): Promise<void> => sleep(ms);

const backends: Array<[string, Backend]> = [
  [
    'memory',
    {
      async open() {
        const clock = testClock();
        const store = new MemoryStore({ clock });
        return { store, peer: store, cleanup: () => store.close(), elapse: async (ms) => clock.advance(ms) };
      },
    },
  ],
  [
    'redis',
    {
      async open() {
        const keyPrefix = testKeyPrefix();
        const a = await createTestRedisStore(keyPrefix);
        const b = await createTestRedisStore(keyPrefix);
        return {
          store: a.store,
          peer: b.store,
          cleanup: async () => {
            await b.store.close();
            await a.cleanup();
          },
          elapse: wait,
        };
      },
    },
  ],
  [
    'redis cluster',
    {
      // Three masters of this file's own: keys of one test land on different nodes, and two
      // clients stand for two portal processes.
      async open() {
        cluster ??= await TestRedisCluster.start();
        const keyPrefix = testKeyPrefix();
        const [a, b] = await Promise.all([0, 1].map(() => cluster!.openStore(keyPrefix)));
        return {
          store: a!,
          peer: b!,
          cleanup: async () => {
            await Promise.all([a!.close(), b!.close()]);
          },
          elapse: wait,
        };
      },
    },
  ],
];

/**
 * A TTL the tests let pass, and the time they let pass: long enough that a loaded machine finishes the few
 * round trips a test makes before it (two clients, a cluster's redirects), short enough to wait.
 */
const SHORT_TTL = 300;
const PAST_SHORT_TTL = 450;

let cluster: TestRedisCluster | undefined;
afterAll(() => cluster?.stop());

describe.each(backends)('Store contract: %s', (_name, backend) => {
  let store: Store;
  let peer: Store;
  let cleanup: () => Promise<void>;
  let elapse: (ms: number) => Promise<void>;

  beforeEach(async () => {
    ({ store, peer, cleanup, elapse } = await backend.open());
  });
  afterEach(() => cleanup());

  test('set, get and delete', async () => {
    expect(await store.get('k')).toBeNull();
    await store.set('k', 'v1');
    expect(await peer.get('k')).toBe('v1');
    expect(await store.delete('k')).toBe(true);
    expect(await store.delete('k')).toBe(false);
    expect(await store.get('k')).toBeNull();
  });

  test('values expire after their TTL', async () => {
    await store.set('short', 'v', { ttlMs: SHORT_TTL });
    await store.set('long', 'v', { ttlMs: 60_000 });
    expect(await store.get('short')).toBe('v');
    const remaining = await store.ttl('long');
    expect(remaining).toBeGreaterThan(50_000);
    expect(remaining).toBeLessThanOrEqual(60_000);
    await elapse(PAST_SHORT_TTL);
    expect(await store.get('short')).toBeNull();
    expect(await store.ttl('short')).toBeNull();
    expect(await store.get('long')).toBe('v');
  });

  test('getAndExtend reads a value and moves its expiry; a missing key stays missing', async () => {
    await store.set('sliding', 'v', { ttlMs: SHORT_TTL });
    expect(await peer.getAndExtend('sliding', 60_000)).toBe('v');
    await elapse(PAST_SHORT_TTL);
    expect(await store.get('sliding')).toBe('v');
    expect(await store.ttl('sliding')).toBeGreaterThan(50_000);
    expect(await store.getAndExtend('absent', 60_000)).toBeNull();
    expect(await store.get('absent')).toBeNull();
  });

  test('setIfAbsent sets only once', async () => {
    expect(await store.setIfAbsent('once', 'first', { ttlMs: 10_000 })).toBe(true);
    expect(await peer.setIfAbsent('once', 'second')).toBe(false);
    expect(await store.get('once')).toBe('first');
  });

  test('take returns the value once', async () => {
    await store.set('code', 'secret');
    expect(await store.take('code')).toBe('secret');
    expect(await store.take('code')).toBeNull();
    expect(await store.get('code')).toBeNull();
  });

  test('of 50 concurrent takers exactly one wins', async () => {
    await store.set('race', 'prize', { ttlMs: 10_000 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? peer : store).take('race')));
    expect(results.filter((r) => r === 'prize')).toHaveLength(1);
    expect(results.filter((r) => r === null)).toHaveLength(49);
  });

  test('compareAndSet replaces only the expected value', async () => {
    expect(await store.compareAndSet('cas', null, 'a')).toBe(true);
    expect(await store.compareAndSet('cas', null, 'b')).toBe(false);
    expect(await store.compareAndSet('cas', 'x', 'b')).toBe(false);
    expect(await store.get('cas')).toBe('a');
    expect(await peer.compareAndSet('cas', 'a', 'b', { ttlMs: SHORT_TTL })).toBe(true);
    expect(await store.get('cas')).toBe('b');
    await elapse(PAST_SHORT_TTL);
    expect(await store.get('cas')).toBeNull();
  });

  test('getMany reads several keys of one hash tag at once, null for the absent ones', async () => {
    await store.set('many:{t}:a', '1');
    await store.set('many:{t}:c', '3', { ttlMs: 60_000 });
    expect(await peer.getMany(['many:{t}:a', 'many:{t}:b', 'many:{t}:c'])).toEqual(['1', null, '3']);
    expect(await store.getMany([])).toEqual([]);
  });

  test('writeIfUnchanged writes every key only while every expected key holds its value', async () => {
    const [a, b, c] = ['wiu:{t}:a', 'wiu:{t}:b', 'wiu:{t}:c'];
    await store.set(a, 'a1');
    // b is expected absent, but holds a value: nothing is written.
    await store.set(b, 'b1');
    expect(
      await store.writeIfUnchanged(
        [
          { key: a, value: 'a1' },
          { key: b, value: null },
        ],
        [
          { key: a, value: 'a2' },
          { key: c, value: 'c2' },
        ],
      ),
    ).toBe(false);
    expect(await store.getMany([a, b, c])).toEqual(['a1', 'b1', null]);
    await store.delete(b);
    expect(
      await peer.writeIfUnchanged(
        [
          { key: a, value: 'a1' },
          { key: b, value: null },
        ],
        [
          { key: a, value: 'a2' },
          { key: c, value: 'c2', ttlMs: SHORT_TTL },
        ],
      ),
    ).toBe(true);
    expect(await store.getMany([a, b, c])).toEqual(['a2', null, 'c2']);
    expect(await store.ttl(a)).toBeNull();
    await elapse(PAST_SHORT_TTL);
    expect(await store.get(c)).toBeNull();
    // A value read before another writer's change no longer matches.
    expect(await store.writeIfUnchanged([{ key: a, value: 'a1' }], [{ key: c, value: 'late' }])).toBe(false);
    expect(await store.get(c)).toBeNull();
  });

  test('of 20 concurrent writeIfUnchanged from one state exactly one wins', async () => {
    await store.set('race:{t}:token', 'fresh');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? peer : store).writeIfUnchanged(
          [{ key: 'race:{t}:token', value: 'fresh' }],
          [
            { key: 'race:{t}:token', value: `spent-${i}` },
            { key: `race:{t}:next-${i}`, value: 'issued' },
          ],
        ),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await store.get('race:{t}:token')).toBe(`spent-${winner}`);
    const issued = await store.getMany(Array.from({ length: 20 }, (_, i) => `race:{t}:next-${i}`));
    expect(issued.filter((value) => value !== null)).toEqual(['issued']);
  });

  test('of 20 concurrent compareAndSets from one value exactly one wins', async () => {
    await store.set('cas-race', 'v0');
    const wins = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? peer : store).compareAndSet('cas-race', 'v0', `v${i + 1}`)),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  test('a lock has one holder at a time and expires', async () => {
    const attempts = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? peer : store).acquireLock('lock', SHORT_TTL)));
    const holders = attempts.filter((lock) => lock !== null);
    expect(holders).toHaveLength(1);
    expect(await store.acquireLock('lock', SHORT_TTL)).toBeNull();
    await elapse(PAST_SHORT_TTL);
    // The first holder's lock expired; a new holder takes it and the old release must not free it.
    const second = await peer.acquireLock('lock', 10_000);
    expect(second).not.toBeNull();
    expect(await holders[0]!.release()).toBe(false);
    expect(await store.acquireLock('lock', 10_000)).toBeNull();
    expect(await second!.release()).toBe(true);
    expect(await store.acquireLock('lock', 10_000)).not.toBeNull();
  });

  test('counters count within a window that the first increment starts', async () => {
    const counts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? peer : store).increment('hits', SHORT_TTL)));
    expect([...counts].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await elapse(PAST_SHORT_TTL);
    expect(await store.increment('hits', SHORT_TTL)).toBe(1);
  });

  test('sets index members', async () => {
    const key = storeKey('person', 'alice', 'grants');
    await store.addToSet(key, 'g1');
    await peer.addToSet(key, 'g2');
    await store.addToSet(key, 'g1');
    expect((await store.setMembers(key)).sort()).toEqual(['g1', 'g2']);
    await store.removeFromSet(key, 'g1');
    expect(await peer.setMembers(key)).toEqual(['g2']);
    expect(await store.setMembers('nothing')).toEqual([]);
  });

  test('pub/sub reaches subscribers of every handle, and unsubscribe stops delivery', async () => {
    const received: string[] = [];
    const arrived = new Promise<void>((resolve) => {
      void peer
        .subscribe('events', (message) => {
          received.push(message);
          if (received.length === 2) resolve();
        })
        .then(async (unsubscribe) => {
          await store.publish('events', 'one');
          await store.publish('events', 'two');
          await arrived;
          await unsubscribe();
          await store.publish('events', 'three');
        });
    });
    await arrived;
    await sleep(100);
    expect(received).toEqual(['one', 'two']);
  });

  test('a subscriber that joins a channel as its only other subscriber leaves still hears it', async () => {
    const leaving = await peer.subscribe('shared', () => {});
    const heard: string[] = [];
    const joining = peer.subscribe('shared', (message) => heard.push(message));
    await leaving();
    const unsubscribe = await joining;
    await store.publish('shared', 'still here');
    for (let i = 0; i < 100 && heard.length === 0; i++) await sleep(20);
    expect(heard).toEqual(['still here']);
    await unsubscribe();
  });

  test('streams append in order, cap their length and read after an id', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 7; i++) ids.push(await store.append('audit', `e${i}`, { maxLength: 5 }));
    const all = await peer.readStream('audit');
    expect(all.map((e) => e.entry)).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
    expect(all.map((e) => e.id)).toEqual(ids.slice(2));
    const page = await store.readStream('audit', { afterId: ids[3], count: 2 });
    expect(page.map((e) => e.entry)).toEqual(['e5', 'e6']);
    expect(await store.readStream('audit', { afterId: ids[6] })).toEqual([]);
  });

  test('a long capped stream keeps exactly its newest entries, in order, however often it drops old ones', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3500; i++) ids.push(await store.append('long', `e${i}`, { maxLength: 1000 }));
    const all = await peer.readStream('long');
    expect(all).toHaveLength(1000);
    expect(all.map((e) => e.id)).toEqual(ids.slice(2500));
    expect(all[0]!.entry).toBe('e2500');
    const page = await store.readStream('long', { afterId: ids[3000], count: 3 });
    expect(page.map((e) => e.entry)).toEqual(['e3001', 'e3002', 'e3003']);
    // An id that was dropped already: reading starts at the oldest entry kept.
    expect((await store.readStream('long', { afterId: ids[10], count: 1 }))[0]!.entry).toBe('e2500');
  });

  test('ping answers while the store is up', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});

describe('Redis store failure', () => {
  test('start-up gives up after a bounded retry with a StoreUnavailableError that hides the password', async () => {
    const started = createRedisStore({ url: 'redis://:hunter2@127.0.0.1:1', connectTimeoutMs: 300 });
    await expect(started).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(started).rejects.toThrow(/cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    await expect(started).rejects.not.toThrow(/hunter2/);
  });

  test('a cluster: start-up gives up the same way when no node answers', async () => {
    const started = createRedisStore({ url: 'redis://:hunter2@127.0.0.1:1', cluster: true, connectTimeoutMs: 300 });
    await expect(started).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(started).rejects.not.toThrow(/hunter2/);
  });

  test('a cluster with a master down: its keys fail closed with StoreUnavailableError, the rest still answer, ping fails', async () => {
    const outage = await TestRedisCluster.start();
    const keyPrefix = testKeyPrefix();
    const store = await outage.openStore(keyPrefix);
    try {
      const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((id) => storeKey('case', id));
      for (const key of keys) await store.set(key, 'v');
      await outage.stopNodeOf(keyPrefix + keys[0]);
      await expect(store.get(keys[0]!)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      // Keys on the other masters are served until the cluster itself declares the outage.
      const answers = await Promise.allSettled(keys.map((key) => store.get(key)));
      expect(answers.filter((a) => a.status === 'fulfilled').map((a) => (a as PromiseFulfilledResult<string | null>).value)).toContain('v');
      expect(answers.every((a) => (a.status === 'fulfilled' ? a.value === 'v' : a.reason instanceof StoreUnavailableError))).toBe(true);
    } finally {
      await store.close();
      await outage.stop();
    }
  });

  test('commands on a closed connection fail with StoreUnavailableError, never hang', async () => {
    const { store, cleanup } = await createTestRedisStore();
    await store.close();
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.ping()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await cleanup();
  });
});
