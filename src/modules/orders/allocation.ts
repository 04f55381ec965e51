import { allocateProRata } from '../../platform/money.js';

/**
 * The order's shop and platform discounts over its lines, each pro rata to the line totals.
 * The platform discount is capped per line by what the shop discount left, so no line is
 * discounted below zero (the caller ensures the discounts together stay below the total).
 */
export function allocateDiscounts(lineTotalsFen: readonly number[], shopFen: number, platformFen: number) {
  const shop = allocateProRata(shopFen, lineTotalsFen);
  const platform = allocateProRata(
    platformFen,
    lineTotalsFen,
    lineTotalsFen.map((t, i) => t - shop[i]!),
  );
  return { shop, platform };
}
