import { Redis } from 'ioredis';
import pino from 'pino';
import { createUpstreamRegistry } from '../../portal/admin/upstream-registry.js';
import { createRedisStore, storeKey, type RedisStore } from '../../portal/store/index.js';
import { eventually } from '../helpers/admin.js';
import { DisposableRedis } from '../helpers/redis-server.js';

/**
 * Pub/sub delivers nothing published while a process's subscription connection is down. A Redis
 * of this test's own lets the test cut every subscription connection (`CLIENT KILL TYPE pubsub`)
 * without disturbing other test files.
 */
describe('messages missed while the subscription connection was down', () => {
  let redis: DisposableRedis;
  let admin: Redis;
  const stores: RedisStore[] = [];
  const open = async () => {
    const store = await createRedisStore({ url: redis.url, keyPrefix: 'missed:' });
    stores.push(store);
    return store;
  };
  const cutSubscriptions = () => admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');

  beforeAll(async () => {
    redis = await DisposableRedis.start();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    admin.disconnect();
    await redis.stop();
  });

  test('the store says so once the connection is back, and not when it first connects', async () => {
    const store = await open();
    let missed = 0;
    store.onMessagesMissed(() => missed++);
    const heard: string[] = [];
    await store.subscribe('news', (message) => heard.push(message));
    expect(missed).toBe(0);

    expect(await cutSubscriptions()).toBeGreaterThanOrEqual(1);
    await eventually(async () => (missed === 1 ? true : undefined));
    // Subscribed again: messages flow as before.
    await store.publish('news', 'after');
    await eventually(async () => (heard.includes('after') ? true : undefined));
  });

  const registryOf = (store: RedisStore) =>
    createUpstreamRegistry({
      issuer: 'http://127.0.0.1:1',
      store,
      logger: pino({ level: 'silent' }),
      configured: () => [],
      env: {},
      // No periodic reload within the tests: only a message or a reconnection can bring a change.
      refreshIntervalMs: 3_600_000,
    });

  test("an upstream added through one process reaches the other by the change's message", async () => {
    const [one, other] = [registryOf(await open()), registryOf(await open())];
    await Promise.all([one.ready(), other.ready()]);
    await one.create({ id: 'announced', kind: 'mcp', url: 'http://127.0.0.1:3/mcp' });
    await eventually(async () => (other.all().some((u) => u.id === 'announced') ? true : undefined));
    await one.remove('announced');
    await eventually(async () => (other.all().length === 0 ? true : undefined));
    await Promise.all([one.close(), other.close()]);
  });

  test('an upstream added while a process could not hear about it is served once it reconnects', async () => {
    const listening = await open();
    const writer = await open();
    const registry = registryOf(listening);
    await registry.ready();
    // What another process wrote while its announcement could not reach this one.
    const record = { document: { id: 'late', kind: 'mcp', url: 'http://127.0.0.1:2/mcp' }, createdAt: 0 };
    await writer.set(storeKey('upstreams', 'admin'), JSON.stringify([record]));
    expect(registry.all()).toEqual([]);

    await cutSubscriptions();
    await eventually(async () => (registry.all().some((u) => u.id === 'late') ? true : undefined));
    expect(registry.source('late')).toBe('admin');
    // Frozen like the config file's upstreams: nothing a request does can change it for the next.
    const late = registry.all().find((u) => u.id === 'late')!;
    expect(() => Object.assign(late.tools, { pinning: 'off' })).toThrow(TypeError);
    await registry.close();
  });
});
