import { sha256 } from '../crypto/hash.js';
import { setJson, storeKey, takeJson, type Store } from '../store/store.js';

/**
 * A sign-in started at an identity provider and not yet back: what the callback needs to finish
 * it, and to prove that it is this browser coming back with the answer to this request.
 */
export interface PendingLogin {
  idp: string;
  /** OIDC Core 1.0 §3.1.2.1 `nonce`: the ID token must carry it back. */
  nonce: string;
  /** RFC 7636 §4.1 `code_verifier`. */
  codeVerifier: string;
  /** Where the person goes after signing in (a same-origin path). */
  returnTo: string;
  /** SHA-256 of the browser-binding cookie the sign-in started with. */
  browserHash: string;
  createdAt: number;
}

export interface PendingLogins {
  /** Keeps a pending sign-in under its `state` (RFC 6749 §10.12) for the TTL. */
  save(state: string, login: PendingLogin): Promise<void>;
  /** Takes the pending sign-in for `state`, once: a replayed or forged `state` finds nothing. */
  take(state: string): Promise<PendingLogin | undefined>;
}

/** Pending IdP sign-ins in the Store, take-once, so any portal process can finish what another began. */
export function createPendingLogins(options: { store: Store; ttlMs: number }): PendingLogins {
  // Keyed by the state's hash: a store dump does not hand out states that could still be answered.
  const key = (state: string) => storeKey('idp-login', sha256(state));
  return {
    save: (state, login) => setJson(options.store, key(state), login, { ttlMs: options.ttlMs }),
    async take(state) {
      return (await takeJson<PendingLogin>(options.store, key(state))) ?? undefined;
    },
  };
}
