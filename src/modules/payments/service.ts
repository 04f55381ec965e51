import { and, eq } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import { requestHash, runIdempotent } from '../../platform/idempotency.js';
import { newId } from '../../platform/ids.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import type { OrderService } from '../orders/service.js';
import type { PaymentProvider, PaymentWebhookEvent } from './provider.js';
import { payments, paymentWebhookEvents } from './schema.js';

export type PaymentRow = typeof payments.$inferSelect;

const paymentView = (p: PaymentRow, orderStatus: string) => ({
  paymentId: p.id,
  orderId: p.orderId,
  amountFen: p.amountFen,
  provider: p.provider,
  status: p.status,
  orderStatus,
});

export class PaymentService {
  constructor(
    private readonly p: Platform,
    private readonly orders: OrderService,
    private readonly provider: PaymentProvider,
  ) {}

  /**
   * Pays an unpaid order. The order row is locked for the attempt; a pending charge from an
   * earlier attempt is returned instead of charging again, so a buyer is never charged twice.
   */
  async pay(buyerId: string, orderId: string, idempotencyKey: string) {
    const ref = { scope: `${buyerId}:pay`, key: idempotencyKey, hash: requestHash({ orderId }) };
    const result = await runIdempotent(this.p.db, this.p.clock, ref, async (tx) => {
      // The pending-charge lookup runs right after the lock on the same connection, so it
      // sees any charge a racing attempt committed.
      const [order, [pending]] = await Promise.all([
        this.orders.lockForPayment(tx, buyerId, orderId),
        tx
          .select()
          .from(payments)
          .where(and(eq(payments.orderId, orderId), eq(payments.status, 'pending'))),
      ]);
      if (pending) return { status: 200, body: paymentView(pending, order.status) };
      const paymentId = newId('payment');
      const charge = await this.provider.charge({
        paymentId,
        orderId,
        amountFen: order.payableFen,
        idempotencyKey: paymentId,
      });
      const now = this.p.clock.now();
      const row: PaymentRow = {
        id: paymentId,
        orderId,
        shopId: order.shopId,
        buyerAccountId: buyerId,
        amountFen: order.payableFen,
        provider: this.provider.name,
        providerRef: charge.providerRef,
        status: charge.status,
        failureReason: charge.failureReason ?? null,
        createdAt: now,
        succeededAt: charge.status === 'succeeded' ? now : null,
      };
      const [, paid] = await Promise.all([
        tx.insert(payments).values(row),
        charge.status === 'succeeded' ? this.orders.markPaid(tx, orderId, paymentId) : false,
        recordEvent(tx, this.p.clock, `payment.${charge.status}`, paymentId, {
          paymentId,
          orderId,
          amountFen: order.payableFen,
        }),
      ]);
      const orderStatus: string = paid ? 'paid' : order.status;
      return { status: 200, body: paymentView(row, orderStatus) };
    });
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  /**
   * Applies a verified provider webhook once: the event id is recorded with the change, so a
   * replay changes nothing. A payment that lands on an order already cancelled is flagged
   * for refund rather than reviving the order.
   */
  async applyWebhook(
    event: PaymentWebhookEvent,
  ): Promise<{ applied: boolean; reason?: string; retry?: boolean }> {
    // Most deliveries confirm what the synchronous charge already recorded: answer those
    // with one read and no writes.
    const [known] = await this.p.db
      .select({ status: payments.status })
      .from(payments)
      .where(eq(payments.providerRef, event.data.providerRef));
    if (!known) return { applied: false, reason: 'unknown_payment', retry: true };
    if (known.status !== 'pending') return { applied: false, reason: `already_${known.status}` };
    const out = await inTransaction(this.p.db, async (tx) => {
      const [payment] = await tx
        .select()
        .from(payments)
        .where(eq(payments.providerRef, event.data.providerRef))
        .for('update');
      if (!payment) return { applied: false, reason: 'unknown_payment', retry: true };
      const fresh = await tx
        .insert(paymentWebhookEvents)
        .values({
          eventId: event.id,
          provider: this.provider.name,
          providerRef: event.data.providerRef,
          receivedAt: this.p.clock.now(),
        })
        .onConflictDoNothing()
        .returning({ eventId: paymentWebhookEvents.eventId });
      if (fresh.length === 0) return { applied: false, reason: 'duplicate_event' };
      if (event.data.amountFen !== payment.amountFen) {
        await recordEvent(tx, this.p.clock, 'payment.amount_mismatch', payment.id, { paymentId: payment.id });
        return { applied: false, reason: 'amount_mismatch' };
      }
      const next = event.type === 'payment.succeeded' ? 'succeeded' : 'failed';
      const [changed] = await tx
        .update(payments)
        .set({
          status: next,
          succeededAt: next === 'succeeded' ? this.p.clock.now() : null,
          failureReason: event.data.failureReason ?? null,
        })
        .where(and(eq(payments.id, payment.id), eq(payments.status, 'pending')))
        .returning();
      if (!changed) return { applied: false, reason: `already_${payment.status}` };
      await recordEvent(tx, this.p.clock, `payment.${next}`, payment.id, {
        paymentId: payment.id,
        orderId: payment.orderId,
      });
      if (next === 'succeeded' && !(await this.orders.markPaid(tx, payment.orderId, payment.id))) {
        await recordEvent(tx, this.p.clock, 'payment.refund_required', payment.id, {
          paymentId: payment.id,
          orderId: payment.orderId,
          amountFen: payment.amountFen,
        });
      }
      return { applied: true };
    });
    this.p.outbox.wake();
    return out;
  }
}
