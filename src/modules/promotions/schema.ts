import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
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
    /** The red-envelope rain a single-use coupon was grabbed from (红包); such coupons are not listed as issued coupons. */
    rainId: text('rain_id'),
    status: text('status').$type<CouponStatus>().notNull(),
    createdByAccountId: text('created_by_account_id').notNull(),
    createdAt: ts('created_at').notNull(),
    stoppedAt: ts('stopped_at'),
  },
  (t) => [
    index('coupons_shop_idx').on(t.shopId, t.id),
    index('coupons_issuer_idx').on(t.issuer, t.id),
    index('coupons_live_room_idx').on(t.liveRoomId),
    index('coupons_rain_idx').on(t.rainId).where(sql`${t.rainId} is not null`),
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

/** scheduled → open (announced in the room) → ended (the window closed or every envelope was grabbed). */
export const RAIN_STATUSES = ['scheduled', 'open', 'ended'] as const;
export type RainStatus = (typeof RAIN_STATUSES)[number];

/**
 * A red-envelope rain (红包雨) in a live room: a platform-funded budget split at creation into
 * `envelope_count` envelopes of random amounts; viewers grab at most one each during the window.
 */
export const redEnvelopeRains = pgTable(
  'red_envelope_rains',
  {
    id: text('id').primaryKey(),
    roomId: text('room_id').notNull(),
    createdByAccountId: text('created_by_account_id').notNull(),
    budgetFen: integer('budget_fen').notNull(),
    envelopeCount: integer('envelope_count').notNull(),
    startsAt: ts('starts_at').notNull(),
    endsAt: ts('ends_at').notNull(),
    status: text('status').$type<RainStatus>().notNull(),
    openedAt: ts('opened_at'),
    endedAt: ts('ended_at'),
    /** Set when the rain ends, from its envelopes. */
    grabbedCount: integer('grabbed_count'),
    paidOutFen: integer('paid_out_fen'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('red_envelope_rains_room_idx').on(t.roomId, t.id),
    index('red_envelope_rains_pending_idx').on(t.status, t.startsAt).where(sql`${t.status} <> 'ended'`),
    check('red_envelope_rains_count', sql`${t.envelopeCount} between 1 and ${t.budgetFen}`),
    check('red_envelope_rains_window', sql`${t.endsAt} > ${t.startsAt}`),
    check(
      'red_envelope_rains_paid_within_budget',
      sql`${t.paidOutFen} is null or ${t.paidOutFen} between 0 and ${t.budgetFen}`,
    ),
  ],
);

/** One envelope of a rain; grabbing sets its buyer, once, and issues the buyer a single-use platform coupon. */
export const redEnvelopes = pgTable(
  'red_envelopes',
  {
    rainId: text('rain_id')
      .notNull()
      .references(() => redEnvelopeRains.id),
    seq: integer('seq').notNull(),
    amountFen: integer('amount_fen').notNull(),
    buyerAccountId: text('buyer_account_id'),
    grabbedAt: ts('grabbed_at'),
    couponClaimId: text('coupon_claim_id'),
  },
  (t) => [
    primaryKey({ columns: [t.rainId, t.seq] }),
    // The grab's SKIP LOCKED scan walks only the envelopes still up for grabs.
    index('red_envelopes_unclaimed_idx').on(t.rainId, t.seq).where(sql`${t.buyerAccountId} is null`),
    // One envelope per buyer per rain, even when two grabs of the same buyer race.
    uniqueIndex('red_envelopes_rain_buyer_uq')
      .on(t.rainId, t.buyerAccountId)
      .where(sql`${t.buyerAccountId} is not null`),
    check('red_envelopes_amount_positive', sql`${t.amountFen} > 0`),
    check(
      'red_envelopes_grabbed_whole',
      sql`(${t.buyerAccountId} is null) = (${t.grabbedAt} is null) and (${t.buyerAccountId} is null) = (${t.couponClaimId} is null)`,
    ),
  ],
);
