import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { createSealer } from '../crypto/seal.js';
import { systemClock, type Clock } from '../clock.js';
import type { Store } from '../store/store.js';

/** The algorithm of every token the portal signs (DESIGN.md: ES256). */
export const SIGNING_ALG = 'ES256';

interface StoredKey {
  kid: string;
  createdAt: number;
  publicJwk: JWK;
  /** The private JWK, sealed with the root secret. */
  sealedPrivateJwk: string;
}

interface LoadedKey {
  kid: string;
  createdAt: number;
  publicJwk: JWK;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** The portal's signing keys: kept in the Store (shared by every process), rotated with overlap. */
export interface SigningKeys {
  /** The key to sign with now. */
  current(): Promise<{ kid: string; privateKey: CryptoKey }>;
  /** The key with this `kid`, for verification; `undefined` when unknown or retired. */
  find(kid: string): Promise<CryptoKey | undefined>;
  /** Every key still valid for verification, as a JWKS (RFC 7517 §5). */
  jwks(): Promise<{ keys: JWK[] }>;
}

export interface SigningKeysOptions {
  store: Store;
  secret: string;
  /** A new key signs after this long. */
  rotateAfterMs: number;
  /** How long a retired key stays published: at least the longest lifetime of what it signed. */
  retainAfterRotationMs: number;
  /** How long a process trusts its cached copy of the key set. */
  cacheMs?: number;
  /** When keys are due for rotation and retirement (default the real time). */
  clock?: Clock;
}

const KEYSET = 'signing-keys:{portal}';

export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  const { store } = options;
  const sealer = createSealer(options.secret, 'signing-keys');
  const cacheMs = options.cacheMs ?? 30_000;
  const clock = options.clock ?? systemClock;
  let cached: { keys: LoadedKey[]; loadedAt: number } | undefined;
  let loading: Promise<LoadedKey[]> | undefined;

  async function load(force = false): Promise<LoadedKey[]> {
    if (!force && cached && clock.now() - cached.loadedAt < cacheMs && !needsRotation(cached.keys)) return cached.keys;
    loading ??= refresh().finally(() => (loading = undefined));
    return loading;
  }

  function needsRotation(keys: LoadedKey[]): boolean {
    return keys.length === 0 || clock.now() - keys[0]!.createdAt >= options.rotateAfterMs;
  }

  async function refresh(): Promise<LoadedKey[]> {
    for (;;) {
      const raw = await store.get(KEYSET);
      const stored: StoredKey[] = raw ? JSON.parse(raw) : [];
      const newest = stored[0];
      if (newest && clock.now() - newest.createdAt < options.rotateAfterMs) {
        const keys = await Promise.all(stored.map(open));
        cached = { keys, loadedAt: clock.now() };
        return keys;
      }
      // Rotate: prepend a new key, drop keys retired longer than anything they signed can live.
      const fresh = await generate();
      const kept = stored.filter((_key, i) => {
        const retiredAt = i === 0 ? clock.now() : stored[i - 1]!.createdAt;
        return clock.now() - retiredAt < options.retainAfterRotationMs;
      });
      // Compare-and-set: of several processes rotating at once, one wins and the others re-read.
      await store.compareAndSet(KEYSET, raw, JSON.stringify([fresh, ...kept]));
    }
  }

  async function generate(): Promise<StoredKey> {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    return {
      kid,
      createdAt: clock.now(),
      publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
      sealedPrivateJwk: sealer.seal(JSON.stringify(privateJwk), kid),
    };
  }

  async function open(key: StoredKey): Promise<LoadedKey> {
    const privateJwk = JSON.parse(sealer.open(key.sealedPrivateJwk, key.kid)) as JWK;
    return {
      kid: key.kid,
      createdAt: key.createdAt,
      publicJwk: key.publicJwk,
      privateKey: (await importJWK(privateJwk, SIGNING_ALG)) as CryptoKey,
      publicKey: (await importJWK(key.publicJwk, SIGNING_ALG)) as CryptoKey,
    };
  }

  return {
    async current() {
      const [newest] = await load();
      return { kid: newest!.kid, privateKey: newest!.privateKey };
    },
    async find(kid) {
      const known = (await load()).find((key) => key.kid === kid);
      if (known) return known.publicKey;
      // Another process may have rotated since this one cached the set.
      if (cached && clock.now() - cached.loadedAt < 1_000) return undefined;
      return (await load(true)).find((key) => key.kid === kid)?.publicKey;
    },
    async jwks() {
      return { keys: (await load()).map((key) => key.publicJwk) };
    },
  };
}
