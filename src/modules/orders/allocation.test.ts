import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateProRata } from '../../platform/money.js';
import { allocateDiscounts } from './allocation.js';

// Small line totals too, where rounding both discounts up could take a line below zero.
const lineTotals = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 99_900_000 }), { minLength: 1, maxLength: 50 }),
  fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 20 }),
);
const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

describe('allocateProRata (largest remainder)', () => {
  it('hands out the leftover fen by largest remainder, ties to the earlier line', () => {
    expect(allocateProRata(100, [1, 1, 1])).toEqual([34, 33, 33]);
    expect(allocateProRata(2, [1, 1, 1])).toEqual([1, 1, 0]);
    expect(allocateProRata(10, [3, 3, 4])).toEqual([3, 3, 4]);
    expect(allocateProRata(5, [10, 20, 30])).toEqual([1, 2, 2]);
    expect(allocateProRata(0, [5, 7])).toEqual([0, 0]);
  });

  it('parts sum to the whole, each within 1 fen of the exact share, never negative or above its weight', () => {
    fc.assert(
      fc.property(lineTotals, fc.nat(), (weights, seed) => {
        const total = seed % (sum(weights) + 1);
        const parts = allocateProRata(total, weights);
        expect(sum(parts)).toBe(total);
        parts.forEach((p, i) => {
          const exact = (total * weights[i]!) / sum(weights);
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(weights[i]!);
          expect(Math.abs(p - exact)).toBeLessThan(1 + 1e-6);
        });
      }),
    );
  });

  it('skips a part at its cap and refuses a total the caps cannot carry', () => {
    expect(allocateProRata(2, [1, 1, 1], [0, 1, 1])).toEqual([0, 1, 1]);
    expect(() => allocateProRata(3, [5, 5], [1, 1])).toThrow(RangeError);
    expect(() => allocateProRata(-1, [5, 5])).toThrow(RangeError);
    expect(() => allocateProRata(1, [0, 0])).toThrow(RangeError);
  });
});

describe('allocateDiscounts', () => {
  it('splits both discounts exactly and never takes a line below zero', () => {
    fc.assert(
      fc.property(lineTotals, fc.nat(), fc.nat(), (totals, a, b) => {
        const total = sum(totals);
        // The two discounts together stay below the goods total (payable > 0).
        const shopFen = a % total;
        const platformFen = b % (total - shopFen);
        const { shop, platform } = allocateDiscounts(totals, shopFen, platformFen);
        expect(sum(shop)).toBe(shopFen);
        expect(sum(platform)).toBe(platformFen);
        totals.forEach((t, i) => {
          expect(shop[i]).toBeGreaterThanOrEqual(0);
          expect(platform[i]).toBeGreaterThanOrEqual(0);
          expect(t - shop[i]! - platform[i]!).toBeGreaterThanOrEqual(0);
          expect(Math.abs(shop[i]! - (shopFen * t) / total)).toBeLessThan(1 + 1e-6);
          expect(Math.abs(platform[i]! - (platformFen * t) / total)).toBeLessThan(1 + 1e-6);
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a one-line order the whole discounts', () => {
    expect(allocateDiscounts([9900], 1000, 500)).toEqual({ shop: [1000], platform: [500] });
  });
});
