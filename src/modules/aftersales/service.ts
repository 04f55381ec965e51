import { and, asc, desc, eq, gt, inArray, lt, lte, type SQL } from 'drizzle-orm';
import { DAY, HOUR } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import type { Tx } from '../../platform/db.js';
import { AppError, invalidState, notFound } from '../../platform/errors.js';
import { requestHash, runIdempotent } from '../../platform/idempotency.js';
import { newId } from '../../platform/ids.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import type { LedgerService } from '../ledger/service.js';
import type { OrderService } from '../orders/service.js';
import { refundStageOf } from '../orders/service.js';
import type { PaymentService } from '../payments/service.js';
import { assertNoExternalLinks } from '../venues/guard.js';
import {
  ACTIVE_STATUSES,
  type AfterSalesOutcome,
  type AfterSalesStatus,
  type AfterSalesType,
  afterSalesCases,
  REJECT_REASONS,
  type RejectReason,
  TIMED_STATUSES,
} from './schema.js';

/** The merchant answers an open case within this, or the clock approves it (as Douyin does). */
export const MERCHANT_RESPONSE_MS = 48 * HOUR;
/** A rejected case may be escalated to platform arbitration within this, or it closes. */
export const ESCALATION_MS = 48 * HOUR;
/** The buyer ships an approved return within this, or the case closes. */
export const RETURN_SHIPPING_MS = 7 * DAY;
/** The merchant confirms a shipped return within this, or the clock confirms it and refunds. */
export const RETURN_RECEIPT_MS = 7 * DAY;

const SWEEP_BATCH = 200;
const SYSTEM = 'system';

export type CaseRow = typeof afterSalesCases.$inferSelect;

export interface OpenCaseInput {
  type: AfterSalesType;
  reasonCode: string;
  amountFen?: number | undefined;
  lineId?: string | undefined;
  description?: string | undefined;
}

/** A case as its buyer, its shop and the platform see it: ids and amounts, no recipient data. */
export function caseView(c: CaseRow) {
  return {
    id: c.id,
    orderId: c.orderId,
    shopId: c.shopId,
    type: c.type,
    stage: c.stage,
    status: c.status,
    reasonCode: c.reasonCode,
    description: c.description,
    lineId: c.lineId,
    requestedFen: c.requestedFen,
    refundedFen: c.refundedFen,
    refundId: c.refundedFen === null ? null : c.refundId,
    rejection: c.rejectReason ? { reason: c.rejectReason, evidence: c.rejectEvidence } : null,
    returnShipment: c.returnTrackingNo ? { carrier: c.returnCarrier, trackingNo: c.returnTrackingNo } : null,
    escalationStatement: c.escalationStatement,
    arbitrationNote: c.arbitrationNote,
    outcome: c.outcome,
    deadlineAt: c.deadlineAt,
    openedAt: c.openedAt,
    respondedAt: c.respondedAt,
    respondedBy: c.respondedBy,
    returnShippedAt: c.returnShippedAt,
    escalatedAt: c.escalatedAt,
    closedAt: c.closedAt,
  };
}
export type CaseView = ReturnType<typeof caseView>;

type Page = { cursor?: string | undefined; limit: number };

/**
 * After-sales (售后): a buyer's request for money back on a paid order, the merchant's answer,
 * the return of goods, and platform arbitration. Every transition is one conditional UPDATE
 * on the case's status, so two racing actions cannot both win; the refund, the order's
 * status and the ledger's settlement hold move in the same transaction as the case.
 */
export class AfterSalesService {
  constructor(
    private readonly p: Platform,
    private readonly orders: Pick<
      OrderService,
      'lockForAfterSales' | 'holdShipping' | 'releaseShipping' | 'markRefunded'
    >,
    private readonly payments: Pick<PaymentService, 'refundable' | 'refund'>,
    private readonly ledger: Pick<LedgerService, 'holdSettlement' | 'releaseSettlement' | 'refundableByLine'>,
  ) {}

  // --- buyer -----------------------------------------------------------------------------------

