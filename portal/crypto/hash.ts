import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a secret, base64url: what the store keeps instead of codes and tokens. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** HMAC-SHA-256 under a key derived from the root secret, base64url. */
export function hmac(key: string | Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

/** A new unguessable token: `bytes` random bytes, base64url (32 bytes: 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // Compare equal-length buffers always, so the length check leaks nothing about content.
  const same = timingSafeEqual(createHash('sha256').update(left).digest(), createHash('sha256').update(right).digest());
  return same && left.length === right.length;
}
