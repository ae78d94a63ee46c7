import { systemClock, type Clock } from '../clock.js';
import { sha256 } from '../crypto/hash.js';
import { storeKey, type Store } from '../store/store.js';

/** Clock skew tolerated on the time claims of JWTs other parties sign. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * The `jti` of every one-time JWT the portal accepted (ID-JAGs, client assertions), remembered in
 * the shared Store until the JWT expires, so that each is used once across every portal process
 * (RFC 7523 §3 item 7; draft-ietf-oauth-identity-assertion-authz-grant §4.4.1 via RFC 7521 §5.2).
 */
export interface AssertionLedger {
  /** Records `jti` of `issuer`; `false` when it was already used. Atomic across processes. */
  useOnce(issuer: string, jti: string, expiresAtSeconds: number): Promise<boolean>;
}

export function createAssertionLedger(store: Store, clock: Clock = systemClock): AssertionLedger {
  return {
    async useOnce(issuer, jti, expiresAtSeconds) {
      // Kept past the expiry by the skew its verification tolerated: until then it could still pass.
      const ttlMs = Math.max(1_000, (expiresAtSeconds + CLOCK_TOLERANCE_SECONDS) * 1000 - clock.now());
      return store.setIfAbsent(storeKey('jti', sha256(`${issuer}\n${jti}`)), '1', { ttlMs });
    },
  };
}
