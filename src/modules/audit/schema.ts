import { index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

/**
 * Security events (访问/流出事件): every view, list view, print, export, decrypt, redeem and
 * delete of order data. Append-only (a trigger refuses UPDATE and DELETE) and hash-chained
 * per chain (`shop:<id>` or `platform`): each row's hash covers the previous row's hash and
 * its own fields, so editing or removing a row breaks the chain from there on.
 */
export const securityEvents = pgTable(
  'security_events',
  {
    id: text('id').primaryKey(),
    chain: text('chain').notNull(),
    seq: integer('seq').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    /** view_order, view_order_list, print_order, export_order_list, decrypt, redeem_waybill, call, delete_order, denied */
    operation: text('operation').notNull(),
    accountId: text('account_id'),
    /** buyer, merchant_owner, merchant_staff, service_provider, operator, carrier, telephony, system */
    accountType: text('account_type').notNull(),
    shopId: text('shop_id'),
    orderIds: text('order_ids').array().notNull(),
    reason: text('reason'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    details: jsonb('details').notNull(),
    occurredAt: ts('occurred_at').notNull(),
  },
  (t) => [
    uniqueIndex('security_events_chain_seq_uq').on(t.chain, t.seq),
    index('security_events_shop_idx').on(t.shopId, t.occurredAt),
    index('security_events_time_idx').on(t.occurredAt),
    index('security_events_account_idx').on(t.accountId, t.occurredAt),
    index('security_events_order_ids_idx').using('gin', t.orderIds),
  ],
);
