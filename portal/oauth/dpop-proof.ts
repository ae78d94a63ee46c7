import type { IncomingMessage } from 'node:http';
import { EmbeddedJWK, calculateJwkThumbprint, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import { systemClock, type Clock } from '../clock.js';
import { auditRequest } from '../audit/request-audit.js';
import { sha256 } from '../crypto/hash.js';
import { OAuthError } from '../http/errors.js';
import { storeKey, type Store } from '../store/store.js';

/**
 * The JWS algorithms a DPoP proof may be signed with: asymmetric only (RFC 9449 §4.3 step 5),
 * advertised as `dpop_signing_alg_values_supported` (§5.1, RFC 9728 §2) and in `algs` (§7.1).
 */
export const DPOP_SIGNING_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];

/** How old a proof's `iat` may be (RFC 9449 §11.1): proofs are made just before the request. */
const DPOP_MAX_AGE_MS = 60_000;
/** How far in the future a proof's `iat` may be: room for a client clock slightly ahead, no more. */
const DPOP_MAX_FUTURE_MS = 5_000;
/** A `jti` is remembered for as long as a proof carrying it could still pass the `iat` check. */
const JTI_MEMORY_MS = DPOP_MAX_AGE_MS + DPOP_MAX_FUTURE_MS + 1_000;
/** Far above any real proof (an RSA-4096 key in the header is under 2 KB). */
const MAX_PROOF_LENGTH = 8_192;
const MAX_JTI_LENGTH = 256;
/** Proof keys this process has imported; a bound on memory, not on correctness. */
const KEY_CACHE_SIZE = 10_000;

type ProofKey = Awaited<ReturnType<typeof EmbeddedJWK>>;

/** A DPoP proof that passed every check of RFC 9449 §4.3. */
export interface DpopProof {
  /** The JWK SHA-256 thumbprint (RFC 7638) of the proof's key: what tokens are bound to (`cnf.jkt`, §6.1). */
  jkt: string;
}

/** What a proof must be for: the request's public URL without query (`htu`) and, at a resource, the access token (`ath`). */
export interface DpopExpectation {
  htu: string;
  accessToken?: string;
  /** The client presenting it, for the audit of a refusal. */
  clientId?: string;
}

/** Checks DPoP proofs (RFC 9449 §4.3); a proof's `jti` is accepted once across every portal process. */
export interface DpopProofs {
  /**
   * Checks the request's `DPoP` header: exactly one, a `dpop+jwt` signed with an asymmetric
   * algorithm by the public `jwk` it embeds, `htm` the request's method, `htu` the expected URL
   * (both normalised), `iat` recent, `ath` the token's hash when a token is presented, and a `jti`
   * not seen before (remembered through the Store).
   * A refusal is audited (`dpop_refused`).
   * @throws {OAuthError} `invalid_dpop_proof` (400; a resource answers it as 401 with its challenge).
   */
  check(req: IncomingMessage, expected: DpopExpectation): Promise<DpopProof>;
}

/** `clock` judges a proof's `iat` (default the real time). */
export function createDpopProofs(options: { store: Store; clock?: Clock }): DpopProofs {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  // An agent signs every proof with one key: it is imported (and its thumbprint computed) once
  // per process, by jose's EmbeddedJWK with all its checks; every proof's signature is verified.
  const keys = new Map<string, { key: ProofKey; jkt: string }>();

  async function checkProof(req: IncomingMessage, expected: DpopExpectation): Promise<DpopProof> {
    const proof = singleProof(req);
    const { payload, jkt } = await verifySignature(proof, keys);
    const { jti, htm, htu, iat, ath } = payload as { jti?: unknown; htm?: unknown; htu?: unknown; iat?: unknown; ath?: unknown };
    if (typeof jti !== 'string' || !jti || jti.length > MAX_JTI_LENGTH) throw invalid('the DPoP proof needs a jti');
    if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number')
      throw invalid('the DPoP proof needs htm, htu and iat');
    if (htm !== req.method) throw invalid('the DPoP proof is for another HTTP method');
    if (!sameTargetUri(htu, expected.htu)) throw invalid('the DPoP proof is for another URL');
    const ageMs = clock.now() - iat * 1000;
    if (ageMs > DPOP_MAX_AGE_MS) throw invalid('the DPoP proof is too old');
    if (-ageMs > DPOP_MAX_FUTURE_MS) throw invalid('the DPoP proof is issued in the future');
    if (expected.accessToken !== undefined) {
      if (typeof ath !== 'string') throw invalid('the DPoP proof needs ath, the hash of the access token');
      if (ath !== sha256(expected.accessToken)) throw invalid('the DPoP proof is for another access token');
    }
    // Per key, so that one client's proofs cannot collide with another's (RFC 9449 §11.1).
    if (!(await store.setIfAbsent(storeKey('dpop-jti', jkt, sha256(jti)), '1', { ttlMs: JTI_MEMORY_MS }))) {
      throw invalid('the DPoP proof was already used');
    }
    return { jkt };
  }

  return {
    async check(req, expected) {
      try {
        return await checkProof(req, expected);
      } catch (error) {
        if (error instanceof OAuthError) auditDpopRefused(req, error.message, expected.clientId, { htu: expected.htu });
        throw error;
      }
    },
  };
}

