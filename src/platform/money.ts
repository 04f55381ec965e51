/** Money rules shared by modules: integer fen, one allocation method. */

/**
 * Splits `totalFen` over parts pro rata to `weights` by the largest-remainder method: each
 * part gets the floor of its exact share, and the fen left over go one by one to the parts
 * with the largest fractional remainder (ties to the earlier part). The parts sum exactly to
 * the total and each is within 1 fen of its exact share.
 *
 * `caps` bounds each part (a line's discount may not exceed what is left of it to pay): a
 * part at its cap is skipped when leftover fen are handed out. Exact arithmetic in BigInt,
 * because total × weight can pass 2^53.
 */
export function allocateProRata(
  totalFen: number,
  weights: readonly number[],
  caps?: readonly number[],
): number[] {
  if (!Number.isSafeInteger(totalFen) || totalFen < 0) throw new RangeError(`bad total ${totalFen}`);
  if (weights.some((w) => !Number.isSafeInteger(w) || w < 0)) throw new RangeError('bad weights');
  if (caps && (caps.length !== weights.length || caps.some((c) => !Number.isSafeInteger(c) || c < 0))) {
    throw new RangeError('bad caps');
  }
  const limits = caps ?? weights.map(() => Number.POSITIVE_INFINITY);
  const weightSum = weights.reduce((s, w) => s + w, 0);
  if (totalFen === 0) return weights.map(() => 0);
  if (weightSum === 0 || totalFen > limits.reduce((s, c) => s + c, 0)) {
    throw new RangeError(`cannot allocate ${totalFen} over ${weights.length} parts`);
  }
  const sum = BigInt(weightSum);
  const shares = weights.map((w, i) => {
    const exact = BigInt(totalFen) * BigInt(w);
    return { i, floor: Number(exact / sum), remainder: exact % sum };
  });
  const parts = shares.map((s) => Math.min(s.floor, limits[s.i]!));
  let left = totalFen - parts.reduce((s, p) => s + p, 0);
  const order = [...shares].sort((a, b) =>
    a.remainder === b.remainder ? a.i - b.i : a.remainder > b.remainder ? -1 : 1,
  );
  // One fen each in remainder order; a second round only when caps blocked the first.
  while (left > 0) {
    for (const { i } of order) {
      if (left === 0) break;
      if (parts[i]! < limits[i]!) {
        parts[i]! += 1;
        left -= 1;
      }
    }
  }
  return parts;
}
