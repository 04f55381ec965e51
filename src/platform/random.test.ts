import { describe, expect, it } from 'vitest';
import { randomBytesPooled } from './random.js';

describe('pooled random bytes', () => {
  it('hands out fresh, independent bytes across pool refills', () => {
    const seen = new Set<string>();
    // 12-byte nonces over several 4 KiB refills: none repeats, none is all zeros.
    for (let i = 0; i < 2_000; i++) {
      const b = randomBytesPooled(12);
      expect(b.length).toBe(12);
      expect(b.some((x) => x !== 0)).toBe(true);
      seen.add(b.toString('hex'));
    }
    expect(seen.size).toBe(2_000);
    // A caller's copy is its own: changing it changes nothing handed out later.
    const a = randomBytesPooled(8);
    a.fill(0);
    expect(randomBytesPooled(8).equals(Buffer.alloc(8))).toBe(false);
    expect(() => randomBytesPooled(4097)).toThrow(RangeError);
  });
});
