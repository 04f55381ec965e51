import { and, asc, eq, gte, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { DAY } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import {
  type Executor,
  inJson,
  insertJson,
  insertJsonSql,
  jsonList,
  prebuilt,
  rowsOf,
  type Tx,
} from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { DomainEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import {
  creatorAccount,
  credit,
  debit,
  holderBalance,
  isMaterialised,
  PLATFORM,
  type Posting,
  shopAccount,
} from './accounts.js';
import {
  commissionFreezes,
  feeRates,
  ledgerBalances,
  ledgerJournals,
  ledgerPostings,
  orderMoney,
  orderMoneyLines,
} from './schema.js';
import { allocateRefund, type LineSplit, type Parts, refundDelta, splitLine, sumParts } from './split.js';

/** The `order.paid` payload the ledger books (published by the orders module). */
export interface OrderPaidPayload {
  orderId: string;
  shopId: string;
  paidAt: string;
  payableFen: number;
  platformDiscountFen: number;
  creatorAccountId: string | null;
  lines: {
    lineId: string;
    categoryId: string;
    paidFen: number;
    platformDiscountFen: number;
    commissionBps: number;
  }[];
}

export interface JournalInput {
  kind: string;
  /** Unique per kind: the business fact this journal books (an order id, a refund id, …). */
  ref: string;
  memo?: string;
  /** When the money moved (defaults to now): a payment booked late is still dated when it was paid. */
  at?: Date;
  postings: Posting[];
}

export type OrderMoneyRow = typeof orderMoney.$inferSelect;

/** Fee rates of categories in force at any time in [from, to] (LedgerService.feeRatesOver). */
const selectFeeRates = prebuilt((ex) =>
  ex
    .select()
    .from(feeRates)
    .where(
      and(
        inJson(feeRates.categoryId, sql.placeholder('categories')),
        sql`${feeRates.startsAt} <= ${sql.placeholder('to')}::timestamptz`,
        or(isNull(feeRates.endsAt), sql`${feeRates.endsAt} > ${sql.placeholder('from')}::timestamptz`),
      ),
    )
    .orderBy(asc(feeRates.startsAt)),
);

export class LedgerService {
  constructor(private readonly p: Platform) {}

  /**
   * Posts a balanced journal in the caller's transaction, all postings in one statement (the
   * database refuses an unbalanced journal). Returns null when `(kind, ref)` was posted before.
   */
  async post(tx: Executor, j: JournalInput): Promise<string | null> {
    return (await this.postMany(tx, [j]))[0]!;
  }

  /**
   * Posts several balanced journals with two statements (journals, then all their postings).
   * Returns each journal's id in input order, null for one whose `(kind, ref)` was posted before.
   */
  async postMany(tx: Executor, journals: JournalInput[]): Promise<(string | null)[]> {
    if (journals.length === 0) return [];
    const rows = this.journalRows(journals);
    const made = new Set(
      (
        await insertJson<typeof ledgerJournals, { id: string }>(
          tx,
          ledgerJournals,
          rows.journals,
          sql`on conflict do nothing returning id`,
        )
      ).map((m) => m.id),
    );
    await insertJson(tx, ledgerPostings, rows.postings(made));
    return rows.journals.map((r) => (made.has(r.id) ? r.id : null));
  }

  /** Journals checked (balanced, in whole fen) and given ids: their rows and their postings' rows. */
  private journalRows(journals: JournalInput[]) {
    const rows = journals.map((j) => {
      const postings = j.postings.filter((p) => p.amount !== 0);
      const sum = postings.reduce((s, p) => s + p.amount, 0);
      if (sum !== 0) throw new Error(`journal ${j.kind}/${j.ref} does not balance (${sum})`);
      for (const p of postings) {
        if (!Number.isSafeInteger(p.amount))
          throw new Error(`journal ${j.kind}/${j.ref}: ${p.amount} is not fen`);
      }
      return { id: newId('journal'), j, postings, at: j.at ?? this.p.clock.now() };
    });
    return {
      journals: rows.map((r) => ({
        id: r.id,
        kind: r.j.kind,
        ref: r.j.ref,
        memo: r.j.memo ?? '',
        createdAt: r.at,
      })),
      /** The postings of all journals, or of those made. */
      postings: (made?: Set<string>) =>
        rows
          .filter((r) => !made || made.has(r.id))
          .flatMap((r) =>
            r.postings.map((p) => ({
              journalId: r.id,
              account: p.account,
              amount: p.amount,
              orderId: p.orderId ?? null,
              createdAt: r.at,
            })),
          ),
    };
  }

  /** Holder balances of the given accounts (materialised ones read, platform ones summed). */
  async balances(ex: Executor, accounts: string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = Object.fromEntries(accounts.map((a) => [a, 0]));
    const mat = accounts.filter(isMaterialised);
    const plat = accounts.filter((a) => !isMaterialised(a));
    if (mat.length > 0) {
      const rows = await ex.select().from(ledgerBalances).where(inArray(ledgerBalances.account, mat));
      for (const r of rows) out[r.account] = holderBalance(r.account, r.balance);
    }
    if (plat.length > 0) {
      const rows = await ex
        .select({ account: ledgerPostings.account, sum: sql<string>`sum(${ledgerPostings.amount})` })
        .from(ledgerPostings)
        .where(inArray(ledgerPostings.account, plat))
        .groupBy(ledgerPostings.account);
      for (const r of rows) out[r.account] = holderBalance(r.account, Number(r.sum));
    }
    return out;
  }

  /** Every balance of one owner (`shop:<id>:` or `creator:<id>:`), by bucket. */
  async ownerBalances(prefix: string) {
    const rows = await this.p.db
      .select()
      .from(ledgerBalances)
      .where(sql`${ledgerBalances.account} like ${likePrefix(prefix)}`);
    const get = (bucket: string) => {
      const r = rows.find((x) => x.account === prefix + bucket);
      return r ? holderBalance(r.account, r.balance) : 0;
    };
    return {
      pendingFen: get('pending'),
      availableFen: get('available'),
      deposits: rows
        .filter((r) => r.account.startsWith(`${prefix}deposit`))
        .map((r) => ({ account: r.account, balanceFen: holderBalance(r.account, r.balance) })),
    };
  }

  async depositAccountsOf(prefix: string): Promise<string[]> {
    const rows = await this.p.db
      .select({ account: ledgerBalances.account })
      .from(ledgerBalances)
      .where(sql`${ledgerBalances.account} like ${likePrefix(prefix)}`);
    return rows.map((r) => r.account).sort();
  }

  /** Locks an owner's materialised balance row (for a withdrawal or a deduction) and returns it. */
  async lockBalance(tx: Tx, account: string): Promise<number> {
    const [row] = await tx
      .select()
      .from(ledgerBalances)
      .where(eq(ledgerBalances.account, account))
      .for('update');
    return row ? holderBalance(account, row.balance) : 0;
  }

  // --- technical service fee ---------------------------------------------------------------

  /**
   * The fee rate of each category at `at`: a programme (waiver or reduction) active then wins
   * over the base rate, the lowest programme rate if several overlap; a category without any
   * rate pays the configured default.
   */
  async feeRatesAt(ex: Executor, categoryIds: string[], at: Date): Promise<Map<string, number>> {
    return (await this.feeRatesOver(ex, categoryIds, at, at))(categoryIds, at);
  }

  /**
   * Reads the rates of these categories in force at any time in [from, to] with one query, and
   * returns the rule for one moment: the lowest active programme, else the latest base rate,
   * else `SERVICE_FEE_DEFAULT_BPS`.
   */
  private async feeRatesOver(ex: Executor, categoryIds: string[], from: Date, to: Date) {
    const unique = [...new Set(categoryIds)];
    const rows =
      unique.length === 0
        ? []
        : await selectFeeRates(ex, {
            categories: jsonList(unique),
            from: from.toISOString(),
            to: to.toISOString(),
          });
    return (cats: string[], at: Date): Map<string, number> => {
      const out = new Map(cats.map((c) => [c, this.p.config.SERVICE_FEE_DEFAULT_BPS]));
      const active = rows.filter((r) => r.startsAt <= at && (r.endsAt === null || r.endsAt > at));
      for (const c of new Set(cats)) {
        const mine = active.filter((r) => r.categoryId === c);
        const programmes = mine.filter((r) => r.programme !== null);
        if (programmes.length > 0) out.set(c, Math.min(...programmes.map((r) => r.bps)));
        else if (mine.length > 0) out.set(c, mine[mine.length - 1]!.bps);
      }
      return out;
    };
  }

  async setFeeRate(
    operatorId: string,
    input: {
      categoryId: string;
      bps: number;
      programme?: string | undefined;
      startsAt?: Date | undefined;
      endsAt?: Date | undefined;
    },
  ) {
    const startsAt = input.startsAt ?? this.p.clock.now();
    if (input.endsAt && input.endsAt <= startsAt) {
      throw new AppError('VALIDATION_FAILED', 'body.endsAt: must be after startsAt.');
    }
    if (!input.programme && input.endsAt) {
      throw new AppError(
        'VALIDATION_FAILED',
        'body.endsAt: a base rate has no end; name a programme for a waiver or reduction with a window.',
      );
    }
    const [row] = await this.p.db
      .insert(feeRates)
      .values({
        id: newId('feeRate'),
        categoryId: input.categoryId,
        bps: input.bps,
        programme: input.programme ?? null,
        startsAt,
        endsAt: input.endsAt ?? null,
        createdBy: operatorId,
        createdAt: this.p.clock.now(),
      })
      .returning();
    return row!;
  }

  async listFeeRates(categoryId?: string) {
    return this.p.db
      .select()
      .from(feeRates)
      .where(categoryId ? eq(feeRates.categoryId, categoryId) : undefined)
      .orderBy(asc(feeRates.categoryId), asc(feeRates.startsAt))
      .limit(1000);
  }

  // --- order money ---------------------------------------------------------------------------

  /** Books one paid order (see bookOrderPayments). */
  async bookOrderPayment(tx: Tx, e: OrderPaidPayload): Promise<void> {
    await this.bookOrderPayments(tx, [e]);
  }

  /**
   * Books paid orders (handler of `order.paid`, a batch at a time): the split into shop share,
   * commission and fee, credited to pending accounts. Idempotent: a replayed event finds the
   * order booked. One statement per table for the whole batch.
   */
  async bookOrderPayments(tx: Tx, batch: OrderPaidPayload[]): Promise<void> {
    const seen = new Set<string>();
    const events = batch.filter((e) => !seen.has(e.orderId) && !!seen.add(e.orderId));
    if (events.length === 0) return;
    const paidAts = events.map((e) => new Date(e.paidAt));
    const times = paidAts.map((d) => d.getTime());
    const ratesAt = await this.feeRatesOver(
      tx,
      events.flatMap((e) => e.lines.map((l) => l.categoryId)),
      new Date(Math.min(...times)),
      new Date(Math.max(...times)),
    );
    const split = events.map((e, i) => {
      const rates = ratesAt(
        e.lines.map((l) => l.categoryId),
        paidAts[i]!,
      );
      const lines = e.lines.map((l) =>
        splitLine({
          lineId: l.lineId,
          categoryId: l.categoryId,
          paidFen: l.paidFen,
          subsidyFen: l.platformDiscountFen,
          commissionBps: e.creatorAccountId ? l.commissionBps : 0,
          feeBps: rates.get(l.categoryId)!,
        }),
      );
      const total = sumParts(lines);
      if (total.paidFen !== e.payableFen || total.subsidyFen !== e.platformDiscountFen) {
        throw new Error(`order ${e.orderId}: lines do not add up to the payment`);
      }
      return { e, paidAt: paidAts[i]!, lines, total };
    });
    const journals = this.journalRows(
      split.map(({ e, paidAt, total }) => ({
        kind: 'payment',
        ref: e.orderId,
        memo: 'order paid',
        at: paidAt,
        postings: [
          debit(PLATFORM.clearing, total.paidFen, e.orderId),
          debit(PLATFORM.couponFunding, total.subsidyFen, e.orderId),
          credit(shopAccount(e.shopId, 'pending'), total.shopShareFen, e.orderId),
          ...(e.creatorAccountId
            ? [credit(creatorAccount(e.creatorAccountId, 'pending'), total.commissionFen, e.orderId)]
            : []),
          credit(PLATFORM.feePending, total.feeFen, e.orderId),
        ],
      })),
    );
    const postings = journals.postings();
    // ONE statement. The order's money row is the gate: an order booked before (an earlier
    // delivery of its event) conflicts, and only the orders booked now get their lines, their
    // journal and its postings (the postings trigger checks each journal balances).
    await tx.execute(sql`
      with m as (${insertJsonSql(
        orderMoney,
        split.map(({ e, paidAt, total }) => ({
          orderId: e.orderId,
          shopId: e.shopId,
          creatorAccountId: e.creatorAccountId,
          paidFen: total.paidFen,
          subsidyFen: total.subsidyFen,
          shopShareFen: total.shopShareFen,
          commissionFen: total.commissionFen,
          feeFen: total.feeFen,
          paidAt,
          commissionStatus: 'pending' as const,
        })),
        { tail: sql`on conflict do nothing returning order_id` },
      )}),
      l as (${insertJsonSql(
        orderMoneyLines,
        split.flatMap(({ e, lines }) => lines.map((l) => ({ ...l, orderId: e.orderId }))),
        { when: sql`order_id in (select order_id from m)` },
      )}),
      j as (${insertJsonSql(ledgerJournals, journals.journals, {
        when: sql`ref in (select order_id from m)`,
        tail: sql`on conflict do nothing returning id`,
      })})
      ${postings.length > 0 ? sql`, p as (${insertJsonSql(ledgerPostings, postings, { when: sql`journal_id in (select id from j)` })})` : sql``}
      select count(*) from m`);
  }

  /** Handler of `order.delivered` / `order.completed`: the after-sales window's clock. */
  async noteOrderProgress(tx: Tx, e: DomainEvent<{ orderId: string }>, step: 'delivered' | 'completed') {
    const at = e.createdAt.toISOString();
    const windowMs = this.p.config.AFTER_SALES_DAYS * DAY;
    // Settles at completion, but never before the after-sales window after delivery (or after
    // completion, when receipt was confirmed before any delivery event) has passed.
    const done = rowsOf<{ order_id: string }>(
      await tx.execute(sql`
        update ${orderMoney} set
          delivered_at = case when ${step} = 'delivered' then coalesce(delivered_at, ${at}::timestamptz) else delivered_at end,
          completed_at = case when ${step} = 'completed' then coalesce(completed_at, ${at}::timestamptz) else completed_at end
        where order_id = ${e.payload.orderId}
        returning order_id`),
    );
    if (done.length === 0) {
      // The payment is not booked yet (its event is still in flight): fail, the outbox retries.
      throw new AppError('LEDGER_NOT_READY', `Order ${e.payload.orderId} is not booked yet.`);
    }
    await tx.execute(sql`
      update ${orderMoney} set settle_after = greatest(
          completed_at,
          coalesce(delivered_at, completed_at) + ${windowMs} * interval '1 millisecond')
      where order_id = ${e.payload.orderId} and completed_at is not null`);
  }

  /** An after-sales case opened on the order: its settlement waits until the case closes. */
  async holdSettlement(tx: Tx, orderId: string): Promise<void> {
    const done = await tx
      .update(orderMoney)
      .set({ openCases: sql`${orderMoney.openCases} + 1` })
      .where(eq(orderMoney.orderId, orderId))
      .returning({ id: orderMoney.orderId });
    if (done.length === 0) {
      throw new AppError(
        'LEDGER_NOT_READY',
        `The payment of order ${orderId} is still being booked; try again in a moment.`,
      );
    }
  }

  async releaseSettlement(tx: Tx, orderId: string): Promise<void> {
    await tx
      .update(orderMoney)
      .set({ openCases: sql`${orderMoney.openCases} - 1` })
      .where(and(eq(orderMoney.orderId, orderId), sql`${orderMoney.openCases} > 0`));
  }

  async orderMoneyOf(ex: Executor, orderId: string): Promise<OrderMoneyRow | null> {
    const [row] = await ex.select().from(orderMoney).where(eq(orderMoney.orderId, orderId));
    return row ?? null;
  }

  /** What each line of a booked order can still refund (paid − refunded), by line id. */
  async refundableByLine(ex: Executor, orderId: string): Promise<Map<string, number>> {
    const rows = await ex
      .select({
        lineId: orderMoneyLines.lineId,
        paid: orderMoneyLines.paidFen,
        refunded: orderMoneyLines.refundedFen,
      })
      .from(orderMoneyLines)
      .where(eq(orderMoneyLines.orderId, orderId));
    return new Map(rows.map((r) => [r.lineId, r.paid - r.refunded]));
  }

  /**
   * A charge captured for an order cancelled before it arrived, and its return to the buyer:
   * two journals in the caller's transaction. The money came into clearing as owed back
   * (`platform:unclaimed_charges`, dated when it arrived) and left again with the refund. The
   * order's split is never booked. Idempotent per payment and refund.
   */
  async bookUnclaimedCharge(
    tx: Tx,
    c: { paymentId: string; refundId: string; orderId: string; amountFen: number; receivedAt: Date },
  ): Promise<void> {
    await this.postMany(tx, [
      {
        kind: 'unclaimed_charge',
        ref: c.paymentId,
        memo: `payment for cancelled order ${c.orderId}`,
        at: c.receivedAt,
        postings: [
          debit(PLATFORM.clearing, c.amountFen, c.orderId),
          credit(PLATFORM.unclaimedCharges, c.amountFen, c.orderId),
        ],
      },
      {
        kind: 'unclaimed_refund',
        ref: c.refundId,
        memo: `payment for cancelled order ${c.orderId} returned`,
        postings: [
          debit(PLATFORM.unclaimedCharges, c.amountFen, c.orderId),
          credit(PLATFORM.clearing, c.amountFen, c.orderId),
        ],
      },
    ]);
  }

  /**
   * Books a refund of `amountFen` of what the buyer paid (one line, or pro rata over the
   * order): each part of the split reversed pro rata, from pending balances before settlement
   * and from available ones after (which may then go negative and are netted by later
   * settlements). The platform's coupon subsidy comes back to it in the same proportion.
   * Idempotent per `refundId`; refuses to refund more than was paid.
   */
  async bookRefund(
    tx: Tx,
    r: { refundId: string; orderId: string; amountFen: number; lineId?: string | undefined },
  ): Promise<Parts & { refundedFen: number; journalId: string | null }> {
    const [m] = await tx.select().from(orderMoney).where(eq(orderMoney.orderId, r.orderId)).for('update');
    if (!m) {
      throw new AppError(
        'LEDGER_NOT_READY',
        `The payment of order ${r.orderId} is still being booked; try again in a moment.`,
      );
    }
    const [prior] = await tx
      .select({ id: ledgerJournals.id })
      .from(ledgerJournals)
      .where(and(eq(ledgerJournals.kind, 'refund'), eq(ledgerJournals.ref, r.refundId)));
    if (prior) {
      return { ...zeroParts(), refundedFen: m.refundedFen, journalId: null };
    }
    const lineRows = await tx
      .select()
      .from(orderMoneyLines)
      .where(eq(orderMoneyLines.orderId, r.orderId))
      .orderBy(asc(orderMoneyLines.lineId))
      .for('update');
    if (r.lineId && !lineRows.some((l) => l.lineId === r.lineId)) {
      throw new AppError('NOT_FOUND', `Order ${r.orderId} has no line ${r.lineId}.`, { lineId: r.lineId });
    }
    const alloc = allocateRefund(lineRows, r.amountFen, r.lineId);
    if (!alloc) {
      throw new AppError(
        'REFUND_EXCEEDS_PAID',
        `A refund of ${r.amountFen} fen exceeds what is still refundable on order ${r.orderId} (paid ${m.paidFen}, refunded ${m.refundedFen}).`,
        { paidFen: m.paidFen, refundedFen: m.refundedFen },
      );
    }
    const deltas: Parts[] = [];
    for (const l of lineRows) {
      const add = alloc.get(l.lineId) ?? 0;
      if (add === 0) continue;
      const split: LineSplit = { ...l, shopShareFen: l.paidFen + l.subsidyFen - l.commissionFen - l.feeFen };
      deltas.push(refundDelta(split, l.refundedFen, l.refundedFen + add));
      await tx
        .update(orderMoneyLines)
        .set({ refundedFen: l.refundedFen + add })
        .where(and(eq(orderMoneyLines.orderId, r.orderId), eq(orderMoneyLines.lineId, l.lineId)));
    }
    const d = sumParts(deltas);
    const refundedFen = m.refundedFen + r.amountFen;
    const commissionReversed = m.commissionReversedFen + d.commissionFen;
    const shopSettled = m.shopSettledAt !== null;
    const commissionSettled = m.commissionStatus === 'settled' || m.commissionStatus === 'withdrawn';
    const commissionStatus =
      m.creatorAccountId && m.commissionFen > 0 && commissionReversed === m.commissionFen
        ? 'refunded'
        : m.commissionStatus;
    await tx
      .update(orderMoney)
      .set({
        refundedFen,
        subsidyReversedFen: m.subsidyReversedFen + d.subsidyFen,
        shopShareReversedFen: m.shopShareReversedFen + d.shopShareFen,
        commissionReversedFen: commissionReversed,
        feeReversedFen: m.feeReversedFen + d.feeFen,
        commissionStatus,
      })
      .where(eq(orderMoney.orderId, r.orderId));
    const journalId = await this.post(tx, {
      kind: 'refund',
      ref: r.refundId,
      memo: `refund of order ${r.orderId}`,
      postings: [
        credit(PLATFORM.clearing, r.amountFen, r.orderId),
        credit(PLATFORM.couponFunding, d.subsidyFen, r.orderId),
        debit(shopAccount(m.shopId, shopSettled ? 'available' : 'pending'), d.shopShareFen, r.orderId),
        ...(m.creatorAccountId
          ? [
              debit(
                creatorAccount(m.creatorAccountId, commissionSettled ? 'available' : 'pending'),
                d.commissionFen,
                r.orderId,
              ),
            ]
          : []),
        debit(shopSettled ? PLATFORM.feeRevenue : PLATFORM.feePending, d.feeFen, r.orderId),
      ],
    });
    return { ...d, refundedFen, journalId };
  }

  // --- settlement ----------------------------------------------------------------------------

  /**
   * Job: moves the pending money of every order whose after-sales window has passed with no
   * open case to available balances, in batches of one transaction each. Each batch is one
   * journal written by one set-based statement; an order is marked settled in the same
   * statement, so a crash leaves it either wholly settled or untouched, and a rerun resumes.
   * A frozen creator's commission stays pending (status `frozen`) until the freeze lifts.
   */
  async settleDue(): Promise<number> {
    let total = 0;
    // A keyset cursor over (settle_after, order_id): each batch starts where the last ended
    // instead of rescanning index entries of orders settled a moment ago.
    let after: Cursor | null = null;
    for (;;) {
      const b: { n: number; last: Cursor | null } = await this.settleBatch('orders', after);
      total += b.n;
      if (b.n < this.p.config.SETTLEMENT_BATCH || !b.last) break;
      after = b.last;
    }
    for (;;) {
      const { n } = await this.settleBatch('unfrozen-commission', null);
      total += n;
      if (n < this.p.config.SETTLEMENT_BATCH) break;
    }
    return total;
  }

  private async settleBatch(
    what: 'orders' | 'unfrozen-commission',
    after: Cursor | null,
  ): Promise<{ n: number; last: Cursor | null }> {
    const now = this.p.clock.now().toISOString();
    const jid = newId('journal');
    const batch = this.p.config.SETTLEMENT_BATCH;
    const due =
      what === 'orders'
        ? sql`select order_id, settle_after from ${orderMoney}
              where shop_settled_at is null and settle_after is not null and settle_after <= ${now}
                and open_cases = 0
                ${after ? sql`and (settle_after, order_id) > (${after.at}::timestamptz, ${after.orderId})` : sql``}
              order by settle_after, order_id limit ${batch} for update skip locked`
        : sql`select order_id, null::timestamptz as settle_after from ${orderMoney} m
              where commission_status = 'frozen'
                and not exists (select 1 from ${commissionFreezes} f where f.creator_account_id = m.creator_account_id)
              limit ${batch} for update skip locked`;
    const commissionNow = sql`(m.creator_account_id is not null and m.commission_status in ('pending', 'frozen')
        and not exists (select 1 from ${commissionFreezes} f where f.creator_account_id = m.creator_account_id))`;
    const settleShop = what === 'orders';
    const result = await inTransaction(this.p.db, async (tx) =>
      rowsOf<{ n: number; last_at: string | Date | null; last_id: string | null }>(
        await tx.execute(sql`
          with due as (${due}),
          settled as (
            update ${orderMoney} m set
              shop_settled_at = ${settleShop ? sql`${now}::timestamptz` : sql`m.shop_settled_at`},
              commission_status = case
                when ${commissionNow} then 'settled'
                when m.creator_account_id is not null and m.commission_status = 'pending' then 'frozen'
                else m.commission_status end,
              commission_settled_at = case when ${commissionNow} then ${now}::timestamptz else m.commission_settled_at end
            from due where m.order_id = due.order_id
            returning m.order_id, m.shop_id, m.creator_account_id,
              ${settleShop ? sql`m.shop_share_fen - m.shop_share_reversed_fen` : sql`0::bigint`} as shop_fen,
              case when m.commission_settled_at = ${now}::timestamptz
                then m.commission_fen - m.commission_reversed_fen else 0 end as commission_fen,
              ${settleShop ? sql`m.fee_fen - m.fee_reversed_fen` : sql`0::bigint`} as fee_fen
          ),
          journal as (
            insert into ${ledgerJournals} (id, kind, ref, memo, created_at)
            select ${jid}, 'settlement', ${jid}, ${`settlement of ${what}`}, ${now}::timestamptz
            where exists (select 1 from settled)
          ),
          postings as (
            insert into ${ledgerPostings} (journal_id, account, amount, order_id, created_at)
            select ${jid}, v.account, v.amount, s.order_id, ${now}::timestamptz
            from settled s cross join lateral (values
              ('shop:' || s.shop_id || ':pending', s.shop_fen),
              ('shop:' || s.shop_id || ':available', -s.shop_fen),
              ('creator:' || s.creator_account_id || ':pending', s.commission_fen),
              ('creator:' || s.creator_account_id || ':available', -s.commission_fen)
            ) as v(account, amount)
            where v.amount <> 0
            union all
            select ${jid}, v.account, v.amount, null, ${now}::timestamptz
            from (select sum(fee_fen) as fee from settled) f
            cross join lateral (values (${PLATFORM.feePending}, f.fee), (${PLATFORM.feeRevenue}, -f.fee)) as v(account, amount)
            where f.fee <> 0
          )
          select count(*)::int as n, l.settle_after as last_at, l.order_id as last_id
          from settled
          left join (select settle_after, order_id from due order by settle_after desc, order_id desc limit 1) l on true
          group by l.settle_after, l.order_id`),
      ),
    );
    const r = result[0];
    const n = r?.n ?? 0;
    if (n > 0) this.p.log.debug({ settled: n, what, journalId: jid }, 'settlement batch');
    const last =
      r?.last_id && r.last_at ? { at: new Date(r.last_at).toISOString(), orderId: r.last_id } : null;
    return { n, last };
  }

  // --- commission freezes ----------------------------------------------------------------------

  async freezeCommission(operatorId: string, creatorId: string, reason: string) {
    await this.p.db
      .insert(commissionFreezes)
      .values({ creatorAccountId: creatorId, reason, frozenBy: operatorId, frozenAt: this.p.clock.now() })
      .onConflictDoUpdate({
        target: commissionFreezes.creatorAccountId,
        set: { reason, frozenBy: operatorId },
      });
    return { creatorAccountId: creatorId, frozen: true, reason };
  }

  /** Lifts a freeze; the commission it held settles on the next settlement run. */
  async unfreezeCommission(creatorId: string) {
    await this.p.db.delete(commissionFreezes).where(eq(commissionFreezes.creatorAccountId, creatorId));
    return { creatorAccountId: creatorId, frozen: false };
  }

  async commissionFreeze(ex: Executor, creatorId: string) {
    const [row] = await ex
      .select()
      .from(commissionFreezes)
      .where(eq(commissionFreezes.creatorAccountId, creatorId));
    return row ?? null;
  }

  /**
   * After a creator's withdrawal succeeds: settled commissions are marked withdrawn, oldest
   * first, as far as everything the creator has withdrawn so far (`totalWithdrawnFen`, all
   * successful withdrawals) covers them whole — so a remainder carries into the next one.
   */
  async markCommissionsWithdrawn(tx: Tx, creatorId: string, totalWithdrawnFen: number): Promise<number> {
    const rows = rowsOf<{ n: number }>(
      await tx.execute(sql`
        with ranked as (
          select order_id, commission_status, sum(commission_fen - commission_reversed_fen)
            over (order by commission_settled_at, order_id) as running
          from ${orderMoney}
          where creator_account_id = ${creatorId} and commission_status in ('settled', 'withdrawn')
        ), done as (
          update ${orderMoney} m set commission_status = 'withdrawn'
          from ranked r
          where m.order_id = r.order_id and r.commission_status = 'settled' and r.running <= ${totalWithdrawnFen}
          returning 1
        )
        select count(*)::int as n from done`),
    );
    return rows[0]?.n ?? 0;
  }

  /** A creator's commission, order by order, newest first. */
  async listCommissions(
    creatorId: string,
    page: { status?: string | undefined; cursor?: string | undefined; limit: number },
  ) {
    const frozen = await this.commissionFreeze(this.p.db, creatorId);
    const conds = [eq(orderMoney.creatorAccountId, creatorId)];
    if (page.status)
      conds.push(eq(orderMoney.commissionStatus, page.status as OrderMoneyRow['commissionStatus']));
    if (page.cursor) conds.push(lt(orderMoney.orderId, page.cursor));
    const rows = await this.p.db
      .select()
      .from(orderMoney)
      .where(and(...conds))
      .orderBy(sql`${orderMoney.orderId} desc`)
      .limit(page.limit);
    return {
      frozen: frozen ? { reason: frozen.reason, since: frozen.frozenAt } : null,
      items: rows.map((m) => ({
        orderId: m.orderId,
        shopId: m.shopId,
        paidFen: m.paidFen,
        commissionFen: m.commissionFen,
        commissionReversedFen: m.commissionReversedFen,
        netCommissionFen: m.commissionFen - m.commissionReversedFen,
        // A pending commission of a frozen creator reads as frozen: it will not settle.
        status: m.commissionStatus === 'pending' && frozen ? 'frozen' : m.commissionStatus,
        paidAt: m.paidAt,
        settleAfter: m.settleAfter,
        settledAt: m.commissionSettledAt,
      })),
      nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.orderId : null,
    };
  }

  // --- statements and verification -------------------------------------------------------------

  /**
   * A statement of accounts for [from, to): per account, opening balance, money in, money out,
   * closing balance (holder's view), with opening + in − out = closing; and the postings.
   */
  async statement(accounts: string[], from: Date, to: Date, opts: { entries?: number } = {}) {
    const limit = opts.entries ?? 500;
    const sections = [];
    for (const account of accounts) {
      const [agg] = rowsOf<{ before: string | null; dr: string | null; cr: string | null }>(
        await this.p.db.execute(sql`
          select
            (select sum(amount) from ${ledgerPostings} where account = ${account} and created_at < ${from.toISOString()}) as before,
            sum(amount) filter (where amount > 0) as dr,
            -sum(amount) filter (where amount < 0) as cr
          from ${ledgerPostings}
          where account = ${account} and created_at >= ${from.toISOString()} and created_at < ${to.toISOString()}`),
      );
      const sign = holderBalance(account, 1);
      const before = Number(agg?.before ?? 0);
      const dr = Number(agg?.dr ?? 0);
      const cr = Number(agg?.cr ?? 0);
      const opening = sign * before;
      const moneyIn = sign > 0 ? dr : cr;
      const moneyOut = sign > 0 ? cr : dr;
      const entries = limit > 0 ? await this.entries(account, from, to, limit) : [];
      sections.push({
        account,
        opening,
        in: moneyIn,
        out: moneyOut,
        closing: opening + moneyIn - moneyOut,
        entries,
      });
    }
    return { from, to, accounts: sections };
  }

  private async entries(account: string, from: Date, to: Date, limit: number, afterId = 0) {
    const rows = await this.p.db
      .select({
        id: ledgerPostings.id,
        at: ledgerPostings.createdAt,
        amount: ledgerPostings.amount,
        orderId: ledgerPostings.orderId,
        kind: ledgerJournals.kind,
        memo: ledgerJournals.memo,
        journalId: ledgerPostings.journalId,
      })
      .from(ledgerPostings)
      .innerJoin(ledgerJournals, eq(ledgerJournals.id, ledgerPostings.journalId))
      .where(
        and(
          eq(ledgerPostings.account, account),
          gte(ledgerPostings.createdAt, from),
          lt(ledgerPostings.createdAt, to),
          sql`${ledgerPostings.id} > ${afterId}`,
        ),
      )
      .orderBy(asc(ledgerPostings.id))
      .limit(limit);
    return rows.map((r) => ({ ...r, amount: holderBalance(account, r.amount) }));
  }

  /** The statement as CSV lines, every posting of the period streamed in pages. */
  async *statementCsv(accounts: string[], from: Date, to: Date): AsyncGenerator<string> {
    const st = await this.statement(accounts, from, to, { entries: 0 });
    yield 'account,time,kind,journal_id,order_id,amount_yuan,memo\n';
    for (const s of st.accounts) {
      yield `${s.account},${from.toISOString()},opening_balance,,,${yuan(s.opening)},\n`;
      let after = 0;
      for (;;) {
        const page = await this.entries(s.account, from, to, 2000, after);
        let out = '';
        for (const e of page) {
          out += `${s.account},${e.at.toISOString()},${e.kind},${e.journalId},${e.orderId ?? ''},${yuan(e.amount)},${csvSafe(e.memo)}\n`;
        }
        if (out) yield out;
        if (page.length < 2000) break;
        after = page[page.length - 1]!.id;
      }
      yield `${s.account},${to.toISOString()},closing_balance,,,${yuan(s.closing)},\n`;
    }
  }

  /** Proves the books (see verifyBooks). */
  verify(ex: Executor = this.p.db) {
    return verifyBooks(ex);
  }
}

/**
 * Proves the books: every journal sums to zero, all postings sum to zero, and every
 * materialised balance equals the sum of its account's postings.
 */
export async function verifyBooks(ex: Executor) {
  const [unbalanced, trial, mismatched] = await Promise.all([
    ex.execute(sql`select journal_id, sum(amount)::bigint as sum from ${ledgerPostings}
                   group by journal_id having sum(amount) <> 0 limit 20`),
    ex.execute(
      sql`select coalesce(sum(amount), 0)::bigint as sum, count(*)::bigint as n from ${ledgerPostings}`,
    ),
    ex.execute(sql`
      select coalesce(b.account, p.account) as account, b.balance::bigint as materialised, p.sum::bigint as summed
      from ${ledgerBalances} b
      full join (select account, sum(amount) as sum from ${ledgerPostings}
                 where account not like 'platform:%' group by account) p on p.account = b.account
      where b.balance is distinct from p.sum and not (b.balance = 0 and p.sum is null)
      limit 20`),
  ]);
  const t = rowsOf<{ sum: string; n: string }>(trial)[0]!;
  const badJournals = rowsOf<{ journal_id: string; sum: string }>(unbalanced);
  const badBalances = rowsOf<{ account: string; materialised: string | null; summed: string | null }>(
    mismatched,
  );
  return {
    ok: badJournals.length === 0 && badBalances.length === 0 && Number(t.sum) === 0,
    postings: Number(t.n),
    trialBalanceFen: Number(t.sum),
    unbalancedJournals: badJournals.map((r) => ({ journalId: r.journal_id, sumFen: Number(r.sum) })),
    balanceMismatches: badBalances.map((r) => ({
      account: r.account,
      materialisedFen: r.materialised === null ? null : Number(r.materialised),
      summedFen: r.summed === null ? null : Number(r.summed),
    })),
  };
}

/** A LIKE pattern matching strings that start with `prefix` (ids contain `_`, a wildcard). */
const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Where the settlement job's last batch ended. */
type Cursor = { at: string; orderId: string };

const zeroParts = (): Parts => ({ subsidyFen: 0, commissionFen: 0, feeFen: 0, shopShareFen: 0 });

export const yuan = (fen: number) => {
  const sign = fen < 0 ? '-' : '';
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
};

const csvSafe = (v: string) => {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};
