import { randomUUID } from 'node:crypto';
import { Cluster, Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Lock, Store, StreamEntry } from './store.js';
import { StoreUnavailableError } from './store.js';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL; with `cluster`, of one node of the cluster (the others are discovered). */
  url: string;
  /** The URL is a Redis Cluster node: keys are spread over the cluster's slots. */
  cluster?: boolean;
  /** Prefix of every key and channel, so that several deployments (or test runs) share one Redis. */
  keyPrefix?: string;
  /** How long start-up keeps trying to reach Redis before giving up. */
  connectTimeoutMs?: number;
  /** A command that gets no answer in this time fails (and so the request fails closed). */
  commandTimeoutMs?: number;
}

const SCRIPTS = {
  // ARGV: hasExpected ('1'|'0'), expected, next, ttlMs ('' for none)
  gatehouseCompareAndSet: `
    local current = redis.call('GET', KEYS[1])
    local matches = (ARGV[1] == '0' and current == false) or (ARGV[1] == '1' and current == ARGV[2])
    if not matches then return 0 end
    if ARGV[4] == '' then redis.call('SET', KEYS[1], ARGV[3]) else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4]) end
    return 1`,
  // KEYS: the expected keys, then the written ones. ARGV: the number of expected keys, then per
  // expected key hasValue ('1'|'0') and value, then per written key value and ttlMs ('' for none).
  gatehouseWriteIfUnchanged: `
    local expectedCount = tonumber(ARGV[1])
    for i = 1, expectedCount do
      local current = redis.call('GET', KEYS[i])
      local hasValue = ARGV[2 * i] == '1'
      if (hasValue and current ~= ARGV[2 * i + 1]) or (not hasValue and current ~= false) then return 0 end
    end
    local first = 2 * expectedCount + 2
    for i = expectedCount + 1, #KEYS do
      local at = first + 2 * (i - expectedCount - 1)
      if ARGV[at + 1] == '' then redis.call('SET', KEYS[i], ARGV[at]) else redis.call('SET', KEYS[i], ARGV[at], 'PX', ARGV[at + 1]) end
    end
    return 1`,
  // Deletes the lock only when it still holds this holder's token.
  gatehouseReleaseLock: `
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0`,
  // The window starts with the first increment: later increments keep its expiry.
  gatehouseIncrement: `
    local count = redis.call('INCR', KEYS[1])
    if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    return count`,
} as const;

type ScriptedRedis = (Redis | Cluster) & {
  gatehouseCompareAndSet(key: string, hasExpected: string, expected: string, next: string, ttlMs: string): Promise<number>;
  gatehouseReleaseLock(key: string, token: string): Promise<number>;
  gatehouseWriteIfUnchanged(keyCount: number, ...keysThenArgs: string[]): Promise<number>;
  gatehouseIncrement(key: string, ttlMs: number): Promise<number>;
};

/** Connects to Redis, retrying for a bounded time, and returns a {@link Store} on it. */
export async function createRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const store = new RedisStore(options);
  const deadline = Date.now() + (options.connectTimeoutMs ?? 5_000);
  for (;;) {
    try {
      await store.ready(Math.max(0, deadline - Date.now()));
      await store.ping();
      await store.checkDatabase(databaseOf(options.url));
      return store;
    } catch (error) {
      const wrong = error instanceof WrongRedisError;
      if (wrong || Date.now() >= deadline) {
        await store.close();
        const url = redactUrl(options.url);
        // Something answered, but not as Redis does (an HTTP server on that port, say).
        const message = wrong
          ? error.message
          : store.answeredNotAsRedis
            ? `${url} is not a Redis server`
            : `cannot reach Redis at ${url}: ${(error as Error).message}`;
        throw new StoreUnavailableError(message, { cause: error });
      }
    }
  }
}

/** The server answers, but is not the Redis the URL describes: waiting longer will not help. */
class WrongRedisError extends Error {}

/** The database number in a `redis://host:port/N` URL, if any. */
function databaseOf(url: string): number | undefined {
  const path = new URL(url).pathname.slice(1);
  return /^\d+$/.test(path) ? Number(path) : undefined;
}

/** {@link Store} on Redis: what lets many portal processes behave as one. */
export class RedisStore implements Store {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  /** Per channel: its handlers, and the SUBSCRIBE they wait for (a failed one is forgotten, so the next call sends it again). */
  readonly #channels = new Map<string, { handlers: Set<(message: string) => void>; subscribed: Promise<unknown> }>();
  #subscriber: Redis | Cluster | undefined;
  readonly #missedListeners = new Set<() => void>();
  #answeredNotAsRedis = false;

