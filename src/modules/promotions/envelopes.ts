import { randomInt } from 'node:crypto';

/** A source of uniform integers in [0, maxExclusive); node:crypto's by default, seeded ones in tests. */
export type RandomInt = (maxExclusive: number) => number;

const cryptoRandomInt: RandomInt = (maxExclusive) => randomInt(maxExclusive);

/**
 * Splits a red-envelope rain's budget into `count` envelopes of random amounts, each at least
 * 1 fen, summing exactly to the budget (random cut points): every envelope gets 1 fen, and the
 * rest is cut at `count - 1` uniform points of [0, rest]; the gaps between sorted points are the
 * extra amounts. Gaps of sorted uniform points are exchangeable, so envelope order says nothing
 * about size and the amounts need no shuffle.
 */
export function splitBudget(budgetFen: number, count: number, random: RandomInt = cryptoRandomInt): number[] {
  if (!Number.isSafeInteger(budgetFen) || !Number.isSafeInteger(count) || count < 1 || budgetFen < count) {
    throw new RangeError(`cannot split ${budgetFen} fen into ${count} envelopes of at least 1 fen`);
  }
  const rest = budgetFen - count;
  const cuts = new Float64Array(count + 1);
  for (let i = 1; i < count; i++) cuts[i] = random(rest + 1);
  cuts[count] = rest;
  // Typed-array sort is numeric; the fixed ends 0 and rest stay at the ends.
  cuts.subarray(1, count).sort();
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = 1 + cuts[i + 1]! - cuts[i]!;
  return out;
}
