import { allocateProRata } from '../../platform/money.js';

/**
 * The money rules of one order, written once.
 *
 * Rounding rule: every derived amount (commission, fee, each refund's reversal) is rounded
 * DOWN to the fen, and the shop's share takes the remainder. So the parts always sum to the
 * whole, and rounding never charges the shop a fen more than its exact share of a fee or
 * commission... nor pays a creator or the platform one fen more than the exact rate.
 *
 * Bases: commission = what the buyer actually paid for the line (after shop and platform
 * coupons) × the snapshotted rate; the fee = the line's paid amount plus the platform's coupon
 * subsidy (the shop's revenue for the line) × the category's rate. The platform funds its own
 * coupons, so the shop receives paid + subsidy − commission − fee.
 */
export const BPS = 10_000;

export interface LineInput {
  lineId: string;
  categoryId: string;
  /** What the buyer paid for the line. */
  paidFen: number;
  /** What the platform's coupon paid for the line on the buyer's behalf. */
  subsidyFen: number;
  commissionBps: number;
  feeBps: number;
}

export interface LineSplit extends LineInput {
  commissionFen: number;
  feeFen: number;
  shopShareFen: number;
}

export interface Parts {
  subsidyFen: number;
  commissionFen: number;
  feeFen: number;
  shopShareFen: number;
}

const floorShare = (amount: number, bps: number) => Math.floor((amount * bps) / BPS);

export function splitLine(l: LineInput): LineSplit {
  const commissionFen = floorShare(l.paidFen, l.commissionBps);
  const feeFen = floorShare(l.paidFen + l.subsidyFen, l.feeBps);
  return { ...l, commissionFen, feeFen, shopShareFen: l.paidFen + l.subsidyFen - commissionFen - feeFen };
}

export function sumParts<T extends Parts & { paidFen?: number }>(parts: T[]): Parts & { paidFen: number } {
  const out = { paidFen: 0, subsidyFen: 0, commissionFen: 0, feeFen: 0, shopShareFen: 0 };
  for (const p of parts) {
    out.paidFen += p.paidFen ?? 0;
    out.subsidyFen += p.subsidyFen;
    out.commissionFen += p.commissionFen;
    out.feeFen += p.feeFen;
    out.shopShareFen += p.shopShareFen;
  }
  return out;
}

/** floor(part × num / den) without overflowing 2^53. */
function proRata(part: number, num: number, den: number): number {
  if (den === 0) return 0;
  return Number((BigInt(part) * BigInt(num)) / BigInt(den));
}

/**
 * What a line's refunds have reversed once `refundedFen` of its paid amount has gone back:
 * each part pro rata, rounded down, the shop's share the remainder. Cumulative, so the
 * reversals of several partial refunds add up to exactly the split once fully refunded.
 */
export function reversedAt(line: LineSplit, refundedFen: number): Parts {
  const subsidyFen = proRata(line.subsidyFen, refundedFen, line.paidFen);
  const commissionFen = proRata(line.commissionFen, refundedFen, line.paidFen);
  const feeFen = proRata(line.feeFen, refundedFen, line.paidFen);
  return {
    subsidyFen,
    commissionFen,
    feeFen,
    shopShareFen: refundedFen + subsidyFen - commissionFen - feeFen,
  };
}

/** The reversal a refund taking a line from `fromFen` to `toFen` refunded posts. */
export function refundDelta(line: LineSplit, fromFen: number, toFen: number): Parts {
  const a = reversedAt(line, fromFen);
  const b = reversedAt(line, toFen);
  return {
    subsidyFen: b.subsidyFen - a.subsidyFen,
    commissionFen: b.commissionFen - a.commissionFen,
    feeFen: b.feeFen - a.feeFen,
    shopShareFen: b.shopShareFen - a.shopShareFen,
  };
}

/**
 * How a refund of `amountFen` falls on an order's lines: all on one line when named, else pro
 * rata to what each line still has refundable. Null when it exceeds what is refundable.
 */
export function allocateRefund(
  lines: { lineId: string; paidFen: number; refundedFen: number }[],
  amountFen: number,
  lineId?: string,
): Map<string, number> | null {
  const pick = lineId ? lines.filter((l) => l.lineId === lineId) : lines;
  const room = pick.map((l) => l.paidFen - l.refundedFen);
  if (amountFen > room.reduce((s, r) => s + r, 0)) return null;
  const parts = allocateProRata(amountFen, room);
  return new Map(pick.map((l, i) => [l.lineId, parts[i]!]));
}
