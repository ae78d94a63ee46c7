import { randomInt } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { randomToken, sha256 } from '../crypto/hash.js';
import type { Person } from '../login/person.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';

/**
 * RFC 8628 §6.1: eight characters of a base-20 alphabet without vowels (no words) or look-alikes,
 * about 34.5 bits, shown as `BCDF-GHJK`. Entry is case-insensitive and ignores anything else typed.
 */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;

/** The person's answer on the consent page, which the polling device turns into tokens. */
export interface DeviceApproval {
  person: Person;
  upstreamIds: string[];
  longLived: boolean;
}

/** A device authorization (RFC 8628 §3.1-3.2) from its request until tokens are issued or it expires. */
export interface DeviceAuthorization {
  clientId: string;
  scope: string[];
  resource: string;
  /** SHA-256 of the normalized user code: the key that finds this record from the `/device` page. */
  userCodeHash: string;
  /** Milliseconds since the epoch after which the device code answers `expired_token`. */
  expiresAt: number;
  /** The polling interval (RFC 8628 §3.2 `interval`), raised by 5 s at every `slow_down` (§3.5). */
  intervalMs: number;
  lastPolledAt?: number;
  status: 'pending' | 'approved' | 'denied' | 'issued';
  /** The person who entered the user code: only they may approve or deny it. */
  personId?: string;
  approval?: DeviceApproval;
}

/** What a poll of the token endpoint finds (RFC 8628 §3.5). */
export type DevicePoll =
  | { status: 'unknown' }
  | { status: 'expired' | 'slow_down' | 'pending' | 'denied' | 'issued'; record: DeviceAuthorization }
  | { status: 'approved'; record: DeviceAuthorization; approval: DeviceApproval };

/** Device authorizations in the Store: device and user codes are kept only as hashes. */
export interface DeviceAuthorizations {
  /** Starts one; resolves the device code and the user code, which exist nowhere else. */
  create(
    fields: Pick<DeviceAuthorization, 'clientId' | 'scope' | 'resource'>,
  ): Promise<{ deviceCode: string; userCode: string; record: DeviceAuthorization }>;
  /** The pending, unexpired authorization a typed user code names, with its id. */
  findByUserCode(userCode: string): Promise<{ id: string; record: DeviceAuthorization } | undefined>;
  find(id: string): Promise<DeviceAuthorization | undefined>;
  /** Binds it to the person who entered its user code, once: `false` when it belongs to someone else (or is no longer pending). */
  bind(id: string, personId: string): Promise<boolean>;
  /** Records the bound person's decision (once) and retires the user code. `false` when it was not pending for them. */
  decide(id: string, personId: string, approval: DeviceApproval | 'denied'): Promise<boolean>;
  /** A poll by `clientId` (RFC 8628 §3.4): counts against the interval, and hands an approval out once. */
  poll(deviceCode: string, clientId: string): Promise<DevicePoll | { status: 'other_client' }>;
}

/** Upper-case letters of the alphabet only: `bcdf-ghjk`, `BCDF GHJK` and `BCDFGHJK` are one code. */
export function normalizeUserCode(typed: string): string {
  return typed.toUpperCase().replace(/[^A-Z]/g, '');
}

