import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

/** Who funds a coupon: the shop (店铺券, usable in that shop) or the platform (平台券, any shop). */
export const COUPON_ISSUERS = ['shop', 'platform'] as const;
export type CouponIssuer = (typeof COUPON_ISSUERS)[number];

/** A stopped coupon is no longer handed out; coupons already claimed stay usable until they expire. */
export const COUPON_STATUSES = ['active', 'stopped'] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

export const CLAIM_STATUSES = ['unused', 'used'] as const;
export type ClaimStatus = (typeof CLAIM_STATUSES)[number];

/** A coupon template (优惠券): a fixed amount off an order that reaches the minimum spend. */
export const coupons = pgTable(
  'coupons',
  {
    id: text('id').primaryKey(),
    issuer: text('issuer').$type<CouponIssuer>().notNull(),
    /** The shop that funds it and where it is usable; null for platform coupons. */
    shopId: text('shop_id'),
    title: text('title').notNull(),
    amountOffFen: integer('amount_off_fen').notNull(),
    minSpendFen: integer('min_spend_fen').notNull(),
    validFrom: ts('valid_from').notNull(),
    validUntil: ts('valid_until').notNull(),
    totalQuantity: integer('total_quantity').notNull(),
    /** Raised by one conditional UPDATE per claim, never past total_quantity. */
    claimedCount: integer('claimed_count').notNull().default(0),
    perBuyerLimit: integer('per_buyer_limit').notNull().default(1),
    /** The live room the coupon is dropped in (直播间发券), if any. */
    liveRoomId: text('live_room_id'),
    status: text('status').$type<CouponStatus>().notNull(),
    createdByAccountId: text('created_by_account_id').notNull(),
    createdAt: ts('created_at').notNull(),
    stoppedAt: ts('stopped_at'),
  },
  (t) => [
    index('coupons_shop_idx').on(t.shopId, t.id),
    index('coupons_issuer_idx').on(t.issuer, t.id),
    index('coupons_live_room_idx').on(t.liveRoomId),
    check('coupons_amount_positive', sql`${t.amountOffFen} > 0`),
    // The order must stay above zero after the discount.
    check('coupons_min_spend_above_amount', sql`${t.minSpendFen} > ${t.amountOffFen}`),
    check('coupons_quantity_positive', sql`${t.totalQuantity} > 0`),
    check('coupons_claimed_within_quantity', sql`${t.claimedCount} between 0 and ${t.totalQuantity}`),
    check('coupons_window', sql`${t.validUntil} > ${t.validFrom}`),
    check('coupons_per_buyer_one', sql`${t.perBuyerLimit} = 1`),
    check('coupons_issuer_shop', sql`(${t.issuer} = 'shop') = (${t.shopId} is not null)`),
  ],
);

/** A buyer's claimed coupon (已领取的券): unused → used (bound to an order) → unused if that unpaid order is cancelled. */
export const couponClaims = pgTable(
  'coupon_claims',
  {
    id: text('id').primaryKey(),
    couponId: text('coupon_id')
      .notNull()
      .references(() => coupons.id),
    buyerAccountId: text('buyer_account_id').notNull(),
    status: text('status').$type<ClaimStatus>().notNull(),
    orderId: text('order_id'),
    claimedAt: ts('claimed_at').notNull(),
    usedAt: ts('used_at'),
  },
  (t) => [
    // perBuyerLimit = 1: a buyer holds at most one claim of a coupon, and a repeated claim finds it.
    uniqueIndex('coupon_claims_coupon_buyer_uq').on(t.couponId, t.buyerAccountId),
    index('coupon_claims_buyer_idx').on(t.buyerAccountId, t.id),
    index('coupon_claims_order_idx').on(t.orderId).where(sql`${t.orderId} is not null`),
    check('coupon_claims_used_has_order', sql`(${t.status} = 'used') = (${t.orderId} is not null)`),
  ],
);
