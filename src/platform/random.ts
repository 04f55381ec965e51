import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `n` bytes from the CSPRNG, taken from a pool refilled 4 KiB at a time: one call into OpenSSL
 * per few hundred ids or nonces instead of one each, which on the checkout path (three GCM
 * nonces, ids, webhook ids per order) was 2% of the main thread. Each caller gets its own copy.
 */
export function randomBytesPooled(n: number): Buffer {
  if (n > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} pooled random bytes at once`);
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}