  constructor(options: RedisStoreOptions) {
    this.#prefix = options.keyPrefix ?? 'gatehouse:';
    const connection: RedisOptions = {
      keyPrefix: this.#prefix,
      // Fail fast instead of queueing while disconnected: a request must fail closed, not hang.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
      lazyConnect: false,
      // Commands that concurrent requests send in one tick go out in one write: a portal under load
      // makes one system call for many commands instead of one each.
      enableAutoPipelining: true,
    };
    const redis = options.cluster ? openCluster(options.url, connection) : new Redis(options.url, connection);
    redis.on('error', (error: Error) => {
      // Connection errors surface through failing commands (and /readyz); ioredis reconnects. A reply
      // that is not the Redis protocol fails its parser with a ParserError (redis-errors, which
      // ioredis does not export: the class's name is what there is to match).
      if (error.name === 'ParserError') this.#answeredNotAsRedis = true;
    });
    // Every script takes one key, but one that takes a key count first.
    for (const [name, lua] of Object.entries(SCRIPTS))
      redis.defineCommand(name, name === 'gatehouseWriteIfUnchanged' ? { lua } : { numberOfKeys: 1, lua });
    this.#redis = redis as ScriptedRedis;
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    if (this.#redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      let lastError: Error | undefined;
      const onError = (error: Error) => (lastError = error);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.#redis.off('ready', onReady).off('error', onError);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => finish();
      const timer = setTimeout(() => finish(lastError ?? new Error('connection timed out')), timeoutMs);
      this.#redis.on('ready', onReady).on('error', onError);
    });
  }

  get(key: string): Promise<string | null> {
    return this.#run(() => this.#redis.get(key));
  }

  getAndExtend(key: string, ttlMs: number): Promise<string | null> {
    // GETEX (Redis 6.2): read and move the expiry in one command.
    return this.#run(() => this.#redis.getex(key, 'PX', ttlMs));
  }

  async set(key: string, value: string, options?: { ttlMs?: number }): Promise<void> {
    await this.#run(() => (options?.ttlMs === undefined ? this.#redis.set(key, value) : this.#redis.set(key, value, 'PX', options.ttlMs)));
  }

  async setIfAbsent(key: string, value: string, options?: { ttlMs?: number }): Promise<boolean> {
    const reply = await this.#run(() =>
      options?.ttlMs === undefined ? this.#redis.set(key, value, 'NX') : this.#redis.set(key, value, 'PX', options.ttlMs, 'NX'),
    );
    return reply === 'OK';
  }

  take(key: string): Promise<string | null> {
    return this.#run(() => this.#redis.getdel(key));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#run(() => this.#redis.del(key))) > 0;
  }

  async compareAndSet(key: string, expected: string | null, next: string, options?: { ttlMs?: number }): Promise<boolean> {
    const ttl = options?.ttlMs === undefined ? '' : String(options.ttlMs);
    const hasExpected = expected === null ? '0' : '1';
    return (await this.#run(() => this.#redis.gatehouseCompareAndSet(key, hasExpected, expected ?? '', next, ttl))) === 1;
  }

  async getMany(keys: string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    return this.#run(() => this.#redis.mget(...keys));
  }

  async writeIfUnchanged(
    expected: Array<{ key: string; value: string | null }>,
    writes: Array<{ key: string; value: string; ttlMs?: number }>,
  ): Promise<boolean> {
    const keys = [...expected.map((e) => e.key), ...writes.map((w) => w.key)];
    const args = [
      String(expected.length),
      ...expected.flatMap((e) => (e.value === null ? ['0', ''] : ['1', e.value])),
      ...writes.flatMap((w) => [w.value, w.ttlMs === undefined ? '' : String(Math.max(1, Math.ceil(w.ttlMs)))]),
    ];
    return (await this.#run(() => this.#redis.gatehouseWriteIfUnchanged(keys.length, ...keys, ...args))) === 1;
  }

  async acquireLock(key: string, ttlMs: number): Promise<Lock | null> {
    const token = randomUUID();
    if (!(await this.setIfAbsent(key, token, { ttlMs }))) return null;
    return { release: async () => (await this.#run(() => this.#redis.gatehouseReleaseLock(key, token))) === 1 };
  }

  increment(key: string, ttlMs: number): Promise<number> {
    return this.#run(() => this.#redis.gatehouseIncrement(key, ttlMs));
  }

  async ttl(key: string): Promise<number | null> {
    const ms = await this.#run(() => this.#redis.pttl(key));
    return ms < 0 ? null : ms;
  }

  async addToSet(key: string, member: string): Promise<void> {
    await this.#run(() => this.#redis.sadd(key, member));
  }

  async removeFromSet(key: string, member: string): Promise<void> {
    await this.#run(() => this.#redis.srem(key, member));
  }

  setMembers(key: string): Promise<string[]> {
    return this.#run(() => this.#redis.smembers(key));
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#run(() => this.#redis.publish(this.#prefix + channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const subscriber = this.#subscriberConnection();
    const name = this.#prefix + channel;
    let channelState = this.#channels.get(name);
    if (!channelState) {
      channelState = { handlers: new Set<(message: string) => void>(), subscribed: this.#run(() => subscriber.subscribe(name)) };
      this.#channels.set(name, channelState);
    }
    const state = channelState;
    // Joined before waiting: another subscriber of the channel leaving meanwhile must not unsubscribe it.
    state.handlers.add(onMessage);
    const leave = async () => {
      state.handlers.delete(onMessage);
      if (state.handlers.size === 0 && this.#channels.get(name) === state) {
        this.#channels.delete(name);
        await this.#run(() => subscriber.unsubscribe(name));
      }
    };
    try {
      await state.subscribed;
    } catch (error) {
      // A failed SUBSCRIBE is forgotten, so the next call sends it again.
      state.handlers.delete(onMessage);
      if (state.handlers.size === 0 && this.#channels.get(name) === state) this.#channels.delete(name);
      throw error;
    }
    return leave;
  }

  onMessagesMissed(listener: () => void): () => void {
    this.#missedListeners.add(listener);
    return () => this.#missedListeners.delete(listener);
  }

  async append(stream: string, entry: string, options: { maxLength: number }): Promise<string> {
    const id = await this.#run(() => this.#redis.xadd(stream, 'MAXLEN', options.maxLength, '*', 'e', entry));
    return id as string;
  }

  async readStream(stream: string, options: { afterId?: string; count?: number } = {}): Promise<StreamEntry[]> {
    const start = options.afterId === undefined ? '-' : `(${options.afterId}`;
    const rows = await this.#run(() =>
      options.count === undefined ? this.#redis.xrange(stream, start, '+') : this.#redis.xrange(stream, start, '+', 'COUNT', options.count),
    );
    return rows.map(([id, fields]) => ({ id, entry: fields[1] ?? '' }));
  }

  /**
   * Selects `db` once more and fails when the server has no such database: ioredis reports a failed
   * `SELECT` only as an event and goes on in database 0, where the portal would write unnoticed.
   */
  async checkDatabase(db: number | undefined): Promise<void> {
    const redis = this.#redis;
    if (db === undefined || db === 0 || redis instanceof Cluster) return;
    try {
      await redis.select(db);
    } catch (error) {
      throw new WrongRedisError(`Redis has no database ${db} (REDIS_URL names it; ${(error as Error).message})`);
    }
  }

  /** Whether the server answered something that is not the Redis protocol (ioredis says so only as an event). */
  get answeredNotAsRedis(): boolean {
    return this.#answeredNotAsRedis;
  }

  async ping(): Promise<void> {
    const redis = this.#redis;
    await this.#run<unknown>(() => (redis instanceof Cluster ? pingEveryMaster(redis) : redis.ping()));
  }

  async close(): Promise<void> {
    this.#subscriber?.disconnect();
    this.#redis.disconnect();
  }

  #subscriberConnection(): Redis | Cluster {
    if (this.#subscriber) return this.#subscriber;
    // A subscribed connection can run nothing else; it also needs the offline queue so that
    // subscriptions are re-established after a reconnect. (In a cluster, PUBLISH reaches every node.)
    const override = { enableOfflineQueue: true, keyPrefix: '' };
    const subscriber = this.#redis instanceof Cluster ? this.#redis.duplicate([], override) : this.#redis.duplicate(override);
    subscriber.on('error', () => {});
    // Every 'ready' after the first is a reconnection: ioredis subscribes again, but what was
    // published while the connection was down is gone.
    let connectedBefore = false;
    subscriber.on('ready', () => {
      if (connectedBefore) for (const listener of this.#missedListeners) listener();
      connectedBefore = true;
    });
    subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.#channels.get(channel)?.handlers ?? []) handler(message);
    });
    this.#subscriber = subscriber;
    return subscriber;
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (error instanceof ReplyError) throw error;
      throw new StoreUnavailableError(`store unavailable: ${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * A Redis Cluster client from one node's URL: its credentials and TLS apply to every node, the
 * cluster's own slot map says where each key lives. Every operation of the store touches one
 * key, or keys of one hash tag, so none spans slots.
 */
function openCluster(url: string, connection: RedisOptions): Cluster {
  const node = new URL(url);
  // The cluster queues, retries and prefixes; its node connections take the rest.
  const { keyPrefix, enableOfflineQueue, retryStrategy, lazyConnect: _lazy, ...perNode } = connection;
  return new Cluster([{ host: node.hostname.replace(/^\[|\]$/g, ''), port: Number(node.port || 6379) }], {
    keyPrefix,
    enableOfflineQueue,
    clusterRetryStrategy: retryStrategy,
    redisOptions: {
      ...perNode,
      username: node.username ? decodeURIComponent(node.username) : undefined,
      password: node.password ? decodeURIComponent(node.password) : undefined,
      tls: node.protocol === 'rediss:' ? {} : undefined,
    },
  });
}

/**
 * A cluster is reachable when the master of every slot answers: any of them may hold the next
 * request's key. (At start-up this also opens the connections to them, so that the first
 * commands do not race their setup.)
 */
async function pingEveryMaster(cluster: Cluster): Promise<void> {
  const connected = new Map(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const owners = new Set<string>();
  for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (!owner) throw new Error(`slot ${slot} has no master`);
    owners.add(owner);
  }
  await Promise.all(
    [...owners].map((owner) => {
      const node = connected.get(owner);
      if (!node) throw new Error(`the master ${owner} is not connected`);
      return node.ping();
    }),
  );
}

const CLUSTER_SLOTS = 16_384;

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
