import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateProRata } from '../../platform/money.js';
import { allocateRefund, reversedAt, splitLine, sumParts } from './split.js';

const line = fc.record({
  lineId: fc.constant('l'),
  categoryId: fc.constant('c'),
  paidFen: fc.integer({ min: 0, max: 5_000_000 }),
  subsidyFen: fc.integer({ min: 0, max: 500_000 }),
  commissionBps: fc.integer({ min: 0, max: 8000 }),
  feeBps: fc.integer({ min: 0, max: 2000 }),
});

describe('order money split', () => {
  it('splits 10,000 fen at 20 % commission and 5 % fee into 7,500 / 2,000 / 500', () => {
    const s = splitLine({
      lineId: 'l',
      categoryId: 'c',
      paidFen: 10_000,
      subsidyFen: 0,
      commissionBps: 2000,
      feeBps: 500,
    });
    expect(s).toMatchObject({ commissionFen: 2000, feeFen: 500, shopShareFen: 7500 });
  });

  it('rounds commission and fee down and gives the remainder to the shop', () => {
    // 999 × 12.34 % = 123.27… → 123; (999 + 1) × 0.6 % = 6
    const s = splitLine({
      lineId: 'l',
      categoryId: 'c',
      paidFen: 999,
      subsidyFen: 1,
      commissionBps: 1234,
      feeBps: 60,
    });
    expect(s).toMatchObject({ commissionFen: 123, feeFen: 6, shopShareFen: 999 + 1 - 123 - 6 });
  });

  it('takes commission on what the buyer paid and the fee on paid plus the platform subsidy', () => {
    const s = splitLine({
      lineId: 'l',
      categoryId: 'c',
      paidFen: 8000,
      subsidyFen: 2000,
      commissionBps: 1000,
      feeBps: 100,
    });
    expect(s).toMatchObject({ commissionFen: 800, feeFen: 100, shopShareFen: 9100 });
  });

  it('always sums to paid + subsidy, to the fen, with no part negative or above its exact share', () => {
    fc.assert(
      fc.property(line, (l) => {
        const s = splitLine(l);
        expect(s.shopShareFen + s.commissionFen + s.feeFen).toBe(l.paidFen + l.subsidyFen);
        expect(s.shopShareFen).toBeGreaterThanOrEqual(0);
        expect(s.commissionFen * 10_000).toBeLessThanOrEqual(l.paidFen * l.commissionBps);
        expect(s.feeFen * 10_000).toBeLessThanOrEqual((l.paidFen + l.subsidyFen) * l.feeBps);
      }),
    );
  });

  it('reverses exactly the split once a line is refunded in full, however the refunds were cut', () => {
    fc.assert(
      fc.property(
        line.filter((l) => l.paidFen > 0),
        fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 8 }),
        (l, cuts) => {
          const s = splitLine(l);
          // Refund in random slices up to the whole paid amount.
          const total = cuts.reduce((a, b) => a + b, 0);
          const steps = allocateProRata(s.paidFen, cuts);
          let refunded = 0;
          const deltas = [];
          for (const step of steps) {
            const before = reversedAt(s, refunded);
            refunded += step;
            const after = reversedAt(s, refunded);
            deltas.push({
              subsidyFen: after.subsidyFen - before.subsidyFen,
              commissionFen: after.commissionFen - before.commissionFen,
              feeFen: after.feeFen - before.feeFen,
              shopShareFen: after.shopShareFen - before.shopShareFen,
            });
            // At every step: what remains of the split is what remains paid.
            expect(
              s.shopShareFen -
                after.shopShareFen +
                (s.commissionFen - after.commissionFen) +
                (s.feeFen - after.feeFen),
            ).toBe(s.paidFen + s.subsidyFen - refunded - after.subsidyFen);
            expect(after.commissionFen).toBeLessThanOrEqual(s.commissionFen);
            expect(after.feeFen).toBeLessThanOrEqual(s.feeFen);
          }
          expect(total).toBeGreaterThan(0);
          const sum = sumParts(deltas);
          expect(sum).toMatchObject({
            subsidyFen: s.subsidyFen,
            commissionFen: s.commissionFen,
            feeFen: s.feeFen,
            shopShareFen: s.shopShareFen,
          });
        },
      ),
    );
  });
});

describe('refund allocation', () => {
  it('refuses a refund above what is still refundable, on the order or on one line', () => {
    const lines = [
      { lineId: 'a', paidFen: 100, refundedFen: 40 },
      { lineId: 'b', paidFen: 50, refundedFen: 0 },
    ];
    expect(allocateRefund(lines, 111)).toBeNull();
    expect(allocateRefund(lines, 61, 'a')).toBeNull();
    expect([...allocateRefund(lines, 110)!.values()]).toEqual([60, 50]);
    expect([...allocateRefund(lines, 11)!.entries()]).toEqual([
      ['a', 6],
      ['b', 5],
    ]);
  });
});
