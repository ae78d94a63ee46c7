/**
 * The one interface every piece of portal state goes through (DESIGN.md, "State").
 *
 * Keys are plain strings chosen by the caller, built with {@link storeKey} so that each
 * names its kind and carries a Redis Cluster hash tag. Every operation here touches one key,
 * except {@link Store.getMany} and {@link Store.writeIfUnchanged}, whose keys must share one hash
 * tag: so one operation always lands in one cluster slot. Values are strings; use
 * {@link getJson}/{@link setJson} for structured values.
 */
export interface Store {
  /** The value, or `null` when absent or expired. */
  get(key: string): Promise<string | null>;
  /** The value, and (when present) its expiry moved to `ttlMs` from now: a sliding expiry in one round trip. */
  getAndExtend(key: string, ttlMs: number): Promise<string | null>;
  /** Sets the value; with `ttlMs` it expires after that many milliseconds. */
  set(key: string, value: string, options?: { ttlMs?: number }): Promise<void>;
  /** Sets the value only when the key is absent. Resolves `true` when this call set it. */
  setIfAbsent(key: string, value: string, options?: { ttlMs?: number }): Promise<boolean>;
  /** Atomically reads and deletes (take-once): of many concurrent callers exactly one gets the value. */
  take(key: string): Promise<string | null>;
  /** Deletes the key. Resolves `true` when it existed. */
  delete(key: string): Promise<boolean>;
  /**
   * Replaces the value only when it currently equals `expected` (`null`: when absent).
   * Resolves `true` when this call replaced it.
   */
  compareAndSet(key: string, expected: string | null, next: string, options?: { ttlMs?: number }): Promise<boolean>;
  /**
   * Several values in one round trip (`null` for each absent or expired key), in the order of
   * `keys`. The keys must share one hash tag.
   */
  getMany(keys: string[]): Promise<Array<string | null>>;
  /**
   * A compare-and-set over several keys: when every key of `expected` currently holds its value
   * (`null`: is absent), makes every write of `writes` in one atomic step and resolves `true`;
   * otherwise writes nothing and resolves `false`. One round trip. All keys must share one hash tag.
   */
  writeIfUnchanged(
    expected: Array<{ key: string; value: string | null }>,
    writes: Array<{ key: string; value: string; ttlMs?: number }>,
  ): Promise<boolean>;
  /**
   * Takes an exclusive lock that expires after `ttlMs` unless released first.
   * Resolves `null` when someone else holds it.
   */
  acquireLock(key: string, ttlMs: number): Promise<Lock | null>;
  /**
   * Increments a counter and returns the new value. The counter's expiry is set when this
   * call creates it (fixed window), so `ttlMs` bounds how long a count lives.
   */
  increment(key: string, ttlMs: number): Promise<number>;
  /** Remaining lifetime in milliseconds; `null` when the key is absent or does not expire. */
  ttl(key: string): Promise<number | null>;
  /** Adds a member to a set (an index such as "a person's grants"). */
  addToSet(key: string, member: string): Promise<void>;
  removeFromSet(key: string, member: string): Promise<void>;
  setMembers(key: string): Promise<string[]>;
  /** Delivers `message` to every subscriber of `channel`, in every portal process. */
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once subscribed; the returned function unsubscribes. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Calls `listener` when messages may have been missed: this process lost its subscription
   * connection and has it back (pub/sub delivers nothing that was published in between). A cache
   * kept fresh by messages reloads or forgets. The returned function stops listening.
   */
  onMessagesMissed(listener: () => void): () => void;
  /** Appends an entry to a capped stream (oldest dropped past `maxLength`); resolves its id. */
  append(stream: string, entry: string, options: { maxLength: number }): Promise<string>;
  /** Reads a stream in order, oldest first, starting after `afterId` when given. */
  readStream(stream: string, options?: { afterId?: string; count?: number }): Promise<StreamEntry[]>;
  /** Rejects when the backing service cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Lock {
  /** Releases the lock if this holder still owns it. Resolves `false` when it had expired. */
  release(): Promise<boolean>;
}

export interface StreamEntry {
  id: string;
  entry: string;
}

/**
 * Builds a key `kind:{id}:part…`. The braces are a Redis Cluster hash tag: every key about
 * one id (a grant and its refresh token index, a person and their grants) shares a slot.
 */
export function storeKey(kind: string, id: string, ...parts: string[]): string {
  return [kind, `{${id}}`, ...parts].join(':');
}

export async function getJson<T>(store: Store, key: string): Promise<T | null> {
  const raw = await store.get(key);
  return raw === null ? null : (JSON.parse(raw) as T);
}

export async function setJson(store: Store, key: string, value: unknown, options?: { ttlMs?: number }): Promise<void> {
  await store.set(key, JSON.stringify(value), options);
}

export async function takeJson<T>(store: Store, key: string): Promise<T | null> {
  const raw = await store.take(key);
  return raw === null ? null : (JSON.parse(raw) as T);
}

/** Raised when the backing service is unreachable; the HTTP layer answers 503 (fail closed). */
export class StoreUnavailableError extends Error {
  readonly code = 'ERR_STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
