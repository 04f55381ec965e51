/**
 * Ledger accounts are named, not stored: `<owner>:<id>:<bucket>` for a shop's or creator's
 * money, `platform:<bucket>` for the platform's. Amounts are debit-positive; the accounts that
 * hold money owed to someone (shops, creators, fees, deposits) are credit-normal, so their
 * holder's balance is minus the sum of their postings.
 */
export const PLATFORM = {
  /** Buyer payments (and deposits) received through the payment provider, not yet paid out. */
  clearing: 'platform:clearing',
  /** What the platform's coupons cost it. */
  couponFunding: 'platform:coupon_funding',
  feePending: 'platform:fee_pending',
  feeRevenue: 'platform:fee_revenue',
  penaltyRevenue: 'platform:penalty_revenue',
  payoutsInTransit: 'platform:payouts_in_transit',
  /** Charges captured for orders cancelled before they arrived, owed back to the buyer until refunded. */
  unclaimedCharges: 'platform:unclaimed_charges',
} as const;

/** Debit-normal accounts: the platform's cash and its coupon expense. */
const DEBIT_NORMAL = new Set<string>([PLATFORM.clearing, PLATFORM.couponFunding]);

export const shopAccount = (shopId: string, bucket: 'pending' | 'available') => `shop:${shopId}:${bucket}`;
export const shopDepositAccount = (shopId: string, categoryId: string) =>
  `shop:${shopId}:deposit:${categoryId}`;
export const creatorAccount = (creatorId: string, bucket: 'pending' | 'available') =>
  `creator:${creatorId}:${bucket}`;
export const creatorDepositAccount = (creatorId: string) => `creator:${creatorId}:deposit`;

/** The balance as its holder reads it, from the debit-positive sum of postings. */
export function holderBalance(account: string, sum: number): number {
  return DEBIT_NORMAL.has(account) ? sum : 0 - sum;
}

export interface Posting {
  account: string;
  /** Debit positive, credit negative. */
  amount: number;
  orderId?: string | null;
}

export const debit = (account: string, fen: number, orderId?: string | null): Posting => ({
  account,
  amount: fen,
  orderId: orderId ?? null,
});
export const credit = (account: string, fen: number, orderId?: string | null): Posting => ({
  account,
  amount: -fen,
  orderId: orderId ?? null,
});

/** Accounts whose balances are materialised (per-owner rows; platform-wide ones are summed). */
export const isMaterialised = (account: string) => !account.startsWith('platform:');
