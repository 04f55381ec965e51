import { and, asc, eq, sql } from 'drizzle-orm';
import { batchedReads } from '../../platform/batched-reads.js';
import { setBounded } from '../../platform/bounded-map.js';
import type { Platform } from '../../platform/context.js';
import {
  type Executor,
  executeLast,
  inJson,
  insertJson,
  insertJsonSql,
  isCheckRefusal,
  jsonList,
  prebuilt,
  type Tx,
} from '../../platform/db.js';
import { AppError, invalidState } from '../../platform/errors.js';
import { buyerGroupCommit, type GroupCommit, type Queued, submit } from '../../platform/group-commit.js';
import {
  type IdempotencyRef,
  type IdempotentResult,
  keyRows,
  requestHash,
  runIdempotent,
} from '../../platform/idempotency.js';
import { ID_PREFIX, newId } from '../../platform/ids.js';
import { eventRows, recordEvent, recordEvents } from '../../platform/outbox.js';
import { idempotencyKeys, outboxEvents } from '../../platform/schema.js';
import { inTransaction } from '../../platform/tx.js';
import type { LedgerService } from '../ledger/service.js';
import type { OrderRow, OrderService } from '../orders/service.js';
import type { ChargeResult, PaymentProvider, PaymentWebhookEvent } from './provider.js';
import { paymentRefunds, payments, paymentWebhookEvents } from './schema.js';

export type PaymentRow = typeof payments.$inferSelect;

interface PayJob {
  buyerId: string;
  orderId: string;
  ref: IdempotencyRef;
  /** Chosen once per request: the provider's idempotency key for the charge. */
  paymentId: string;
}

type QueuedPayment = Queued<PayJob, IdempotentResult<PaymentView>>;

/** At most this many payments in one group commit. */
const PAY_GROUP_MAX = 64;
/** How many settled charges a node remembers for their webhooks (see PaymentService.settled). */
const SETTLED_REMEMBERED = 50_000;

const paymentEvent = (p: PaymentRow) => ({
  topic: `payment.${p.status}`,
  aggregateId: p.id,
  payload: { paymentId: p.id, orderId: p.orderId, amountFen: p.amountFen },
});

export interface RefundInput {
  /** Chosen by the caller and stable across retries: the provider's key and the ledger's ref. */
  refundId: string;
  orderId: string;
  amountFen: number;
  reason: string;
  lineId?: string | undefined;
}

export interface RefundOutcome {
  refundId: string;
  amountFen: number;
  paidFen: number;
  /** Refunded on the order so far, this refund included. */
  refundedFen: number;
  fullyRefunded: boolean;
}

const paymentView = (p: PaymentRow, orderStatus: string) => ({
  paymentId: p.id,
  orderId: p.orderId,
  amountFen: p.amountFen,
  provider: p.provider,
  status: p.status,
  orderStatus,
});
type PaymentView = ReturnType<typeof paymentView>;

export type WebhookOutcome = { applied: boolean; reason?: string; retry?: boolean };
/** Another module's charges through the same provider: answers their webhooks, null for others. */
export type ChargeOwner = (event: PaymentWebhookEvent) => Promise<WebhookOutcome | null>;

/** The orders' charges still pending (payGroup). */
const selectPending = prebuilt((ex) =>
  ex
    .select({ orderId: payments.orderId })
    .from(payments)
    .where(and(inJson(payments.orderId, sql.placeholder('ids')), eq(payments.status, 'pending'))),
);

export class PaymentService {
  private readonly chargeOwners: ChargeOwner[] = [];
  /** The status of charges by provider reference, one query for concurrent webhooks. */
  private readonly knownPayments = batchedReads(async (refs: readonly string[]) => {
    const rows = await this.p.db
      .select({ providerRef: payments.providerRef, status: payments.status })
      .from(payments)
      .where(inJson(payments.providerRef, refs));
    const byRef = new Map(rows.map((r) => [r.providerRef, r]));
    return refs.map((ref) => byRef.get(ref) ?? null);
  });
  /**
   * Charges this node committed as settled, by provider reference. A settled payment never
   * goes back to pending, so the webhook confirming it needs no read at all.
   */
  private readonly settled = new Map<string, string>();
  /** Null when CHECKOUT_GROUP_COMMIT is off: every payment commits alone. */
  private readonly group: GroupCommit<QueuedPayment> | null;

  constructor(
    private readonly p: Platform,
    private readonly orders: OrderService,
    private readonly provider: PaymentProvider,
    private readonly ledger: Pick<LedgerService, 'bookRefund' | 'bookUnclaimedCharge'>,
  ) {
    this.group = p.config.CHECKOUT_GROUP_COMMIT
      ? buyerGroupCommit(PAY_GROUP_MAX, (group: QueuedPayment[]) => this.payGroup(group))
      : null;
  }

