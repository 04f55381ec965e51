import { sql } from 'drizzle-orm';
import { bigint, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

export const liveRooms = pgTable(
  'live_rooms',
  {
    id: text('id').primaryKey(),
    creatorAccountId: text('creator_account_id').notNull(),
    title: text('title').notNull(),
    description: text('description').notNull(),
    /** scheduled → live → ended */
    status: text('status').notNull(),
    scheduledAt: ts('scheduled_at').notNull(),
    startedAt: ts('started_at'),
    endedAt: ts('ended_at'),
    pinnedItemId: text('pinned_item_id'),
    /** Paid orders and GMV attributed to the room, kept by an outbox handler. */
    paidOrders: integer('paid_orders').notNull().default(0),
    gmvFen: bigint('gmv_fen', { mode: 'number' }).notNull().default(0),
    /** Likes (点赞) counted by the live channel and saved once per tick per node. */
    likes: bigint('likes', { mode: 'number' }).notNull().default(0),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('live_rooms_creator_idx').on(t.creatorAccountId),
    index('live_rooms_status_idx').on(t.status),
  ],
);

/** The live room's cart (小黄车): platform products only. */
export const liveRoomItems = pgTable(
  'live_room_items',
  {
    id: text('id').primaryKey(),
    roomId: text('room_id')
      .notNull()
      .references(() => liveRooms.id),
    productId: text('product_id').notNull(),
    shopId: text('shop_id').notNull(),
    position: integer('position').notNull(),
    addedAt: ts('added_at').notNull(),
    removedAt: ts('removed_at'),
  },
  (t) => [
    uniqueIndex('live_room_items_active_uq').on(t.roomId, t.productId).where(sql`${t.removedAt} is null`),
  ],
);

/** A short video with a product anchor (视频购物车). */
export const videos = pgTable(
  'videos',
  {
    id: text('id').primaryKey(),
    creatorAccountId: text('creator_account_id').notNull(),
    title: text('title').notNull(),
    description: text('description').notNull(),
    anchorProductId: text('anchor_product_id'),
    anchorShopId: text('anchor_shop_id'),
    anchorTitle: text('anchor_title'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('videos_creator_idx').on(t.creatorAccountId)],
);