  /**
   * Opens a case on the buyer's paid order: checks the window, the amount and that no other
   * case is open, and holds the order's settlement (and, for a refund before shipment, its
   * shipping) until the case closes.
   */
  async open(buyerId: string, orderId: string, input: OpenCaseInput): Promise<CaseView> {
    assertNoExternalLinks({ 'body.description': input.description });
    const view = await inTransaction(this.p.db, async (tx) => {
      const { order, lines } = await this.orders.lockForAfterSales(tx, buyerId, orderId);
      const [active] = await tx
        .select({ id: afterSalesCases.id, status: afterSalesCases.status })
        .from(afterSalesCases)
        .where(
          and(eq(afterSalesCases.orderId, orderId), inArray(afterSalesCases.status, [...ACTIVE_STATUSES])),
        );
      if (active) {
        throw new AppError(
          'AFTERSALES_ALREADY_OPEN',
          `Order ${orderId} already has an after-sales case in progress (${active.id}, ${active.status}); wait for it to close or cancel it.`,
          { caseId: active.id },
        );
      }
      if (order.status === 'pending_payment' || order.status === 'cancelled') {
        throw invalidState(`Order ${orderId} is ${order.status}; after-sales opens once an order is paid.`);
      }
      const money = await this.payments.refundable(tx, orderId);
      if (!money) throw invalidState(`Order ${orderId} has no captured payment to refund.`);
      const remaining = money.paidFen - money.refundedFen;
      const line = input.lineId ? lines.find((l) => l.id === input.lineId) : undefined;
      if (input.lineId && !line) {
        throw new AppError('VALIDATION_FAILED', `body.lineId: order ${orderId} has no line ${input.lineId}.`);
      }
      // A line refunds at most what it still holds (its own earlier refunds count).
      const lineLeft = line
        ? ((await this.ledger.refundableByLine(tx, orderId)).get(line.id) ?? line.paidFen)
        : 0;
      const ceiling = line ? Math.min(lineLeft, remaining) : remaining;
      const amountFen = input.amountFen ?? ceiling;
      if (amountFen <= 0 || amountFen > ceiling) {
        throw new AppError(
          'REFUND_EXCEEDS_PAID',
          ceiling === 0
            ? `Nothing is left to refund on ${line ? `line ${line.id} of ` : ''}order ${orderId} (paid ${money.paidFen} fen, refunded ${money.refundedFen}).`
            : `body.amountFen: at most ${ceiling} fen can still be refunded on ${line ? `line ${line.id} of ` : ''}order ${orderId}; you asked for ${amountFen}.`,
          { paidFen: money.paidFen, refundedFen: money.refundedFen, refundableFen: ceiling },
        );
      }
      const stage = refundStageOf(order.status);
      if (!stage) throw invalidState(`Order ${orderId} is ${order.status}; it takes no after-sales request.`);
      if (input.type === 'return_and_refund' && stage === 'before_shipment') {
        throw invalidState(
          `Order ${orderId} has not shipped, so there is nothing to return; ask for refund_only, which stops the shipment.`,
        );
      }
      const now = this.p.clock.now();
      // Counted from receipt (confirmed by the buyer, or by the clock after delivery): until
      // then the goods are the buyer's to refuse.
      if (order.completedAt) {
        const from = Math.max(order.completedAt.getTime(), order.deliveredAt?.getTime() ?? 0);
        const endsAt = new Date(from + this.p.config.AFTER_SALES_DAYS * DAY);
        if (now >= endsAt) {
          throw new AppError(
            'AFTERSALES_WINDOW_CLOSED',
            `The after-sales window of order ${orderId} closed at ${endsAt.toISOString()} (${this.p.config.AFTER_SALES_DAYS} days after receipt).`,
            { endedAt: endsAt.toISOString() },
          );
        }
      }
      const row: CaseRow = {
        id: newId('afterSalesCase'),
        orderId,
        shopId: order.shopId,
        buyerAccountId: buyerId,
        type: input.type,
        stage,
        status: 'open',
        reasonCode: input.reasonCode,
        description: input.description ?? null,
        lineId: input.lineId ?? null,
        requestedFen: amountFen,
        refundId: newId('refund'),
        refundedFen: null,
        rejectReason: null,
        rejectEvidence: null,
        escalationStatement: null,
        returnCarrier: null,
        returnTrackingNo: null,
        arbitrationNote: null,
        arbitratorAccountId: null,
        outcome: null,
        deadlineAt: new Date(now.getTime() + MERCHANT_RESPONSE_MS),
        openedAt: now,
        respondedAt: null,
        respondedBy: null,
        returnShippedAt: null,
        escalatedAt: null,
        closedAt: null,
        updatedAt: now,
      };
      await tx.insert(afterSalesCases).values(row);
      // LEDGER_NOT_READY (the payment is still being booked) rolls the case back: 409, retry.
      await this.ledger.holdSettlement(tx, orderId);
      if (input.type === 'refund_only' && stage === 'before_shipment') {
        await this.orders.holdShipping(tx, orderId, row.id);
      }
      await recordEvent(tx, this.p.clock, 'aftersales.opened', row.id, {
        caseId: row.id,
        orderId,
        shopId: order.shopId,
        type: row.type,
        stage,
        requestedFen: amountFen,
      });
      return caseView(row);
    });
    this.p.outbox.wake();
    return view;
  }