  /**
   * Pays an unpaid order. The order row is locked for the attempt; a pending charge from an
   * earlier attempt is returned instead of charging again, so a buyer is never charged twice.
   * Payments arriving together are group-committed (see payGroup); the payment id is chosen
   * once per request and is the provider's idempotency key, so a group that rolls back and
   * pays its members one by one charges nobody twice.
   */
  async pay(buyerId: string, orderId: string, idempotencyKey: string) {
    const job: PayJob = {
      buyerId,
      orderId,
      ref: { scope: `${buyerId}:pay`, key: idempotencyKey, hash: requestHash({ orderId }) },
      paymentId: newId('payment'),
    };
    const result = this.group ? await submit(this.group, job) : await this.payOne(job);
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  /** Remembers charges committed as settled (see `settled`), the oldest forgotten first. */
  private noteSettled(rows: PaymentRow[]): void {
    for (const r of rows) {
      if (r.status !== 'pending') setBounded(this.settled, r.providerRef, r.status, SETTLED_REMEMBERED);
    }
  }

  private async payOne(job: PayJob): Promise<IdempotentResult<PaymentView>> {
    const { buyerId, orderId, paymentId } = job;
    let written: PaymentRow | null = null;
    const result = await runIdempotent(this.p.db, this.p.clock, job.ref, async (tx) => {
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
      const charge = await this.provider.charge({
        paymentId,
        orderId,
        amountFen: order.payableFen,
        idempotencyKey: paymentId,
      });
      const row = this.paymentRow(job, order, charge);
      const [, paid] = await Promise.all([
        insertJson(tx, payments, [row]),
        charge.status === 'succeeded' ? this.orders.markPaid(tx, orderId, paymentId) : false,
        recordEvents(tx, this.p.clock, [paymentEvent(row)]),
      ]);
      written = row;
      return { status: 200, body: paymentView(row, paid ? 'paid' : order.status) };
    });
    if (written && !result.replayed) this.noteSettled([written]);
    return result;
  }

  private paymentRow(job: PayJob, order: OrderRow, charge: ChargeResult): PaymentRow {
    const now = this.p.clock.now();
    return {
      id: job.paymentId,
      orderId: order.id,
      shopId: order.shopId,
      buyerAccountId: job.buyerId,
      amountFen: order.payableFen,
      provider: this.provider.name,
      providerRef: charge.providerRef,
      status: charge.status,
      failureReason: charge.failureReason ?? null,
      createdAt: now,
      succeededAt: charge.status === 'succeeded' ? now : null,
    };
  }

  /**
   * Group commit of payments: the orders are locked in id order with one statement, charged,
   * and the payments, the orders' new status, their events and the idempotency keys written
   * with ONE statement, its COMMIT sent right behind it. Only the plain case joins the group
   * (the buyer's own unpaid order, inside its payment window, with no charge pending; a group
   * holds one request per buyer, so one per order); every other request, and the whole group if
   * a key turns out to be taken, is answered alone after this transaction.
   */
  private async payGroup(group: QueuedPayment[]): Promise<void> {
    let alone = group;
    try {
      const done = await inTransaction(this.p.db, async (tx) => {
        const ids = group.map((g) => g.job.orderId);
        const [{ orders: locked, lines }, pending] = await Promise.all([
          this.orders.lockForPayments(tx, ids),
          selectPending(tx, { ids: jsonList(ids) }),
        ]);
        const byId = new Map(locked.map((o) => [o.id, o]));
        const charging = new Set(pending.map((p) => p.orderId));
        const now = this.p.clock.now();
        const plain = group.filter((g) => {
          const o = byId.get(g.job.orderId);
          return (
            o?.buyerAccountId === g.job.buyerId &&
            o.status === 'pending_payment' &&
            o.payDeadline > now &&
            !charging.has(o.id)
          );
        });
        if (plain.length === 0) return { plain, responses: [], rows: [] };
        const rows = await Promise.all(
          plain.map(async ({ job }) => {
            const order = byId.get(job.orderId)!;
            const charge = await this.provider.charge({
              paymentId: job.paymentId,
              orderId: order.id,
              amountFen: order.payableFen,
              idempotencyKey: job.paymentId,
            });
            return this.paymentRow(job, order, charge);
          }),
        );
        const responses = rows.map((r) => ({
          status: 200,
          body: paymentView(r, r.status === 'succeeded' ? 'paid' : byId.get(r.orderId)!.status),
        }));
        // The orders are locked and unpaid: ONE statement writes the payments, the orders'
        // new status, the events and the idempotency keys.
        const paid = this.orders.lockedPaidParts(
          rows
            .filter((r) => r.status === 'succeeded')
            .map((r) => ({ order: byId.get(r.orderId)!, paymentId: r.id })),
          lines,
          now,
        );
        const keys = keyRows(
          this.p.clock,
          plain.map((g, i) => ({ ref: g.job.ref, ...responses[i]! })),
        );
        // An order not unpaid after all, or a key taken by a racing request, fails the statement
        // (and with it the COMMIT sent behind it): the group is then paid one by one.
        await executeLast(
          tx,
          sql`
            with p as (${insertJsonSql(payments, rows)}),
            u as (${paid.update}),
            e as (${insertJsonSql(outboxEvents, eventRows(this.p.clock, [...paid.events, ...rows.map(paymentEvent)]))}),
            k as (${insertJsonSql(idempotencyKeys, keys, { tail: sql`on conflict do nothing returning 1` })})
            select livecart_check(
              (select count(*) from u) = ${paid.events.length} and (select count(*) from k) = ${keys.length},
              'payment group: an order was not unpaid or a key was taken') as ok`,
        );
        return { plain, responses, rows };
      });
      this.noteSettled(done.rows);
      for (const [i, g] of done.plain.entries()) g.resolve({ ...done.responses[i]!, replayed: false });
      alone = group.filter((g) => !done.plain.includes(g));
    } catch (err) {
      if (!isCheckRefusal(err)) this.p.log.debug({ err }, 'payment group rolled back');
    }
    await Promise.all(alone.map((g) => this.payOne(g.job).then(g.resolve, g.reject)));
  }

  /** Deposits (保证金) are charged through the same provider; their webhooks are routed back. */
  registerChargeOwner(owner: ChargeOwner): void {
    this.chargeOwners.push(owner);
  }

  /**
   * Applies a verified provider webhook once: the event id is recorded with the change, so a
   * replay changes nothing. A payment that lands on an order already cancelled is flagged
   * for refund rather than reviving the order.
   */
  async applyWebhook(event: PaymentWebhookEvent): Promise<WebhookOutcome> {
    // Most deliveries confirm what the synchronous charge already recorded: answer those
    // with one read (shared by the deliveries arriving together) and no writes.
    const settled = this.settled.get(event.data.providerRef);
    const known = settled ? { status: settled } : await this.knownPayments.load(event.data.providerRef);
    if (!known) {
      for (const owner of this.chargeOwners) {
        const out = await owner(event);
        if (out) return out;
      }
      return { applied: false, reason: 'unknown_payment', retry: true };
    }
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

  /**
   * Handler of `payment.refund_required`: a charge captured for an order cancelled before it
   * arrived (a bank-redirect payment confirmed after the payment window closed) goes back to
   * the buyer in full. The refund id is derived from the payment, so a redelivered event, or
   * a retry after the provider answered, refunds once. The ledger books the money in and out
   * (`bookUnclaimedCharge`), never the order's split: the order was not paid.
   */
  async refundUnclaimedCharge(tx: Tx, e: { paymentId: string }): Promise<void> {
    const [payment] = await tx.select().from(payments).where(eq(payments.id, e.paymentId)).for('update');
    if (payment?.status !== 'succeeded') return;
    const refundId = `${ID_PREFIX.refund}_${payment.id.slice(ID_PREFIX.payment.length + 1)}`;
    const [prior] = await tx
      .select({ id: paymentRefunds.id })
      .from(paymentRefunds)
      .where(eq(paymentRefunds.id, refundId));
    if (prior) return;
    await this.returnThroughProvider(tx, payment, {
      refundId,
      orderId: payment.orderId,
      amountFen: payment.amountFen,
      reason: 'order cancelled before the payment arrived',
    });
    await this.ledger.bookUnclaimedCharge(tx, {
      paymentId: payment.id,
      refundId,
      orderId: payment.orderId,
      amountFen: payment.amountFen,
      receivedAt: payment.succeededAt ?? payment.createdAt,
    });
    await recordEvent(tx, this.p.clock, 'payment.refunded', payment.id, {
      paymentId: payment.id,
      orderId: payment.orderId,
      refundId,
      amountFen: payment.amountFen,
    });
  }

  /** The order's captured payment and what its refunds have returned so far (null if unpaid). */
  async refundable(
    ex: Executor,
    orderId: string,
  ): Promise<{ paymentId: string; paidFen: number; refundedFen: number } | null> {
    const [payment] = await ex
      .select({ id: payments.id, amountFen: payments.amountFen })
      .from(payments)
      .where(and(eq(payments.orderId, orderId), eq(payments.status, 'succeeded')))
      .orderBy(asc(payments.createdAt))
      .limit(1);
    if (!payment) return null;
    return {
      paymentId: payment.id,
      paidFen: payment.amountFen,
      refundedFen: await this.refundedOf(ex, payment.id),
    };
  }

  private async refundedOf(ex: Executor, paymentId: string): Promise<number> {
    const [row] = await ex
      .select({ sum: sql<string | null>`sum(${paymentRefunds.amountFen})` })
      .from(paymentRefunds)
      .where(and(eq(paymentRefunds.paymentId, paymentId), eq(paymentRefunds.status, 'succeeded')));
    return Number(row?.sum ?? 0);
  }

  /**
   * Refunds part or all of an order's captured payment, in the caller's transaction: the
   * payment row is locked so refunds of one order queue, the provider is asked with the
   * refund id as its idempotency key, and the refund is recorded, booked in the ledger and
   * announced (`order.refunded`) together. A retry with the same refund id moves nothing.
   */
  async refund(tx: Tx, r: RefundInput): Promise<RefundOutcome> {
    const [payment] = await tx
      .select()
      .from(payments)
      .where(and(eq(payments.orderId, r.orderId), eq(payments.status, 'succeeded')))
      .orderBy(asc(payments.createdAt))
      .limit(1)
      .for('update');
    if (!payment) throw invalidState(`Order ${r.orderId} has no captured payment to refund.`);
    const [[prior], refundedBefore] = await Promise.all([
      tx.select().from(paymentRefunds).where(eq(paymentRefunds.id, r.refundId)),
      this.refundedOf(tx, payment.id),
    ]);
    if (prior) {
      return {
        refundId: prior.id,
        amountFen: prior.amountFen,
        paidFen: payment.amountFen,
        refundedFen: refundedBefore,
        fullyRefunded: refundedBefore === payment.amountFen,
      };
    }
    if (!Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) {
      throw new AppError('VALIDATION_FAILED', `A refund is a positive number of fen, not ${r.amountFen}.`);
    }
    if (refundedBefore + r.amountFen > payment.amountFen) {
      throw new AppError(
        'REFUND_EXCEEDS_PAID',
        `A refund of ${r.amountFen} fen exceeds what is still refundable on order ${r.orderId} (paid ${payment.amountFen}, refunded ${refundedBefore}).`,
        { paidFen: payment.amountFen, refundedFen: refundedBefore },
      );
    }
    await this.returnThroughProvider(tx, payment, r);
    const refundedFen = refundedBefore + r.amountFen;
    const fullyRefunded = refundedFen === payment.amountFen;
    await this.ledger.bookRefund(tx, {
      refundId: r.refundId,
      orderId: r.orderId,
      amountFen: r.amountFen,
      lineId: r.lineId,
    });
    await recordEvent(tx, this.p.clock, 'order.refunded', r.orderId, {
      orderId: r.orderId,
      shopId: payment.shopId,
      refundId: r.refundId,
      amountFen: r.amountFen,
      fullyRefunded,
    });
    return {
      refundId: r.refundId,
      amountFen: r.amountFen,
      paidFen: payment.amountFen,
      refundedFen,
      fullyRefunded,
    };
  }

  /**
   * Asks the provider to return money of a captured payment (the refund id is its idempotency
   * key) and records the refund; a refusal is REFUND_FAILED and records nothing.
   */
  private async returnThroughProvider(tx: Tx, payment: PaymentRow, r: RefundInput): Promise<void> {
    const result = await this.provider.refund({
      refundId: r.refundId,
      paymentId: payment.id,
      providerRef: payment.providerRef,
      amountFen: r.amountFen,
      idempotencyKey: r.refundId,
    });
    if (result.status !== 'succeeded') {
      throw new AppError(
        'REFUND_FAILED',
        `The payment provider refused the refund of order ${r.orderId} (${result.failureReason ?? 'no reason given'}); try again later.`,
        { reason: result.failureReason ?? null },
      );
    }
    const now = this.p.clock.now();
    await tx.insert(paymentRefunds).values({
      id: r.refundId,
      paymentId: payment.id,
      orderId: r.orderId,
      shopId: payment.shopId,
      lineId: r.lineId ?? null,
      amountFen: r.amountFen,
      status: 'succeeded',
      reason: r.reason,
      providerRefundRef: result.providerRefundRef,
      createdAt: now,
      succeededAt: now,
    });
  }
}
