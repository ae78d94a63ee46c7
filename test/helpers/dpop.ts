import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

/** A DPoP key pair (ES256 unless `alg` says otherwise) and its public JWK. */
export interface DpopKey {
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
  alg: string;
}

export async function dpopKey(alg = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey), alg };
}

/** The key's JWK SHA-256 thumbprint (RFC 7638): the `cnf.jkt` a token bound to it carries. */
export function thumbprint(key: DpopKey): Promise<string> {
  return calculateJwkThumbprint(key.publicJwk, 'sha256');
}

/** `ath` (RFC 9449 §4.2): base64url SHA-256 of the access token. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * A DPoP proof JWT (RFC 9449 §4.2) signed with jose, as a client makes one; every part can be bent
 * for bad-input tests: `claims` replace or (with `undefined`) remove payload claims, `header`
 * replaces header parameters.
 */
export function dpopProof(
  key: DpopKey,
  request: { htm: string; htu: string; accessToken?: string },
  options: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {},
): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: randomUUID(),
    htm: request.htm,
    htu: request.htu,
    iat: Math.floor(Date.now() / 1000),
    ...(request.accessToken === undefined ? {} : { ath: accessTokenHash(request.accessToken) }),
    ...options.claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...options.header } as never)
    .sign(key.privateKey);
}

/** The payload of a JWT, unverified (to read `cnf` of a token the test holds). */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
}
