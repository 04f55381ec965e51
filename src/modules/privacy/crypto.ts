import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { randomBytesPooled } from '../../platform/random.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM sealed as base64url(iv | tag | ciphertext) behind a version tag. base64url
 * rather than bytea: a hex dump of binary could spell an 11-digit phone-like run by chance.
 */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytesPooled(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `v1.${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url')}`;
}

export function open(key: Buffer, sealed: string, aad: string): string {
  if (!sealed.startsWith('v1.')) throw new Error('unknown ciphertext version');
  const raw = Buffer.from(sealed.slice(3), 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
    'utf8',
  );
}

export function deriveKey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), purpose, 32));
}

/** Keyed blind index: equal inputs match, but the index reveals nothing without the key. */
export function blindIndex(indexKey: Buffer, kind: string, normalized: string): string {
  return createHmac('sha256', indexKey).update(`${kind}:${normalized}`).digest('base64url').slice(0, 32);
}
