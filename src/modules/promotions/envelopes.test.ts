import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitBudget } from './envelopes.js';

describe('splitting a red-envelope rain budget', () => {
  it('always gives exactly the envelopes asked for, each at least 1 fen, summing to the budget', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 100_000_000 })
          .chain((budget) =>
            fc.tuple(fc.constant(budget), fc.integer({ min: 1, max: Math.min(budget, 3_000) })),
          ),
        ([budget, count]) => {
          const envelopes = splitBudget(budget, count);
          expect(envelopes).toHaveLength(count);
          expect(envelopes.every((a) => Number.isSafeInteger(a) && a >= 1)).toBe(true);
          expect(envelopes.reduce((s, a) => s + a, 0)).toBe(budget);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds at the edges: one envelope, one fen each, and an adversarial random source', () => {
    expect(splitBudget(777, 1)).toEqual([777]);
    expect(splitBudget(5, 5)).toEqual([1, 1, 1, 1, 1]);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.func(fc.nat()),
        (extra, count, pick) => {
          const budget = count + extra - 1;
          // Any values the source returns within its range keep the sum exact.
          const envelopes = splitBudget(budget, count, (max) => pick(max) % max);
          expect(envelopes.reduce((s, a) => s + a, 0)).toBe(budget);
          expect(Math.min(...envelopes)).toBeGreaterThanOrEqual(1);
        },
      ),
    );
  });

  it('spreads the budget: 10,000 envelopes are not all equal and average budget / count', () => {
    const envelopes = splitBudget(1_000_000, 10_000);
    expect(new Set(envelopes).size).toBeGreaterThan(100);
    expect(envelopes.reduce((s, a) => s + a, 0) / envelopes.length).toBe(100);
  });

  it('refuses a budget smaller than one fen per envelope', () => {
    expect(() => splitBudget(9, 10)).toThrow(RangeError);
    expect(() => splitBudget(10, 0)).toThrow(RangeError);
    expect(() => splitBudget(10.5, 2)).toThrow(RangeError);
  });
});