/** A new user code, drawn uniformly (RFC 8628 §6.1), formatted `XXXX-XXXX` for reading aloud. */
function newUserCode(): string {
  const chars = Array.from({ length: USER_CODE_LENGTH }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4).join('')}`;
}

export function createDeviceAuthorizations(options: {
  store: Store;
  ttlMs: number;
  intervalMs: number;
  /** How long an expired or spent authorization is remembered, so that it answers `expired_token` or `invalid_grant` rather than nothing. */
  retainMs?: number;
  /** When an authorization expires and when it was last polled (default the real time). */
  clock?: Clock;
}): DeviceAuthorizations {
  const { store, ttlMs, intervalMs } = options;
  const clock = options.clock ?? systemClock;
  const retainMs = options.retainMs ?? 10 * 60_000;
  const key = (id: string) => storeKey('device', id);
  const userKey = (userCodeHash: string) => storeKey('device-user', userCodeHash);

  /** Applies `change` atomically (compare-and-set, retried on a concurrent write); `undefined` from it changes nothing. */
  async function update<T>(
    id: string,
    change: (record: DeviceAuthorization) => { next?: DeviceAuthorization; result: T },
    missing: T,
  ): Promise<T> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await store.get(key(id));
      if (raw === null) return missing;
      const { next, result } = change(JSON.parse(raw) as DeviceAuthorization);
      if (!next) return result;
      const ttl = (await store.ttl(key(id))) ?? ttlMs + retainMs;
      if (await store.compareAndSet(key(id), raw, JSON.stringify(next), { ttlMs: Math.max(1, ttl) })) return result;
    }
    throw new Error('device authorization kept changing under concurrent writes');
  }

  return {
    async create(fields) {
      const deviceCode = randomToken();
      const id = sha256(deviceCode);
      for (;;) {
        const userCode = newUserCode();
        const userCodeHash = sha256(normalizeUserCode(userCode));
        // A user code names one live authorization: draw again on the (rare) collision.
        if (!(await store.setIfAbsent(userKey(userCodeHash), id, { ttlMs }))) continue;
        const record: DeviceAuthorization = { ...fields, userCodeHash, expiresAt: clock.now() + ttlMs, intervalMs, status: 'pending' };
        await setJson(store, key(id), record, { ttlMs: ttlMs + retainMs });
        return { deviceCode, userCode, record };
      }
    },
    async findByUserCode(userCode) {
      const normalized = normalizeUserCode(userCode);
      if (normalized.length !== USER_CODE_LENGTH) return undefined;
      const id = await store.get(userKey(sha256(normalized)));
      const record = id ? await getJson<DeviceAuthorization>(store, key(id)) : null;
      if (!id || !record || record.status !== 'pending' || record.expiresAt <= clock.now()) return undefined;
      return { id, record };
    },
    async find(id) {
      return (await getJson<DeviceAuthorization>(store, key(id))) ?? undefined;
    },
    bind(id, personId) {
      return update(
        id,
        (record) => {
          if (record.status !== 'pending' || record.expiresAt <= clock.now()) return { result: false };
          if (record.personId) return { result: record.personId === personId };
          return { next: { ...record, personId }, result: true };
        },
        false,
      );
    },
    async decide(id, personId, approval) {
      const decided = await update(
        id,
        (record) => {
          if (record.status !== 'pending' || record.personId !== personId || record.expiresAt <= clock.now()) return { result: undefined };
          const next: DeviceAuthorization =
            approval === 'denied' ? { ...record, status: 'denied' } : { ...record, status: 'approved', approval };
          return { next, result: record };
        },
        undefined,
      );
      if (!decided) return false;
      await store.delete(userKey(decided.userCodeHash));
      return true;
    },
    async poll(deviceCode, clientId) {
      if (!/^[A-Za-z0-9_-]{20,100}$/.test(deviceCode)) return { status: 'unknown' };
      return update<DevicePoll | { status: 'other_client' }>(
        sha256(deviceCode),
        (record) => {
          const now = clock.now();
          if (record.clientId !== clientId) return { result: { status: 'other_client' } };
          if (record.status === 'issued') return { result: { status: 'issued', record } };
          if (record.expiresAt <= now) return { result: { status: 'expired', record } };
          const polled = { ...record, lastPolledAt: now };
          if (record.lastPolledAt !== undefined && now - record.lastPolledAt < record.intervalMs) {
            const slower = { ...polled, intervalMs: record.intervalMs + 5_000 };
            return { next: slower, result: { status: 'slow_down', record: slower } };
          }
          const approval = record.status === 'approved' ? record.approval : undefined;
          if (approval) {
            // The approval (who the person is) leaves the Store with the tokens; the spent record stays to refuse a reuse.
            return { next: { ...polled, status: 'issued', approval: undefined }, result: { status: 'approved', record: polled, approval } };
          }
          return { next: polled, result: { status: record.status === 'denied' ? 'denied' : 'pending', record: polled } };
        },
        { status: 'unknown' },
      );
    },
  };
}
