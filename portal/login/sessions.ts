import type { Request, Response } from 'express';
import { systemClock, type Clock } from '../clock.js';
import { constantTimeEqual, hmac, randomToken } from '../crypto/hash.js';
import { deriveKey } from '../crypto/seal.js';
import { clearCookie, readCookie, writeCookie } from '../http/cookies.js';
import { portalCookieName } from '../http/portal-cookies.js';
import { setJson, storeKey, type Store } from '../store/store.js';
import type { Person } from './person.js';

/** A person's browser session, kept in the Store so any portal process can read it. */
export interface Session {
  id: string;
  person: Person;
  createdAt: number;
  /** A cap shorter than `session_max` (ms since the epoch): an IdP sign-in lasts no longer than its claims are trusted. */
  endsAt?: number;
}

export interface SessionManager {
  /** The session cookie's name: `__Host-gatehouse` under https (RFC 6265bis §4.1.3.2), else `gatehouse_session`. */
  readonly cookieName: string;
  /** Starts a session; `maxAgeMs` caps it below the absolute timeout. */
  create(res: Response, person: Person, options?: { maxAgeMs?: number }): Promise<Session>;
  /** The request's live session, or `undefined` (no cookie, bad signature, idle or too old). */
  read(req: Request): Promise<Session | undefined>;
  destroy(req: Request, res: Response): Promise<void>;
}

export interface SessionOptions {
  store: Store;
  secret: string;
  secure: boolean;
  /** A session unused this long ends. */
  idleTimeoutMs: number;
  /** A session ends this long after sign-in, used or not. */
  absoluteTimeoutMs: number;
  /** When a session ends (default the real time). */
  clock?: Clock;
}

export function createSessionManager(options: SessionOptions): SessionManager {
  const { store, secure } = options;
  const clock = options.clock ?? systemClock;
  const key = deriveKey(options.secret, 'session-cookie');
  const cookieName = portalCookieName('session', secure);
  const recordKey = (id: string) => storeKey('session', id);
  const sign = (id: string) => `${id}.${hmac(key, id)}`;

  function verifiedId(req: Request): string | undefined {
    const value = readCookie(req, cookieName);
    const dot = value?.lastIndexOf('.') ?? -1;
    if (!value || dot <= 0) return undefined;
    const id = value.slice(0, dot);
    return constantTimeEqual(value, sign(id)) ? id : undefined;
  }

  return {
    cookieName,
    async create(res, person, createOptions = {}) {
      const now = clock.now();
      const maxAgeMs = Math.min(options.absoluteTimeoutMs, createOptions.maxAgeMs ?? Infinity);
      const session: Session = {
        id: randomToken(),
        person,
        createdAt: now,
        ...(maxAgeMs < options.absoluteTimeoutMs ? { endsAt: now + maxAgeMs } : {}),
      };
      await setJson(store, recordKey(session.id), session, { ttlMs: Math.min(options.idleTimeoutMs, maxAgeMs) });
      writeCookie(res, cookieName, sign(session.id), { secure, maxAgeMs });
      return session;
    },
    async read(req) {
      const id = verifiedId(req);
      if (!id) return undefined;
      // Sliding idle expiry: reading moves the record's expiry, in the same round trip.
      const raw = await store.getAndExtend(recordKey(id), options.idleTimeoutMs);
      const session = raw === null ? undefined : (JSON.parse(raw) as Session);
      const now = clock.now();
      if (!session || now - session.createdAt > options.absoluteTimeoutMs || (session.endsAt !== undefined && now > session.endsAt))
        return undefined;
      return session;
    },
    async destroy(req, res) {
      const id = verifiedId(req);
      if (id) await store.delete(recordKey(id));
      clearCookie(res, cookieName, { secure });
    },
  };
}
