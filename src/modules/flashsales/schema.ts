import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

/** scheduled → open (at starts_at) → ended (at ends_at; unsold units go back to the SKU). */
export const FLASH_SALE_STATUSES = ['scheduled', 'open', 'ended'] as const;
export type FlashSaleStatus = (typeof FLASH_SALE_STATUSES)[number];

/** reserved (抢到) → ordered (checked out, order pending payment or paid) | released (back to the sale). */
export const FLASH_RESERVATION_STATUSES = ['reserved', 'ordered', 'released'] as const;
export type FlashReservationStatus = (typeof FLASH_RESERVATION_STATUSES)[number];

/**
 * A flash-sale slot (秒杀场次) for a live room's cart item: `quantity` units moved out of the
 * SKU's stock when scheduled, sold at `price_fen` between `starts_at` and `ends_at`, at most
 * `per_buyer_limit` per buyer. The units sit in `bucket_count` bucket rows.
 */
export const flashSaleSlots = pgTable(
  'flash_sale_slots',
  {
    id: text('id').primaryKey(),
    roomId: text('room_id').notNull(),
    cartItemId: text('cart_item_id').notNull(),
    productId: text('product_id').notNull(),
    skuId: text('sku_id').notNull(),
    shopId: text('shop_id').notNull(),
    /** The flash price, and the SKU's price when the slot was scheduled (the flash price is below it). */
    priceFen: integer('price_fen').notNull(),
    listPriceFen: integer('list_price_fen').notNull(),
    quantity: integer('quantity').notNull(),
    perBuyerLimit: integer('per_buyer_limit').notNull(),
    bucketCount: integer('bucket_count').notNull(),
    startsAt: ts('starts_at').notNull(),
    endsAt: ts('ends_at').notNull(),
    status: text('status').$type<FlashSaleStatus>().notNull(),
    scheduledBy: text('scheduled_by').notNull(),
    createdAt: ts('created_at').notNull(),
    openedAt: ts('opened_at'),
    /** Set when every bucket was seen empty (the sold-out event went out); cleared by a release. */
    soldOutAt: ts('sold_out_at'),
    endedAt: ts('ended_at'),
    /** Units given back to the SKU: bucket remainders at the end, and releases after it. */
    returnedUnits: integer('returned_units').notNull().default(0),
  },
  (t) => [
    index('flash_sale_slots_room_idx').on(t.roomId, t.status),
    index('flash_sale_slots_opening_idx').on(t.startsAt).where(sql`${t.status} = 'scheduled'`),
    index('flash_sale_slots_ending_idx').on(t.endsAt).where(sql`${t.status} <> 'ended'`),
    check('flash_sale_slots_price_below_list', sql`${t.priceFen} > 0 and ${t.priceFen} < ${t.listPriceFen}`),
    check('flash_sale_slots_quantity_positive', sql`${t.quantity} > 0`),
    check(
      'flash_sale_slots_limit_range',
      sql`${t.perBuyerLimit} >= 1 and ${t.perBuyerLimit} <= ${t.quantity}`,
    ),
    check('flash_sale_slots_buckets_range', sql`${t.bucketCount} between 1 and 64`),
    check('flash_sale_slots_window', sql`${t.endsAt} > ${t.startsAt}`),
    check('flash_sale_slots_returned_range', sql`${t.returnedUnits} between 0 and ${t.quantity}`),
  ],
);

/**
 * The slot's unsold units split over K rows, so concurrent purchases (other nodes, other
 * batches) take different rows instead of queueing on one. Their sum is what is left.
 */
export const flashSaleBuckets = pgTable(
  'flash_sale_buckets',
  {
    slotId: text('slot_id')
      .notNull()
      .references(() => flashSaleSlots.id),
    bucket: integer('bucket').notNull(),
    remaining: integer('remaining').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.slotId, t.bucket] }),
    check('flash_sale_buckets_remaining_nonnegative', sql`${t.remaining} >= 0`),
  ],
);

/**
 * Units each buyer holds in a slot (reserved or ordered). The per-buyer limit is enforced by
 * the conditional upsert that raises `units`; the check is the backstop.
 */
export const flashSaleBuyers = pgTable(
  'flash_sale_buyers',
  {
    slotId: text('slot_id').notNull(),
    buyerAccountId: text('buyer_account_id').notNull(),
    units: integer('units').notNull(),
    maxUnits: integer('max_units').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.slotId, t.buyerAccountId] }),
    check('flash_sale_buyers_units_range', sql`${t.units} >= 0 and ${t.units} <= ${t.maxUnits}`),
  ],
);

/**
 * A buyer's hold on flash-sale units: written by the purchase, claimed by the checkout
 * (`order_id`), released by the clock or by the order's cancellation. The Idempotency-Key
 * of the purchase is unique per buyer, so a retried purchase finds its reservation.
 * No foreign key to the slot: inserts on the hot path would share-lock the slot row.
 */
export const flashSaleReservations = pgTable(
  'flash_sale_reservations',
  {
    id: text('id').primaryKey(),
    slotId: text('slot_id').notNull(),
    buyerAccountId: text('buyer_account_id').notNull(),
    quantity: integer('quantity').notNull(),
    /** The bucket the units came from, and go back to on release. */
    bucket: integer('bucket').notNull(),
    status: text('status').$type<FlashReservationStatus>().notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    requestHash: text('request_hash').notNull(),
    orderId: text('order_id'),
    createdAt: ts('created_at').notNull(),
    /** Unless its order is paid by then, the units go back at this time. */
    expiresAt: ts('expires_at').notNull(),
    orderedAt: ts('ordered_at'),
    releasedAt: ts('released_at'),
    releaseReason: text('release_reason'),
  },
  (t) => [
    uniqueIndex('flash_sale_reservations_key_uq').on(t.buyerAccountId, t.idempotencyKey),
    index('flash_sale_reservations_slot_idx').on(t.slotId, t.status),
    index('flash_sale_reservations_expiry_idx').on(t.expiresAt).where(sql`${t.status} = 'reserved'`),
    index('flash_sale_reservations_order_idx').on(t.orderId).where(sql`${t.orderId} is not null`),
    check('flash_sale_reservations_quantity_positive', sql`${t.quantity} > 0`),
  ],
);
