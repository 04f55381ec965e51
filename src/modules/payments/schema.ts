import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id').notNull(),
    shopId: text('shop_id').notNull(),
    buyerAccountId: text('buyer_account_id').notNull(),
    amountFen: integer('amount_fen').notNull(),
    provider: text('provider').notNull(),
    providerRef: text('provider_ref').notNull().unique(),
    /** pending → succeeded | failed */
    status: text('status').notNull(),
    failureReason: text('failure_reason'),
    createdAt: ts('created_at').notNull(),
    succeededAt: ts('succeeded_at'),
  },
  (t) => [index('payments_order_idx').on(t.orderId)],
);

/** Webhook events already applied; a replay finds its id here and changes nothing. */
export const paymentWebhookEvents = pgTable('payment_webhook_events', {
  eventId: text('event_id').primaryKey(),
  provider: text('provider').notNull(),
  providerRef: text('provider_ref').notNull(),
  receivedAt: ts('received_at').notNull(),
});