  async getForBuyer(buyerId: string, caseId: string): Promise<CaseView> {
    return caseView(await this.find(eq(afterSalesCases.buyerAccountId, buyerId), caseId));
  }

  async listForBuyer(buyerId: string, page: Page & { orderId?: string | undefined }) {
    const conds = [eq(afterSalesCases.buyerAccountId, buyerId)];
    if (page.orderId) conds.push(eq(afterSalesCases.orderId, page.orderId));
    return this.page(conds, page);
  }

  async cancel(buyerId: string, caseId: string): Promise<CaseView> {
    return this.run(async (tx) => {
      const done = await this.transition(tx, eq(afterSalesCases.buyerAccountId, buyerId), caseId, {
        from: ['open', 'awaiting_return', 'rejected'],
        action: 'cancelled',
        set: { status: 'cancelled', outcome: 'cancelled', closedAt: this.p.clock.now(), deadlineAt: null },
      });
      await this.closed(tx, done);
      return done;
    });
  }

  /** A rejected case goes to platform arbitration, within the escalation window. */
  async escalate(buyerId: string, caseId: string, statement: string): Promise<CaseView> {
    assertNoExternalLinks({ 'body.statement': statement });
    const now = this.p.clock.now();
    return this.run((tx) =>
      this.transition(tx, eq(afterSalesCases.buyerAccountId, buyerId), caseId, {
        from: ['rejected'],
        // The deadline check is in the same statement the closing job races with.
        also: gt(afterSalesCases.deadlineAt, now),
        alsoRefusal: (cur) =>
          `The escalation window of case ${caseId} closed at ${cur.deadlineAt?.toISOString()}; it can no longer be escalated.`,
        action: 'escalated',
        set: { status: 'arbitration', escalatedAt: now, escalationStatement: statement, deadlineAt: null },
      }),
    );
  }

  /** The buyer ships an approved return back to the shop. */
  async submitReturn(buyerId: string, caseId: string, shipment: { carrier: string; trackingNo: string }) {
    const now = this.p.clock.now();
    return this.run((tx) =>
      this.transition(tx, eq(afterSalesCases.buyerAccountId, buyerId), caseId, {
        from: ['awaiting_return'],
        action: 'given a return shipment',
        set: {
          status: 'return_shipped',
          returnCarrier: shipment.carrier,
          returnTrackingNo: shipment.trackingNo,
          returnShippedAt: now,
          deadlineAt: new Date(now.getTime() + RETURN_RECEIPT_MS),
        },
      }),
    );
  }

  // --- merchant --------------------------------------------------------------------------------

  async getForShop(shopId: string, caseId: string): Promise<CaseView> {
    return caseView(await this.find(eq(afterSalesCases.shopId, shopId), caseId));
  }

  async listForShop(shopId: string, page: Page & { status?: AfterSalesStatus | undefined }) {
    const conds = [eq(afterSalesCases.shopId, shopId)];
    if (page.status) conds.push(eq(afterSalesCases.status, page.status));
    return this.page(conds, page);
  }

