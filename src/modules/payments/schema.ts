import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
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

/**
 * Money returned to the buyer through the provider. The id is chosen by the caller (an
 * after-sales case mints it when it opens), so a retried refund finds its row here.
 */
export const paymentRefunds = pgTable(
  'payment_refunds',
  {
    id: text('id').primaryKey(),
    paymentId: text('payment_id').notNull(),
    orderId: text('order_id').notNull(),
    shopId: text('shop_id').notNull(),
    /** The order line refunded, or null for a refund pro rata over the order. */
    lineId: text('line_id'),
    amountFen: integer('amount_fen').notNull(),
    /** succeeded (the simulated provider refunds synchronously; a real one may add pending) */
    status: text('status').notNull(),
    reason: text('reason').notNull(),
    providerRefundRef: text('provider_refund_ref').notNull(),
    createdAt: ts('created_at').notNull(),
    succeededAt: ts('succeeded_at'),
  },
  (t) => [
    index('payment_refunds_payment_idx').on(t.paymentId),
    index('payment_refunds_order_idx').on(t.orderId),
    check('payment_refunds_amount_positive', sql`${t.amountFen} > 0`),
  ],
);
