import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

export const ORDER_STATUSES = [
  'pending_payment',
  'paid',
  'shipped',
  'delivered',
  'completed',
  'cancelled',
  /** Terminal: the whole payment went back to the buyer through after-sales. */
  'refunded',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * When a fully refunded order was refunded (退款完成: 未发货 / 已发货 / 已收货). A refunded order is
 * closed: `cancelled_at` says when, `cancel_reason` says `refunded_<stage>`.
 */
export const REFUND_STAGES = ['before_shipment', 'after_shipment', 'after_receipt'] as const;
export type RefundStage = (typeof REFUND_STAGES)[number];

export const VENUE_TYPES = ['live_room', 'video', 'showcase', 'search'] as const;
export type VenueType = (typeof VENUE_TYPES)[number];

export const orders = pgTable(
  'orders',
  {
    id: text('id').primaryKey(),
    shopId: text('shop_id').notNull(),
    buyerAccountId: text('buyer_account_id').notNull(),
    status: text('status').$type<OrderStatus>().notNull(),
    /** Goods total: the sum of the lines' totals, before discounts. */
    totalFen: integer('total_fen').notNull(),
    /** Coupon discounts at checkout: funded by the shop, and by the platform. */
    shopDiscountFen: integer('shop_discount_fen').notNull().default(0),
    platformDiscountFen: integer('platform_discount_fen').notNull().default(0),
    /** What the buyer pays: total_fen minus both discounts. */
    payableFen: integer('payable_fen').notNull(),
    /** Attribution (归因) snapshotted at checkout. */
    venueType: text('venue_type').$type<VenueType>().notNull(),
    venueId: text('venue_id'),
    creatorAccountId: text('creator_account_id'),
    /** Reference into the privacy module's vault plus the masks; never plain PII. */
    recipientId: text('recipient_id').notNull(),
    recipientNameMask: text('recipient_name_mask').notNull(),
    recipientPhoneMask: text('recipient_phone_mask').notNull(),
    recipientAddressMask: text('recipient_address_mask').notNull(),
    createdAt: ts('created_at').notNull(),
    payDeadline: ts('pay_deadline').notNull(),
    paidAt: ts('paid_at'),
    shippedAt: ts('shipped_at'),
    deliveredAt: ts('delivered_at'),
    completedAt: ts('completed_at'),
    cancelledAt: ts('cancelled_at'),
    cancelReason: text('cancel_reason'),
    carrier: text('carrier'),
    trackingNo: text('tracking_no'),
  },
  (t) => [
    // Ascending on purpose: a backward scan serves `ORDER BY id DESC` (NULLS FIRST), which a
    // `DESC NULLS LAST` index (drizzle's `.desc()`) cannot; measured 0.2 ms against 9–19 ms.
    index('orders_shop_list_idx').on(t.shopId, t.id),
    index('orders_shop_status_idx').on(t.shopId, t.status, t.id),
    index('orders_buyer_idx').on(t.buyerAccountId, t.id),
    // The sweeps' indexes. Each predicate also names its column as not null, which only the
    // sweeps' range conditions imply: an update of one order "by id where status = …" must not
    // be able to pick these. It did, on stale statistics (the index looked nearly empty) and
    // scanned every unpaid order for one payment: 4,600 buffers a statement in bench:checkout.
    index('orders_unpaid_deadline_idx')
      .on(t.payDeadline)
      .where(sql`${t.status} = 'pending_payment' and ${t.payDeadline} is not null`),
    index('orders_delivered_idx')
      .on(t.deliveredAt)
      .where(sql`${t.status} = 'delivered' and ${t.deliveredAt} is not null`),
    // Partial: most orders have no tracking number or payment yet, and every order written or
    // updated would otherwise add an entry for its nulls. Lookups by value imply not null.
    index('orders_tracking_idx').on(t.trackingNo).where(sql`${t.trackingNo} is not null`),
    // Search by phone or name finds recipients by blind index, then their orders here.
    index('orders_recipient_idx').on(t.recipientId),
    index('orders_shop_paid_idx').on(t.shopId, t.paidAt).where(sql`${t.paidAt} is not null`),
    check('orders_total_positive', sql`${t.totalFen} > 0`),
    check('orders_payable_positive', sql`${t.payableFen} > 0`),
    check('orders_discounts_nonnegative', sql`${t.shopDiscountFen} >= 0 and ${t.platformDiscountFen} >= 0`),
    check(
      'orders_payable_sum',
      sql`${t.payableFen} = ${t.totalFen} - ${t.shopDiscountFen} - ${t.platformDiscountFen}`,
    ),
  ],
);

export const orderLines = pgTable(
  'order_lines',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id')
      .notNull()
      .references(() => orders.id),
    shopId: text('shop_id').notNull(),
    productId: text('product_id').notNull(),
    skuId: text('sku_id').notNull(),
    /** The product's category at checkout (fee rates are per category). */
    categoryId: text('category_id').notNull(),
    title: text('title').notNull(),
    skuName: text('sku_name').notNull(),
    unitPriceFen: integer('unit_price_fen').notNull(),
    quantity: integer('quantity').notNull(),
    lineTotalFen: integer('line_total_fen').notNull(),
    /** The order's discounts allocated to this line pro rata to line totals (see allocation.ts). */
    shopDiscountFen: integer('shop_discount_fen').notNull().default(0),
    platformDiscountFen: integer('platform_discount_fen').notNull().default(0),
    /** line_total_fen minus both line discounts: what the buyer paid for this line. */
    paidFen: integer('paid_fen').notNull(),
    /** Commission plan and rate in basis points at checkout; 0 when no creator sold it. */
    commissionPlan: text('commission_plan').notNull(),
    commissionBps: integer('commission_bps').notNull(),
  },
  (t) => [
    index('order_lines_order_idx').on(t.orderId),
    check('order_lines_qty_positive', sql`${t.quantity} > 0`),
    check('order_lines_paid_nonnegative', sql`${t.paidFen} >= 0`),
    check(
      'order_lines_discounts_nonnegative',
      sql`${t.shopDiscountFen} >= 0 and ${t.platformDiscountFen} >= 0`,
    ),
    check(
      'order_lines_paid_sum',
      sql`${t.paidFen} = ${t.lineTotalFen} - ${t.shopDiscountFen} - ${t.platformDiscountFen}`,
    ),
  ],
);

/**
 * Orders that may not ship: an after-sales case asked for a refund before shipment (仅退款,
 * 未发货). Shipping checks this table after it has locked the order row.
 */
export const orderShippingHolds = pgTable('order_shipping_holds', {
  orderId: text('order_id')
    .primaryKey()
    .references(() => orders.id),
  caseId: text('case_id').notNull(),
  heldAt: ts('held_at').notNull(),
});