  /**
   * Approves an open case: a refund-only case is refunded at once; a return waits for the
   * goods. Idempotent by key: a replay answers the first response and moves no money.
   */
  async approve(shopId: string, merchantId: string, caseId: string, idempotencyKey: string) {
    const ref = { scope: `${shopId}:aftersales-approve`, key: idempotencyKey, hash: requestHash({ caseId }) };
    const result = await runIdempotent(this.p.db, this.p.clock, ref, async (tx) => {
      const c = await this.find(eq(afterSalesCases.shopId, shopId), caseId, tx);
      return { status: 200, body: caseView(await this.approveCase(tx, c, merchantId)) };
    });
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  async reject(
    shopId: string,
    merchantId: string,
    caseId: string,
    input: { reason: RejectReason; evidence?: string | undefined },
  ): Promise<CaseView> {
    if (REJECT_REASONS[input.reason].evidence && !input.evidence) {
      throw new AppError('VALIDATION_FAILED', `body.evidence: the reason ${input.reason} needs evidence.`);
    }
    assertNoExternalLinks({ 'body.evidence': input.evidence });
    const now = this.p.clock.now();
    return this.run(async (tx) => {
      const done = await this.transition(tx, eq(afterSalesCases.shopId, shopId), caseId, {
        from: ['open', 'return_shipped'],
        action: 'rejected',
        set: {
          status: 'rejected',
          rejectReason: input.reason,
          rejectEvidence: input.evidence ?? null,
          respondedAt: now,
          respondedBy: merchantId,
          deadlineAt: new Date(now.getTime() + ESCALATION_MS),
        },
      });
      // The merchant declined to stop the shipment; the settlement stays held until the case closes.
      await this.orders.releaseShipping(tx, done.orderId, done.id);
      return done;
    });
  }

  /** The returned goods arrived: the refund goes out. Idempotent by key, like approve. */
  async confirmReturn(shopId: string, merchantId: string, caseId: string, idempotencyKey: string) {
    const ref = {
      scope: `${shopId}:aftersales-confirm-return`,
      key: idempotencyKey,
      hash: requestHash({ caseId }),
    };
    const result = await runIdempotent(this.p.db, this.p.clock, ref, async (tx) => {
      const c = await this.find(eq(afterSalesCases.shopId, shopId), caseId, tx);
      return { status: 200, body: caseView(await this.confirmReturnOf(tx, c, merchantId)) };
    });
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  // --- platform ------------------------------------------------------------------------------

  async getForOperator(caseId: string): Promise<CaseView> {
    return caseView(await this.find(undefined, caseId));
  }

  /** The arbitration queue (or any status), oldest first: first come, first judged. */
  async listForOperator(page: Page & { status: AfterSalesStatus }) {
    const conds = [eq(afterSalesCases.status, page.status)];
    if (page.cursor) conds.push(gt(afterSalesCases.id, page.cursor));
    const rows = await this.p.db
      .select()
      .from(afterSalesCases)
      .where(and(...conds))
      .orderBy(asc(afterSalesCases.id))
      .limit(page.limit);
    return {
      items: rows.map(caseView),
      nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.id : null,
    };
  }

  /** The platform's ruling on an escalated case: refund (all or part of the claim) or reject. */
  async decide(
    operatorId: string,
    caseId: string,
    input: { decision: 'refund' | 'reject'; amountFen?: number | undefined; note: string },
    idempotencyKey: string,
  ) {
    const ref = {
      scope: `${operatorId}:aftersales-decide`,
      key: idempotencyKey,
      hash: requestHash({ caseId, ...input }),
    };
    const result = await runIdempotent(this.p.db, this.p.clock, ref, async (tx) => {
      const c = await this.find(undefined, caseId, tx);
      const now = this.p.clock.now();
      const ruling = {
        arbitrationNote: input.note,
        arbitratorAccountId: operatorId,
        closedAt: now,
        deadlineAt: null,
      };
      if (input.decision === 'reject') {
        if (input.amountFen !== undefined) {
          throw new AppError(
            'VALIDATION_FAILED',
            'body.amountFen: a rejection refunds nothing; leave it out.',
          );
        }
        const done = await this.transition(tx, undefined, c.id, {
          from: ['arbitration'],
          action: 'decided',
          set: { ...ruling, status: 'closed', outcome: 'arbitration_rejected' },
        });
        await this.closed(tx, done);
        return { status: 200, body: caseView(done) };
      }
      const amountFen = input.amountFen ?? c.requestedFen;
      if (amountFen > c.requestedFen) {
        throw new AppError(
          'VALIDATION_FAILED',
          `body.amountFen: at most the ${c.requestedFen} fen the buyer asked for; you gave ${amountFen}.`,
        );
      }
      const done = await this.transition(tx, undefined, c.id, {
        from: ['arbitration'],
        action: 'decided',
        set: { ...ruling, status: 'refunded', outcome: 'refunded', refundedFen: amountFen },
      });
      await this.refundAndClose(tx, done);
      return { status: 200, body: caseView(done) };
    });
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  // --- the clock -------------------------------------------------------------------------------

  /**
   * Job: acts on cases whose deadline passed: an unanswered case is approved (a refund-only
   * case refunded), an unshipped return closes, an unconfirmed return is confirmed and
   * refunded, and a rejection not escalated in time closes. One transaction per case, so one
   * failing refund does not hold up the others.
   */
  async sweepDeadlines(): Promise<number> {
    let total = 0;
    for (;;) {
      const due = await this.p.db
        .select({ id: afterSalesCases.id })
        .from(afterSalesCases)
        .where(
          and(
            inArray(afterSalesCases.status, [...TIMED_STATUSES]),
            lte(afterSalesCases.deadlineAt, this.p.clock.now()),
          ),
        )
        .orderBy(asc(afterSalesCases.deadlineAt))
        .limit(SWEEP_BATCH);
      let n = 0;
      for (const { id } of due) {
        try {
          if (await this.expire(id)) n++;
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          // The refund cannot go out as asked (say, the line has less left than claimed):
          // a person at the platform decides instead of the clock retrying for ever.
          this.p.log.warn(
            { caseId: id, code: err.code },
            'after-sales deadline action failed; sent to arbitration',
          );
          await this.toArbitration(id);
        }
      }
      total += n;
      if (due.length < SWEEP_BATCH) break;
    }
    if (total > 0) this.p.outbox.wake();
    return total;
  }

  private async expire(caseId: string): Promise<boolean> {
    return inTransaction(this.p.db, async (tx) => {
      const now = this.p.clock.now();
      const [c] = await tx
        .select()
        .from(afterSalesCases)
        .where(
          and(
            eq(afterSalesCases.id, caseId),
            inArray(afterSalesCases.status, [...TIMED_STATUSES]),
            lte(afterSalesCases.deadlineAt, now),
          ),
        )
        .for('update', { skipLocked: true });
      if (!c) return false; // handled meanwhile, or another node has it
      switch (c.status) {
        case 'open':
          await this.approveCase(tx, c, SYSTEM);
          return true;
        case 'return_shipped':
          await this.confirmReturnOf(tx, c, SYSTEM);
          return true;
        case 'awaiting_return':
        case 'rejected': {
          const outcome: AfterSalesOutcome = c.status === 'rejected' ? 'rejected' : 'return_not_shipped';
          const done = await this.transition(tx, undefined, c.id, {
            from: [c.status],
            action: 'closed',
            set: { status: 'closed', outcome, closedAt: now, deadlineAt: null },
          });
          await this.closed(tx, done);
          return true;
        }
        default:
          return false;
      }
    });
  }

  private async toArbitration(caseId: string): Promise<void> {
    await inTransaction(this.p.db, (tx) =>
      tx
        .update(afterSalesCases)
        .set({
          status: 'arbitration',
          escalatedAt: this.p.clock.now(),
          deadlineAt: null,
          updatedAt: this.p.clock.now(),
        })
        .where(and(eq(afterSalesCases.id, caseId), inArray(afterSalesCases.status, [...TIMED_STATUSES]))),
    );
  }

  // --- transitions -----------------------------------------------------------------------------

  private async approveCase(tx: Tx, c: CaseRow, by: string): Promise<CaseRow> {
    const now = this.p.clock.now();
    const answer = { respondedAt: now, respondedBy: by };
    if (c.type === 'refund_only') {
      const done = await this.transition(tx, eq(afterSalesCases.shopId, c.shopId), c.id, {
        from: ['open'],
        action: 'approved',
        set: {
          ...answer,
          status: 'refunded',
          outcome: 'refunded',
          refundedFen: c.requestedFen,
          closedAt: now,
          deadlineAt: null,
        },
      });
      await this.refundAndClose(tx, done);
      return done;
    }
    return this.transition(tx, eq(afterSalesCases.shopId, c.shopId), c.id, {
      from: ['open'],
      action: 'approved',
      set: { ...answer, status: 'awaiting_return', deadlineAt: new Date(now.getTime() + RETURN_SHIPPING_MS) },
    });
  }

  private async confirmReturnOf(tx: Tx, c: CaseRow, by: string): Promise<CaseRow> {
    const now = this.p.clock.now();
    const done = await this.transition(tx, eq(afterSalesCases.shopId, c.shopId), c.id, {
      from: ['return_shipped'],
      action: 'confirmed as returned',
      set: {
        status: 'refunded',
        outcome: 'refunded',
        refundedFen: c.requestedFen,
        respondedBy: by,
        closedAt: now,
        deadlineAt: null,
      },
    });
    await this.refundAndClose(tx, done);
    return done;
  }

  /** Pays the case's refund (its id is fixed, so a retry is the same refund) and closes it. */
  private async refundAndClose(tx: Tx, c: CaseRow): Promise<void> {
    const refund = await this.payments.refund(tx, {
      refundId: c.refundId,
      orderId: c.orderId,
      amountFen: c.refundedFen!,
      reason: `aftersales:${c.id}`,
      lineId: c.lineId ?? undefined,
    });
    if (refund.fullyRefunded) await this.orders.markRefunded(tx, c.orderId);
    await this.closed(tx, c);
  }

  /** Every way a case closes comes here once, in the closing transaction: the holds lift. */
  private async closed(tx: Tx, c: CaseRow): Promise<void> {
    await Promise.all([
      this.ledger.releaseSettlement(tx, c.orderId),
      this.orders.releaseShipping(tx, c.orderId, c.id),
      recordEvent(tx, this.p.clock, 'aftersales.closed', c.id, {
        caseId: c.id,
        orderId: c.orderId,
        shopId: c.shopId,
        outcome: c.outcome,
        refundedFen: c.refundedFen ?? 0,
      }),
    ]);
  }

  /**
   * One conditional UPDATE from the allowed statuses; when it changes nothing, the case is
   * read to say why (missing for this caller → 404, else its current status → 409).
   */
  private async transition(
    tx: Tx,
    scope: SQL | undefined,
    caseId: string,
    t: {
      from: AfterSalesStatus[];
      /** A further condition, and what to say when only it failed. */
      also?: SQL;
      alsoRefusal?: (cur: CaseRow) => string;
      action: string;
      set: Partial<CaseRow>;
    },
  ): Promise<CaseRow> {
    const [done] = await tx
      .update(afterSalesCases)
      .set({ ...t.set, updatedAt: this.p.clock.now() })
      .where(and(eq(afterSalesCases.id, caseId), scope, inArray(afterSalesCases.status, t.from), t.also))
      .returning();
    if (done) return done;
    const cur = await this.find(scope, caseId, tx);
    if (t.from.includes(cur.status) && t.alsoRefusal) throw invalidState(t.alsoRefusal(cur));
    throw invalidState(
      `Case ${caseId} is ${cur.status}; only a case that is ${t.from.join(' or ')} can be ${t.action}.`,
      { status: cur.status },
    );
  }

  private async find(scope: SQL | undefined, caseId: string, ex?: Tx): Promise<CaseRow> {
    const [c] = await (ex ?? this.p.db)
      .select()
      .from(afterSalesCases)
      .where(and(eq(afterSalesCases.id, caseId), scope));
    if (!c) throw notFound('AFTERSALES_CASE_NOT_FOUND', 'After-sales case', caseId);
    return c;
  }

  private async page(conds: SQL[], page: Page) {
    if (page.cursor) conds.push(lt(afterSalesCases.id, page.cursor));
    const rows = await this.p.db
      .select()
      .from(afterSalesCases)
      .where(and(...conds))
      .orderBy(desc(afterSalesCases.id))
      .limit(page.limit);
    return {
      items: rows.map(caseView),
      nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.id : null,
    };
  }

  private async run(work: (tx: Tx) => Promise<CaseRow>): Promise<CaseView> {
    const done = await inTransaction(this.p.db, work);
    this.p.outbox.wake();
    return caseView(done);
  }
}
