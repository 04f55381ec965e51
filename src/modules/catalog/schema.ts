import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

export const shops = pgTable(
  'shops',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    ownerAccountId: text('owner_account_id').notNull(),
    /** onboarding → active (operator approval) | rejected; active → suspended */
    status: text('status').notNull(),
    qualification: text('qualification').notNull(),
    reviewNote: text('review_note'),
    createdAt: ts('created_at').notNull(),
    approvedAt: ts('approved_at'),
  },
  (t) => [index('shops_owner_idx').on(t.ownerAccountId), index('shops_status_idx').on(t.status)],
);

export const categories = pgTable('categories', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  nameZh: text('name_zh').notNull(),
  nameEn: text('name_en').notNull(),
});

export const products = pgTable(
  'products',
  {
    id: text('id').primaryKey(),
    shopId: text('shop_id')
      .notNull()
      .references(() => shops.id),
    categoryId: text('category_id')
      .notNull()
      .references(() => categories.id),
    title: text('title').notNull(),
    description: text('description').notNull(),
    imageUrl: text('image_url'),
    /** Quality review (品控): pending → approved | rejected; only approved products sell. */
    reviewStatus: text('review_status').notNull(),
    reviewReason: text('review_reason'),
    /** Open commission plan rate in basis points, offered to any creator with sharing permission. */
    commissionBps: integer('commission_bps').notNull(),
    /** listed or delisted by the shop */
    listed: text('listed').notNull().default('listed'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    index('products_shop_idx').on(t.shopId, t.id),
    index('products_review_idx').on(t.reviewStatus),
    check('products_commission_range', sql`${t.commissionBps} between 0 and 8000`),
  ],
);

/**
 * Units sold per SKU (paid orders; the sales figure shown to buyers), kept apart from the SKU
 * row: that row's stock is what every checkout locks, and counting sales there made the
 * outbox's counter update queue behind checkouts (and them behind it).
 */
export const skuSales = pgTable('sku_sales', {
  skuId: text('sku_id')
    .primaryKey()
    .references(() => skus.id),
  sold: integer('sold').notNull().default(0),
});

export const skus = pgTable(
  'skus',
  {
    id: text('id').primaryKey(),
    productId: text('product_id')
      .notNull()
      .references(() => products.id),
    shopId: text('shop_id').notNull(),
    name: text('name').notNull(),
    priceFen: integer('price_fen').notNull(),
    /** Available units; reservations decrement it with one conditional UPDATE. */
    stock: integer('stock').notNull(),
  },
  (t) => [
    index('skus_product_idx').on(t.productId),
    uniqueIndex('skus_product_name_uq').on(t.productId, t.name),
    check('skus_stock_nonnegative', sql`${t.stock} >= 0`),
    check('skus_price_positive', sql`${t.priceFen} > 0`),
  ],
);
