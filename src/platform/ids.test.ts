import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';

describe('ids', () => {
  it('are prefixed, 26 base32 characters, and sort in creation order', () => {
    const ids = Array.from({ length: 5000 }, () => newId('order'));
    for (const id of ids) expect(id).toMatch(/^ord_[0-9a-hjkmnp-tv-z]{26}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('encode the creation time in the first ten characters', () => {
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const id = newId('shop');
      const ms = [...id.slice(4, 14)].reduce(
        (n, c) => n * 32 + '0123456789abcdefghjkmnpqrstvwxyz'.indexOf(c),
        0,
      );
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(Date.now());
    }
  });
});
