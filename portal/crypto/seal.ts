import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption at rest (AES-256-GCM) under a key derived from the root secret
 * with HKDF, one key per `purpose`. The associated data binds a ciphertext to its owner
 * (for example person + upstream), so a value copied to another key does not decrypt.
 */
export interface Sealer {
  seal(plaintext: string, associatedData: string): string;
  /** @throws when the value was tampered with, moved, or sealed under another secret. */
  open(sealed: string, associatedData: string): string;
}

export function createSealer(rootSecret: string, purpose: string): Sealer {
  const key = Buffer.from(hkdfSync('sha256', rootSecret, 'gatehouse', `seal:${purpose}`, 32));
  return {
    seal(plaintext, associatedData) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(associatedData));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(sealed, associatedData) {
      const [version, iv, body, tag] = sealed.split('.');
      if (version !== 'v1' || !iv || body === undefined || !tag) throw new Error('not a sealed value');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/** A key for HMAC derived from the root secret for one purpose (cookie signing, CSRF). */
export function deriveKey(rootSecret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootSecret, 'gatehouse', `key:${purpose}`, 32));
}