/** Audits a refused DPoP proof or binding (`dpop_refused`): a replayed proof or a stolen token shows here. */
export function auditDpopRefused(req: IncomingMessage, reason: string, clientId?: string, details: Record<string, unknown> = {}): void {
  auditRequest(
    req,
    { event: 'dpop_refused', outcome: 'failure', client: clientId ? { id: clientId } : undefined, details: { reason, ...details } },
    'DPoP proof refused',
  );
}

function invalid(description: string, internal?: string): OAuthError {
  return new OAuthError('invalid_dpop_proof', description, { internal });
}

/** RFC 9449 §4.3 steps 1-2: not more than one `DPoP` header field, holding one compact JWT. */
function singleProof(req: IncomingMessage): string {
  const values = req.headersDistinct.dpop ?? [];
  if (values.length !== 1) throw invalid('send exactly one DPoP header');
  const proof = values[0]!;
  if (proof.length > MAX_PROOF_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof))
    throw invalid('the DPoP header is not a JWT');
  return proof;
}

/**
 * Steps 4-7: `typ`, an allowed asymmetric `alg` (never `none` or a MAC), and a signature by the
 * embedded public `jwk`; resolves the payload and the key's JWK SHA-256 thumbprint.
 */
async function verifySignature(
  proof: string,
  keys: Map<string, { key: ProofKey; jkt: string }>,
): Promise<{ payload: Record<string, unknown>; jkt: string }> {
  let jkt: string | undefined;
  try {
    const { payload } = await jwtVerify(
      proof,
      async (header, token) => {
        const id = `${header.alg}.${JSON.stringify(header.jwk)}`;
        let known = keys.get(id);
        if (!known) {
          known = { key: await EmbeddedJWK(header, token), jkt: await calculateJwkThumbprint(header.jwk as JWK, 'sha256') };
          if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value!);
          keys.set(id, known);
        }
        jkt = known.jkt;
        return known.key;
      },
      { typ: 'dpop+jwt', algorithms: DPOP_SIGNING_ALGS },
    );
    return { payload, jkt: jkt! };
  } catch (error) {
    if (error instanceof joseErrors.JOSEAlgNotAllowed)
      throw invalid('the DPoP proof must be signed with an asymmetric algorithm', (error as Error).message);
    if (error instanceof joseErrors.JOSEError) throw invalid('the DPoP proof is invalid', (error as Error).message);
    throw error;
  }
}

/**
 * Step 9: `htu` is the request's URL without query and fragment, compared after the syntax- and
 * scheme-based normalisation of RFC 3986 §6.2.2-6.2.3 (case of scheme and host, default port,
 * dot segments, percent-encoding) that WHATWG URL parsing applies.
 */
function sameTargetUri(htu: string, expected: string): boolean {
  const normalise = (value: string) => {
    const url = new URL(value);
    url.search = '';
    url.hash = '';
    return url.href;
  };
  try {
    return normalise(htu) === normalise(expected);
  } catch {
    return false;
  }
}
