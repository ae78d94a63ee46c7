import type { Request, Response } from 'express';
import { constantTimeEqual, hmac, randomToken } from '../crypto/hash.js';
import { deriveKey } from '../crypto/seal.js';
import { clearCookie, readCookie, writeCookie } from '../http/cookies.js';
import { getJson, setJson, storeKey, type Store } from '../store/store.js';
import type { Person } from './person.js';

/** A person's browser session, kept in the Store so any portal process can read it. */
export interface Session {
  id: string;
  person: Person;
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionManager {
  /** The session cookie's name: `__Host-gatehouse` under https (RFC 6265bis §4.1.3.2), else `gatehouse_session`. */
  readonly cookieName: string;
  create(res: Response, person: Person): Promise<Session>;
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
}

export function createSessionManager(options: SessionOptions): SessionManager {
  const { store, secure } = options;
  const key = deriveKey(options.secret, 'session-cookie');
  const cookieName = secure ? '__Host-gatehouse' : 'gatehouse_session';
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
    async create(res, person) {
      const now = Date.now();
      const session: Session = { id: randomToken(), person, createdAt: now, lastSeenAt: now };
      await setJson(store, recordKey(session.id), session, { ttlMs: options.idleTimeoutMs });
      writeCookie(res, cookieName, sign(session.id), { secure, maxAgeMs: options.absoluteTimeoutMs });
      return session;
    },
    async read(req) {
      const id = verifiedId(req);
      if (!id) return undefined;
      const session = await getJson<Session>(store, recordKey(id));
      const now = Date.now();
      if (!session || now - session.createdAt > options.absoluteTimeoutMs) return undefined;
      // Sliding idle expiry, written at most once a minute to keep reads cheap.
      if (now - session.lastSeenAt > 60_000) {
        session.lastSeenAt = now;
        await setJson(store, recordKey(id), session, { ttlMs: options.idleTimeoutMs });
      }
      return session;
    },
    async destroy(req, res) {
      const id = verifiedId(req);
      if (id) await store.delete(recordKey(id));
      clearCookie(res, cookieName, { secure });
    },
  };
}
