import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { Lock, Store, StreamEntry } from './store.js';

interface Entry {
  value: string;
  expiresAt: number | null;
}

/**
 * In-process {@link Store}. The default when no Redis is configured: state is lost on
 * restart and is not shared, so it serves exactly one portal process.
 */
export class MemoryStore implements Store {
  readonly #values = new Map<string, Entry>();
  readonly #sets = new Map<string, Set<string>>();
  // A capped stream drops its oldest entries by moving `first` and compacts now and then: dropping
  // them from the front of a large array on every append costs a copy of the whole array.
  readonly #streams = new Map<string, { lastId: string; entries: StreamEntry[]; first: number }>();
  readonly #bus = new EventEmitter().setMaxListeners(0);
  readonly #sweeper: NodeJS.Timeout;
  readonly #clock: Clock;
  #closed = false;

  /** `clock` decides when entries expire (default the real time). */
  constructor(options: { sweepIntervalMs?: number; clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 60_000).unref();
  }

  async get(key: string): Promise<string | null> {
    return this.#live(key)?.value ?? null;
  }

  async getAndExtend(key: string, ttlMs: number): Promise<string | null> {
    const entry = this.#live(key);
    if (!entry) return null;
    entry.expiresAt = this.#expiry(ttlMs);
    return entry.value;
  }

  async set(key: string, value: string, options?: { ttlMs?: number }): Promise<void> {
    this.#values.set(key, { value, expiresAt: this.#expiry(options?.ttlMs) });
  }

  async setIfAbsent(key: string, value: string, options?: { ttlMs?: number }): Promise<boolean> {
    if (this.#live(key)) return false;
    await this.set(key, value, options);
    return true;
  }

  async take(key: string): Promise<string | null> {
    const entry = this.#live(key);
    this.#values.delete(key);
    return entry?.value ?? null;
  }

  async delete(key: string): Promise<boolean> {
    const existed = this.#live(key) !== undefined || this.#sets.has(key) || this.#streams.has(key);
    this.#values.delete(key);
    this.#sets.delete(key);
    this.#streams.delete(key);
    return existed;
  }

  async compareAndSet(key: string, expected: string | null, next: string, options?: { ttlMs?: number }): Promise<boolean> {
    const current = this.#live(key)?.value ?? null;
    if (current !== expected) return false;
    await this.set(key, next, options);
    return true;
  }

  async getMany(keys: string[]): Promise<Array<string | null>> {
    return keys.map((key) => this.#live(key)?.value ?? null);
  }

  async writeIfUnchanged(
    expected: Array<{ key: string; value: string | null }>,
    writes: Array<{ key: string; value: string; ttlMs?: number }>,
  ): Promise<boolean> {
    if (expected.some(({ key, value }) => (this.#live(key)?.value ?? null) !== value)) return false;
    for (const { key, value, ttlMs } of writes) this.#values.set(key, { value, expiresAt: this.#expiry(ttlMs) });
    return true;
  }

  async acquireLock(key: string, ttlMs: number): Promise<Lock | null> {
    const token = randomUUID();
    if (!(await this.setIfAbsent(key, token, { ttlMs }))) return null;
    return {
      release: async () => {
        if (this.#live(key)?.value !== token) return false;
        this.#values.delete(key);
        return true;
      },
    };
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const entry = this.#live(key);
    const count = (entry ? Number(entry.value) : 0) + 1;
    this.#values.set(key, { value: String(count), expiresAt: entry ? entry.expiresAt : this.#expiry(ttlMs) });
    return count;
  }

  async ttl(key: string): Promise<number | null> {
    const entry = this.#live(key);
    if (!entry || entry.expiresAt === null) return null;
    return Math.max(0, entry.expiresAt - this.#clock.now());
  }

  async addToSet(key: string, member: string): Promise<void> {
    let set = this.#sets.get(key);
    if (!set) this.#sets.set(key, (set = new Set()));
    set.add(member);
  }

  async removeFromSet(key: string, member: string): Promise<void> {
    const set = this.#sets.get(key);
    set?.delete(member);
    if (set?.size === 0) this.#sets.delete(key);
  }

  async setMembers(key: string): Promise<string[]> {
    return [...(this.#sets.get(key) ?? [])];
  }

  async publish(channel: string, message: string): Promise<void> {
    // Delivered asynchronously, as Redis delivers it: never inside the publisher's call stack.
    setImmediate(() => this.#bus.emit(channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    this.#bus.on(channel, onMessage);
    return async () => {
      this.#bus.off(channel, onMessage);
    };
  }

  /** One process's memory never loses a message. */
  onMessagesMissed(_listener: () => void): () => void {
    return () => {};
  }

  async append(stream: string, entry: string, options: { maxLength: number }): Promise<string> {
    let log = this.#streams.get(stream);
    if (!log) this.#streams.set(stream, (log = { lastId: '0-0', entries: [], first: 0 }));
    const id = nextStreamId(log.lastId);
    log.lastId = id;
    log.entries.push({ id, entry });
    log.first = Math.max(log.first, log.entries.length - options.maxLength);
    if (log.first >= 1024 && log.first * 2 >= log.entries.length) {
      log.entries = log.entries.slice(log.first);
      log.first = 0;
    }
    return id;
  }

  async readStream(stream: string, options: { afterId?: string; count?: number } = {}): Promise<StreamEntry[]> {
    const log = this.#streams.get(stream);
    if (!log) return [];
    const { entries, first } = log;
    const after = options.afterId;
    let start = first;
    if (after !== undefined) while (start < entries.length && compareStreamIds(entries[start]!.id, after) <= 0) start += 1;
    return entries.slice(start, options.count === undefined ? undefined : start + options.count);
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new Error('memory store is closed');
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#bus.removeAllListeners();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#values.get(key);
    if (entry && entry.expiresAt !== null && entry.expiresAt <= this.#clock.now()) {
      this.#values.delete(key);
      return undefined;
    }
    return entry;
  }

  #sweep(): void {
    for (const key of this.#values.keys()) this.#live(key);
  }

  #expiry(ttlMs: number | undefined): number | null {
    return ttlMs === undefined ? null : this.#clock.now() + ttlMs;
  }
}

/** Stream ids as Redis makes them: `<milliseconds>-<sequence>`, strictly increasing. */
function nextStreamId(lastId: string): string {
  const [lastMs = 0, lastSeq = 0] = lastId.split('-').map(Number);
  const now = Date.now();
  return now > lastMs ? `${now}-0` : `${lastMs}-${lastSeq + 1}`;
}

function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}
