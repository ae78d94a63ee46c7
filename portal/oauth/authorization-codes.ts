import { randomToken, sha256 } from '../crypto/hash.js';
import type { Person } from '../login/person.js';
import { getJson, setJson, storeKey, takeJson, type Store } from '../store/store.js';

/** What an authorization code stands for, until the client exchanges it. */
export interface CodeRecord {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  person: Person;
  scope: string[];
  resource: string;
  upstreamIds: string[];
  /** The person allowed access while they are away: the grant gets a refresh token. Absent on codes issued before the portal asked. */
  longLived?: boolean;
  /** RFC 9449 §10: the code is exchanged only with a DPoP proof of this key (the request's `dpop_jkt`). */
  dpopJkt?: string;
}

/** One-time authorization codes, stored only as hashes (RFC 6749 §4.1.2; OAuth 2.1 §4.1.3). */
export interface AuthorizationCodes {
  issue(record: CodeRecord): Promise<string>;
  /** The code's record without spending it, so a bad exchange changes nothing. */
  peek(code: string): Promise<CodeRecord | undefined>;
  /** Spends the code (once, across processes) and remembers which grant it produced, for replay detection. */
  redeem(code: string, grantId: string): Promise<CodeRecord | undefined>;
  /** The grant a spent code produced: a replay revokes it (RFC 6749 §4.1.2). */
  grantOfSpent(code: string): Promise<string | undefined>;
}

export function createAuthorizationCodes(options: { store: Store; ttlMs: number }): AuthorizationCodes {
  const { store, ttlMs } = options;
  const live = (code: string) => storeKey('code', sha256(code));
  const spent = (code: string) => storeKey('code', sha256(code), 'spent');
  const wellFormed = (code: string) => /^[A-Za-z0-9_-]{20,100}$/.test(code);
  return {
    async issue(record) {
      const code = randomToken();
      await setJson(store, live(code), record, { ttlMs });
      return code;
    },
    async peek(code) {
      if (!wellFormed(code)) return undefined;
      return (await getJson<CodeRecord>(store, live(code))) ?? undefined;
    },
    async redeem(code, grantId) {
      // The spent mark comes first and is set once: its setter is the one exchange that may take
      // the code, and any other exchange (on any process) that finds the code gone finds the mark.
      // It lasts long enough to catch a replay well after the code itself would have expired.
      if (!(await store.setIfAbsent(spent(code), grantId, { ttlMs: Math.max(ttlMs * 10, 600_000) }))) return undefined;
      return (await takeJson<CodeRecord>(store, live(code))) ?? undefined;
    },
    async grantOfSpent(code) {
      if (!wellFormed(code)) return undefined;
      return (await store.get(spent(code))) ?? undefined;
    },
  };
}
