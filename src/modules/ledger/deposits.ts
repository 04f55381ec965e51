import { and, asc, desc, eq, gte, inArray, isNull, lt, lte, ne, or, sql } from 'drizzle-orm';
import { DAY, localMonth, startOfLocalDay } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import type { Executor, Tx } from '../../platform/db.js';
import { AppError, notFound } from '../../platform/errors.js';
import { requestHash, runIdempotent, storedResponse } from '../../platform/idempotency.js';
import { newId } from '../../platform/ids.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import { categories, shops } from '../catalog/schema.js';
import type { CreatorService } from '../creators/service.js';
import type { PaymentProvider, PaymentWebhookEvent } from '../payments/provider.js';
import type { WebhookOutcome } from '../payments/service.js';
import { creatorDepositAccount, credit, debit, PLATFORM, shopDepositAccount } from './accounts.js';
import type { PayoutOutcome, PayoutRow, PayoutService } from './payouts.js';
import {
  categoryDepositRequirements,
  commissionFreezes,
  type DepositOwner,
  depositDeductions,
  depositPayments,
  deposits,
  orderMoney,
} from './schema.js';
import type { LedgerService } from './service.js';

// --- the creator deposit rule (pure) ---------------------------------------------------------------

/**
 * The monthly variable part of a creator's deposit by last month's paid GMV: each tier starts
 * at `fromGmvFen` (inclusive) and runs to the next. 5k / 10k / 50k / 100k / 500k CNY.
 */
export const CREATOR_DEPOSIT_TIERS: readonly { fromGmvFen: number; variableFen: number }[] = [
  { fromGmvFen: 0, variableFen: 0 },
  { fromGmvFen: 500_000, variableFen: 10_000 },
  { fromGmvFen: 1_000_000, variableFen: 20_000 },
  { fromGmvFen: 5_000_000, variableFen: 50_000 },
  { fromGmvFen: 10_000_000, variableFen: 100_000 },
  { fromGmvFen: 50_000_000, variableFen: 200_000 },
];

export function creatorDepositVariableFen(gmvFen: number, tiers = CREATOR_DEPOSIT_TIERS): number {
  let variable = 0;
  for (const t of tiers) if (gmvFen >= t.fromGmvFen) variable = t.variableFen;
  return variable;
}

/** Basic deposit plus the variable part: what a creator must hold to share products. */
export function creatorDepositRequiredFen(
  gmvFen: number,
  baseFen: number,
  tiers = CREATOR_DEPOSIT_TIERS,
): number {
  return baseFen + creatorDepositVariableFen(gmvFen, tiers);
}

/** The local month `at` falls in, and the window [from, to) of the month before it. */
export function previousLocalMonth(at: Date, offsetMinutes: number): { month: string; from: Date; to: Date } {
  const month = localMonth(at, offsetMinutes);
  const [y, m] = month.split('-').map(Number) as [number, number];
  const prev = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
  return {
    month,
    from: startOfLocalDay(`${prev}-01`, offsetMinutes),
    to: startOfLocalDay(`${month}-01`, offsetMinutes),
  };
}

// --- holders -----------------------------------------------------------------------------------

/** Whose deposit: a creator's, or a shop's for one category. */
interface Holder {
  kind: DepositOwner;
  ownerId: string;
  categoryId: string | null;
  account: string;
}

const creatorHolder = (creatorId: string): Holder => ({
  kind: 'creator',
  ownerId: creatorId,
  categoryId: null,
  account: creatorDepositAccount(creatorId),
});
const shopHolder = (shopId: string, categoryId: string): Holder => ({
  kind: 'shop',
  ownerId: shopId,
  categoryId,
  account: shopDepositAccount(shopId, categoryId),
});
const holderOf = (row: DepositRow): Holder =>
  row.ownerKind === 'creator' ? creatorHolder(row.ownerId) : shopHolder(row.ownerId, row.categoryId!);

type DepositRow = typeof deposits.$inferSelect;
type DepositPaymentRow = typeof depositPayments.$inferSelect;
type DeductionRow = typeof depositDeductions.$inferSelect;

interface Requirement {
  requiredFen: number;
  /** Creators only: the month it applies to and how it was derived. */
  month?: string;
  lastMonthGmvFen?: number;
  baseFen?: number;
  variableFen?: number;
}

const paymentView = (p: DepositPaymentRow) => ({
  id: p.id,
  amountFen: p.amountFen,
  status: p.status,
  failureReason: p.failureReason,
  createdAt: p.createdAt,
});

type LockResponse = { payment: ReturnType<typeof paymentView>; deposit: ReturnType<typeof depositView> };

const deductionView = (d: DeductionRow) => ({
  id: d.id,
  kind: d.kind,
  amountFen: d.amountFen,
  reason: d.reason,
  note: d.note,
  createdAt: d.createdAt,
});

function depositView(
  holder: Holder,
  row: DepositRow | null,
  balanceFen: number,
  req: Requirement,
  recent: DeductionRow[],
) {
  const status = row?.status ?? 'open';
  return {
    account: holder.account,
    ownerKind: holder.kind,
    ownerId: holder.ownerId,
    categoryId: holder.categoryId,
    status,
    balanceFen,
    requiredFen: req.requiredFen,
    shortfallFen: Math.max(0, req.requiredFen - balanceFen),
    covered: status === 'open' && balanceFen >= req.requiredFen,
    requirement:
      holder.kind === 'creator'
        ? {
            month: req.month!,
            lastMonthGmvFen: req.lastMonthGmvFen!,
            baseFen: req.baseFen!,
            variableFen: req.variableFen!,
          }
        : null,
    withdrawal:
      row && (row.status === 'reviewing' || row.status === 'paying_out')
        ? {
            requestedAt: row.withdrawalRequestedAt,
            reviewEndsAt: row.reviewEndsAt,
            payoutAccountId: row.withdrawalPayoutAccountId,
            payoutId: row.withdrawalPayoutId,
          }
        : null,
    frozen: row?.frozenReason ? { reason: row.frozenReason, since: row.frozenAt } : null,
    deductions: recent.map(deductionView),
  };
}

/**
 * Deposits (保证金): money a creator or a shop (per category) locks with the platform through
 * the payment provider; penalties deduct from it, a permanent ban forfeits it, and a withdrawal
 * is paid back through the payout flow after a review. The money is the ledger balance of the
 * deposit account; the `ledger_deposits` row holds the state and is locked first by every use
 * case, so operations on one deposit queue.
 *
 * Product-sharing permission follows a creator's deposit (see CreatorService.applyDepositRule):
 * granted when the deposit covers the month's requirement, suspended when a penalty or a higher
 * monthly requirement leaves it short (restored when topped up or when the requirement falls),
 * closed at once on a withdrawal request. The monthly re-evaluation applies to creators who
 * hold a deposit row; a permission an operator granted by hand is an override and stays.
 */
export class DepositService {
  constructor(
    private readonly p: Platform,
    private readonly ledger: LedgerService,
    private readonly creators: CreatorService,
    private readonly paymentProvider: PaymentProvider,
    private readonly payouts: PayoutService,
  ) {
    payouts.onFinished((tx, payout, outcome) => this.onPayoutFinished(tx, payout, outcome));
  }

  private get offset() {
    return this.p.config.PLATFORM_UTC_OFFSET_MINUTES;
  }

  // --- requirements ------------------------------------------------------------------------------

  private async gmvByCreator(ex: Executor, creatorIds: string[], from: Date, to: Date) {
    if (creatorIds.length === 0) return new Map<string, number>();
    const rows = await ex
      .select({
        creatorId: orderMoney.creatorAccountId,
        gmv: sql<string>`coalesce(sum(${orderMoney.paidFen} + ${orderMoney.subsidyFen} - ${orderMoney.refundedFen}), 0)`,
      })
      .from(orderMoney)
      .where(
        and(
          inArray(orderMoney.creatorAccountId, creatorIds),
          gte(orderMoney.paidAt, from),
          lt(orderMoney.paidAt, to),
        ),
      )
      .groupBy(orderMoney.creatorAccountId);
    return new Map(rows.map((r) => [r.creatorId!, Math.max(0, Number(r.gmv))]));
  }

  private creatorRequirementFrom(month: string, gmvFen: number): Requirement {
    const baseFen = this.p.config.CREATOR_DEPOSIT_BASE_FEN;
    const variableFen = creatorDepositVariableFen(gmvFen);
    return { requiredFen: baseFen + variableFen, month, lastMonthGmvFen: gmvFen, baseFen, variableFen };
  }

  /** This month's requirement: the stored one, or computed from last month's paid GMV. */
  private async creatorRequirement(
    ex: Executor,
    creatorId: string,
    row: DepositRow | null,
  ): Promise<Requirement> {
    const w = previousLocalMonth(this.p.clock.now(), this.offset);
    if (row?.requiredMonth === w.month && row.requiredFen !== null) {
      return {
        requiredFen: row.requiredFen,
        month: w.month,
        lastMonthGmvFen: row.lastMonthGmvFen ?? 0,
        baseFen: row.requiredFen - creatorDepositVariableFen(row.lastMonthGmvFen ?? 0),
        variableFen: creatorDepositVariableFen(row.lastMonthGmvFen ?? 0),
      };
    }
    const gmv = (await this.gmvByCreator(ex, [creatorId], w.from, w.to)).get(creatorId) ?? 0;
    return this.creatorRequirementFrom(w.month, gmv);
  }

  private async shopRequirement(ex: Executor, categoryId: string): Promise<Requirement> {
    const [r] = await ex
      .select()
      .from(categoryDepositRequirements)
      .where(eq(categoryDepositRequirements.categoryId, categoryId));
    return { requiredFen: r?.requiredFen ?? 0 };
  }

  /** The requirement, stored on the locked row for a creator the first time it is needed in a month. */
  private async requirementInTx(tx: Tx, holder: Holder, row: DepositRow): Promise<Requirement> {
    if (holder.kind === 'shop') return this.shopRequirement(tx, holder.categoryId!);
    const req = await this.creatorRequirement(tx, holder.ownerId, row);
    if (row.requiredMonth !== req.month) {
      await tx
        .update(deposits)
        .set({
          requiredFen: req.requiredFen,
          requiredMonth: req.month!,
          lastMonthGmvFen: req.lastMonthGmvFen!,
          updatedAt: this.p.clock.now(),
        })
        .where(eq(deposits.account, holder.account));
    }
    return req;
  }

  async setCategoryRequirement(operatorId: string, categoryId: string, requiredFen: number) {
    await this.assertCategory(categoryId);
    const now = this.p.clock.now();
    return inTransaction(this.p.db, async (tx) => {
      const [row] = await tx
        .insert(categoryDepositRequirements)
        .values({ categoryId, requiredFen, setBy: operatorId, setAt: now })
        .onConflictDoUpdate({
          target: categoryDepositRequirements.categoryId,
          set: { requiredFen, setBy: operatorId, setAt: now },
        })
        .returning();
      await recordEvent(tx, this.p.clock, 'deposit.category_requirement_set', categoryId, {
        categoryId,
        requiredFen,
        operatorId,
      });
      return row!;
    });
  }

  async listCategoryRequirements() {
    const rows = await this.p.db
      .select()
      .from(categoryDepositRequirements)
      .orderBy(asc(categoryDepositRequirements.categoryId))
      .limit(1000);
    return { items: rows };
  }

  // --- views -------------------------------------------------------------------------------------

  private async row(ex: Executor, account: string): Promise<DepositRow | null> {
    const [row] = await ex.select().from(deposits).where(eq(deposits.account, account));
    return row ?? null;
  }

  /** Creates the state row on first use and locks it for the rest of the transaction. */
  private async lockRow(tx: Tx, holder: Holder): Promise<DepositRow> {
    const now = this.p.clock.now();
    await tx
      .insert(deposits)
      .values({
        account: holder.account,
        ownerKind: holder.kind,
        ownerId: holder.ownerId,
        categoryId: holder.categoryId,
        status: 'open',
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing();
    const [row] = await tx.select().from(deposits).where(eq(deposits.account, holder.account)).for('update');
    return row!;
  }

  private async view(ex: Executor, holder: Holder, row?: DepositRow | null) {
    const r = row === undefined ? await this.row(ex, holder.account) : row;
    const [balances, req, recent] = await Promise.all([
      this.ledger.balances(ex, [holder.account]),
      holder.kind === 'creator'
        ? this.creatorRequirement(ex, holder.ownerId, r)
        : this.shopRequirement(ex, holder.categoryId!),
      ex
        .select()
        .from(depositDeductions)
        .where(eq(depositDeductions.account, holder.account))
        .orderBy(desc(depositDeductions.id))
        .limit(20),
    ]);
    return depositView(holder, r, balances[holder.account] ?? 0, req, recent);
  }

  async creatorDeposit(creatorId: string) {
    const profile = await this.creators.getProfile(creatorId);
    return {
      ...(await this.view(this.p.db, creatorHolder(creatorId))),
      sharingPermission: profile.sharingPermission,
    };
  }

  /**
   * A shop's deposits: every category with a requirement, and every category it holds one
   * for, read in four queries whatever the number of categories.
   */
  async shopDeposits(shopId: string) {
    const db = this.p.db;
    const [reqs, rows] = await Promise.all([
      db
        .select()
        .from(categoryDepositRequirements)
        .where(sql`${categoryDepositRequirements.requiredFen} > 0`),
      db
        .select()
        .from(deposits)
        .where(and(eq(deposits.ownerKind, 'shop'), eq(deposits.ownerId, shopId))),
    ]);
    const cats = [...new Set([...reqs.map((r) => r.categoryId), ...rows.map((r) => r.categoryId!)])].sort();
    const holders = cats.map((c) => shopHolder(shopId, c));
    const accounts = holders.map((h) => h.account);
    const [balances, deductions] = await Promise.all([
      this.ledger.balances(db, accounts),
      accounts.length === 0
        ? []
        : db
            .select()
            .from(depositDeductions)
            .where(inArray(depositDeductions.account, accounts))
            .orderBy(desc(depositDeductions.id))
            .limit(1000),
    ]);
    return {
      items: holders.map((h) =>
        depositView(
          h,
          rows.find((r) => r.account === h.account) ?? null,
          balances[h.account] ?? 0,
          { requiredFen: reqs.find((r) => r.categoryId === h.categoryId)?.requiredFen ?? 0 },
          deductions.filter((d) => d.account === h.account).slice(0, 20),
        ),
      ),
    };
  }

  async shopDeposit(shopId: string, categoryId: string) {
    return this.view(this.p.db, shopHolder(shopId, categoryId));
  }

  // --- locking a deposit ---------------------------------------------------------------------------

  async lockCreatorDeposit(creatorId: string, amountFen: number, idempotencyKey: string) {
    return this.lock(creatorHolder(creatorId), creatorId, amountFen, idempotencyKey);
  }

  async lockShopDeposit(shopId: string, actorId: string, categoryId: string, amountFen: number, key: string) {
    await this.assertCategory(categoryId);
    return this.lock(shopHolder(shopId, categoryId), actorId, amountFen, key);
  }

  /**
   * Charges the deposit through the payment provider (idempotent by the request's key, so a
   * retried transaction does not charge twice) and, once the charge succeeds, books
   * `Dr clearing / Cr deposit`. In the default sync mode that is now; in async mode the
   * provider's webhook does it (`applyChargeWebhook`).
   */
  private async lock(holder: Holder, payerId: string, amountFen: number, idempotencyKey: string) {
    const ref = { scope: `${holder.account}:lock`, key: idempotencyKey, hash: requestHash({ amountFen }) };
    const prior = await storedResponse<LockResponse>(this.p.db, ref);
    if (prior) return prior;
    const result = await runIdempotent<LockResponse>(this.p.db, this.p.clock, ref, async (tx) => {
      if (holder.kind === 'creator') {
        const profile = await this.creators.getProfile(holder.ownerId, tx);
        if (profile.sharingPermission === 'banned') throw this.forfeitedError(holder);
      }
      const row = await this.lockRow(tx, holder);
      this.assertOpen(row, holder, 'lock a deposit');
      const paymentId = newId('depositPayment');
      const charge = await this.paymentProvider.charge({
        paymentId,
        orderId: paymentId,
        amountFen,
        idempotencyKey: `deposit:${ref.scope}:${ref.key}`,
      });
      const now = this.p.clock.now();
      const payment: DepositPaymentRow = {
        id: paymentId,
        account: holder.account,
        amountFen,
        provider: this.paymentProvider.name,
        providerRef: charge.providerRef,
        status: charge.status,
        failureReason: charge.failureReason ?? null,
        paidBy: payerId,
        createdAt: now,
        succeededAt: charge.status === 'succeeded' ? now : null,
      };
      const [fresh] = await tx
        .insert(depositPayments)
        .values(payment)
        .onConflictDoNothing({ target: depositPayments.providerRef })
        .returning({ id: depositPayments.id });
      // The provider answered a charge an earlier request with this key recorded: replay that.
      if (!fresh) throw new AppError('INVALID_STATE', 'A request with this key is in progress; retry it.');
      if (charge.status === 'succeeded') await this.bookPayment(tx, holder, row, payment);
      return { status: 201, body: { payment: paymentView(payment), deposit: await this.view(tx, holder) } };
    });
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  /** `Dr clearing / Cr deposit` for a succeeded charge; a covered creator gets sharing (back). */
  private async bookPayment(tx: Tx, holder: Holder, row: DepositRow, payment: DepositPaymentRow) {
    await this.ledger.post(tx, {
      kind: 'deposit_lock',
      ref: payment.id,
      memo: 'deposit locked',
      postings: [debit(PLATFORM.clearing, payment.amountFen), credit(holder.account, payment.amountFen)],
    });
    await recordEvent(tx, this.p.clock, 'deposit.locked', holder.account, {
      account: holder.account,
      ownerKind: holder.kind,
      ownerId: holder.ownerId,
      categoryId: holder.categoryId,
      amountFen: payment.amountFen,
      paymentId: payment.id,
    });
    if (row.status === 'forfeited') {
      // A charge that completes after a ban (async mode) is forfeited with the rest.
      await this.forfeit(tx, holder, row, 'system', 'paid after the deposit was forfeited');
      return;
    }
    if (holder.kind === 'creator' && row.status === 'open') {
      const balance = await this.ledger.lockBalance(tx, holder.account);
      const req = await this.requirementInTx(tx, holder, row);
      if (balance >= req.requiredFen) {
        await this.creators.applyDepositRule(
          tx,
          holder.ownerId,
          'granted',
          `deposit of ${balance} fen covers the ${req.requiredFen} fen required`,
          { reopen: true },
        );
      }
    }
  }

  /** Payment-provider webhooks for deposit charges (routed here by PaymentService); null if not ours. */
  async applyChargeWebhook(event: PaymentWebhookEvent): Promise<WebhookOutcome | null> {
    const [known] = await this.p.db
      .select({ account: depositPayments.account, status: depositPayments.status })
      .from(depositPayments)
      .where(eq(depositPayments.providerRef, event.data.providerRef));
    if (!known) return null;
    if (known.status !== 'pending') return { applied: false, reason: `already_${known.status}` };
    const out = await inTransaction(this.p.db, async (tx): Promise<WebhookOutcome> => {
      const [row] = await tx.select().from(deposits).where(eq(deposits.account, known.account)).for('update');
      const [payment] = await tx
        .select()
        .from(depositPayments)
        .where(eq(depositPayments.providerRef, event.data.providerRef))
        .for('update');
      if (!row || !payment) return { applied: false, reason: 'unknown_payment' };
      if (payment.status !== 'pending') return { applied: false, reason: `already_${payment.status}` };
      if (event.data.amountFen !== payment.amountFen) return { applied: false, reason: 'amount_mismatch' };
      const now = this.p.clock.now();
      if (event.type === 'payment.succeeded') {
        await tx
          .update(depositPayments)
          .set({ status: 'succeeded', succeededAt: now })
          .where(eq(depositPayments.id, payment.id));
        await this.bookPayment(tx, holderOf(row), row, payment);
      } else {
        await tx
          .update(depositPayments)
          .set({ status: 'failed', failureReason: event.data.failureReason ?? 'declined' })
          .where(eq(depositPayments.id, payment.id));
      }
      return { applied: true };
    });
    this.p.outbox.wake();
    return out;
  }

  // --- withdrawal ------------------------------------------------------------------------------------

  async requestCreatorWithdrawal(creatorId: string, payoutAccountId: string) {
    return this.requestWithdrawal(creatorHolder(creatorId), payoutAccountId);
  }

  async requestShopWithdrawal(shopId: string, categoryId: string, payoutAccountId: string) {
    return this.requestWithdrawal(shopHolder(shopId, categoryId), payoutAccountId);
  }

  /**
   * Starts the review of a deposit withdrawal: a creator's sharing closes at once; after the
   * review (DEPOSIT_REVIEW_DAYS) with no freeze, the job pays back what is left. Asking again
   * for the same account while it runs answers the same review.
   */
  private async requestWithdrawal(holder: Holder, payoutAccountId: string) {
    return inTransaction(this.p.db, async (tx) => {
      const row = await this.lockRow(tx, holder);
      if (row.status === 'forfeited') throw this.forfeitedError(holder);
      if (row.status === 'reviewing' && row.withdrawalPayoutAccountId === payoutAccountId) {
        return this.view(tx, holder, row);
      }
      this.assertOpen(row, holder, 'withdraw the deposit');
      await this.payouts.accountOf(tx, { kind: holder.kind, id: holder.ownerId }, payoutAccountId);
      const balance = await this.ledger.lockBalance(tx, holder.account);
      if (balance <= 0) {
        throw new AppError('INVALID_STATE', `The deposit ${holder.account} holds nothing to withdraw.`, {
          balanceFen: balance,
        });
      }
      const now = this.p.clock.now();
      const endsAt = new Date(now.getTime() + this.p.config.DEPOSIT_REVIEW_DAYS * DAY);
      const [updated] = await tx
        .update(deposits)
        .set({
          status: 'reviewing',
          withdrawalRequestedAt: now,
          reviewEndsAt: endsAt,
          withdrawalPayoutAccountId: payoutAccountId,
          withdrawalPayoutId: null,
          updatedAt: now,
        })
        .where(eq(deposits.account, holder.account))
        .returning();
      if (holder.kind === 'creator') {
        await this.creators.applyDepositRule(tx, holder.ownerId, 'closed', 'deposit withdrawal requested');
      }
      await recordEvent(tx, this.p.clock, 'deposit.withdrawal_requested', holder.account, {
        account: holder.account,
        ownerKind: holder.kind,
        ownerId: holder.ownerId,
        balanceFen: balance,
        reviewEndsAt: endsAt.toISOString(),
      });
      return this.view(tx, holder, updated!);
    });
  }

  /**
   * Job: pays back deposits whose review has ended with no freeze (a frozen deposit, or a
   * creator whose commission is frozen, waits until the freeze lifts): `Dr deposit / Cr
   * payouts_in_transit`, then the provider through the payout flow.
   */
  async finishReviews(): Promise<number> {
    const now = this.p.clock.now();
    const dueNow = and(
      eq(deposits.status, 'reviewing'),
      lte(deposits.reviewEndsAt, now),
      isNull(deposits.frozenReason),
    );
    const due = await this.p.db
      .select({ account: deposits.account })
      .from(deposits)
      .where(
        and(
          dueNow,
          sql`not exists (select 1 from ${commissionFreezes} f
                where ${deposits.ownerKind} = 'creator' and f.creator_account_id = ${deposits.ownerId})`,
        ),
      )
      .orderBy(asc(deposits.reviewEndsAt))
      .limit(500);
    let changed = 0;
    for (const { account } of due) {
      const done = await inTransaction(this.p.db, async (tx) => {
        const [row] = await tx
          .select()
          .from(deposits)
          .where(and(eq(deposits.account, account), dueNow))
          .for('update', { skipLocked: true });
        if (!row) return false;
        if (row.ownerKind === 'creator' && (await this.ledger.commissionFreeze(tx, row.ownerId)))
          return false;
        const holder = holderOf(row);
        const balance = await this.ledger.lockBalance(tx, account);
        if (balance <= 0) {
          await tx.update(deposits).set(this.withdrawalCleared(now)).where(eq(deposits.account, account));
          return true;
        }
        const payout = await this.payouts.createPayout(tx, {
          owner: { kind: holder.kind, id: holder.ownerId },
          purpose: 'deposit_refund',
          sourceAccount: account,
          payoutAccountId: row.withdrawalPayoutAccountId!,
          amountFen: balance,
          requestedBy: 'system:deposit-review',
        });
        await tx
          .update(deposits)
          .set({ status: 'paying_out', withdrawalPayoutId: payout.id, updatedAt: now })
          .where(eq(deposits.account, account));
        return true;
      });
      if (done) changed++;
    }
    if (changed > 0) this.p.outbox.wake();
    return changed;
  }

  private withdrawalCleared(now: Date) {
    return {
      status: 'open' as const,
      withdrawalRequestedAt: null,
      reviewEndsAt: null,
      withdrawalPayoutAccountId: null,
      withdrawalPayoutId: null,
      updatedAt: now,
    };
  }

  /**
   * A deposit's payout has its answer: the deposit is open again (empty on success; on failure
   * the money is back in it and the owner may ask again; a creator's sharing stays closed
   * until they lock a deposit again). A deposit forfeited meanwhile forfeits what came back.
   */
  private async onPayoutFinished(tx: Tx, payout: PayoutRow, outcome: PayoutOutcome): Promise<void> {
    if (payout.purpose !== 'deposit_refund') return;
    const [row] = await tx
      .select()
      .from(deposits)
      .where(eq(deposits.account, payout.sourceAccount))
      .for('update');
    if (!row || row.withdrawalPayoutId !== payout.id) return;
    const now = this.p.clock.now();
    if (row.status === 'forfeited') {
      if (outcome === 'failed')
        await this.forfeit(tx, holderOf(row), row, 'system', 'payout failed after the ban');
      await tx
        .update(deposits)
        .set({ ...this.withdrawalCleared(now), status: 'forfeited' })
        .where(eq(deposits.account, row.account));
      return;
    }
    await tx.update(deposits).set(this.withdrawalCleared(now)).where(eq(deposits.account, row.account));
    await recordEvent(
      tx,
      this.p.clock,
      outcome === 'succeeded' ? 'deposit.withdrawn' : 'deposit.withdrawal_failed',
      row.account,
      {
        account: row.account,
        ownerKind: row.ownerKind,
        ownerId: row.ownerId,
        payoutId: payout.id,
        amountFen: payout.amountFen,
      },
    );
  }

  // --- penalties, freezes and forfeiture --------------------------------------------------------------

  async penalizeCreator(
    operatorId: string,
    creatorId: string,
    amountFen: number,
    reason: string,
    key: string,
  ) {
    await this.creators.getProfile(creatorId);
    return this.penalize(operatorId, creatorHolder(creatorId), amountFen, reason, key);
  }

  async penalizeShop(
    operatorId: string,
    shopId: string,
    categoryId: string,
    amountFen: number,
    reason: string,
    key: string,
  ) {
    await this.assertShop(shopId);
    return this.penalize(operatorId, shopHolder(shopId, categoryId), amountFen, reason, key);
  }

  /**
   * Deducts a penalty from a deposit (`Dr deposit / Cr penalty_revenue`), never more than it
   * holds: the balance row is locked first. A creator left short of the requirement has
   * sharing suspended until they top up.
   */
  private async penalize(operatorId: string, holder: Holder, amountFen: number, reason: string, key: string) {
    const ref = {
      scope: `${operatorId}:deposit-penalty`,
      key,
      hash: requestHash({ account: holder.account, amountFen, reason }),
    };
    return runIdempotent(this.p.db, this.p.clock, ref, async (tx) => {
      const [existing] = await tx
        .select()
        .from(deposits)
        .where(eq(deposits.account, holder.account))
        .for('update');
      if (existing?.status === 'forfeited') throw this.forfeitedError(holder);
      if (existing?.status === 'paying_out') {
        throw new AppError(
          'INVALID_STATE',
          `The deposit ${holder.account} is being paid back; nothing is left to deduct.`,
        );
      }
      const balance = existing ? await this.ledger.lockBalance(tx, holder.account) : 0;
      if (!existing || amountFen > balance) {
        throw new AppError(
          'PENALTY_EXCEEDS_DEPOSIT',
          `A penalty of ${amountFen} fen exceeds the deposit's balance of ${balance} fen.`,
          { balanceFen: balance, amountFen },
        );
      }
      const id = newId('depositDeduction');
      const journalId = await this.ledger.post(tx, {
        kind: 'deposit_penalty',
        ref: id,
        memo: `penalty: ${reason}`,
        postings: [debit(holder.account, amountFen), credit(PLATFORM.penaltyRevenue, amountFen)],
      });
      const [deduction] = await tx
        .insert(depositDeductions)
        .values({
          id,
          account: holder.account,
          kind: 'penalty',
          amountFen,
          reason,
          note: null,
          operatorId,
          journalId,
          createdAt: this.p.clock.now(),
        })
        .returning();
      if (holder.kind === 'creator' && existing.status === 'open') {
        const req = await this.requirementInTx(tx, holder, existing);
        if (balance - amountFen < req.requiredFen) {
          await this.creators.applyDepositRule(
            tx,
            holder.ownerId,
            'suspended',
            `a penalty left the deposit at ${balance - amountFen} fen, short of the ${req.requiredFen} fen required`,
          );
        }
      }
      await recordEvent(tx, this.p.clock, 'deposit.penalized', holder.account, {
        account: holder.account,
        ownerKind: holder.kind,
        ownerId: holder.ownerId,
        deductionId: id,
        amountFen,
        operatorId,
      });
      return {
        status: 201,
        body: { deduction: deductionView(deduction!), deposit: await this.view(tx, holder) },
      };
    });
  }

  /** A permanent ban: the whole deposit is forfeited and sharing is revoked for good. */
  async banCreator(operatorId: string, creatorId: string, reason: string) {
    return inTransaction(this.p.db, async (tx) => {
      const holder = creatorHolder(creatorId);
      await this.creators.getProfile(creatorId, tx);
      const row = await this.lockRow(tx, holder);
      const forfeiture =
        row.status === 'forfeited' ? null : await this.forfeit(tx, holder, row, operatorId, reason);
      await this.creators.applyDepositRule(tx, creatorId, 'banned', reason, { by: operatorId });
      const profile = await this.creators.getProfile(creatorId, tx);
      return {
        forfeiture: forfeiture ? deductionView(forfeiture) : null,
        deposit: { ...(await this.view(tx, holder)), sharingPermission: profile.sharingPermission },
      };
    });
  }

  async forfeitShopDeposit(operatorId: string, shopId: string, categoryId: string, reason: string) {
    await this.assertShop(shopId);
    await this.assertCategory(categoryId);
    return inTransaction(this.p.db, async (tx) => {
      const holder = shopHolder(shopId, categoryId);
      const row = await this.lockRow(tx, holder);
      const forfeiture =
        row.status === 'forfeited' ? null : await this.forfeit(tx, holder, row, operatorId, reason);
      return {
        forfeiture: forfeiture ? deductionView(forfeiture) : null,
        deposit: await this.view(tx, holder),
      };
    });
  }

  /**
   * Forfeits the whole balance (`Dr deposit / Cr penalty_revenue`, reason `forfeited`) and
   * closes the deposit for good. A payout already in flight passed its review and proceeds.
   */
  private async forfeit(tx: Tx, holder: Holder, row: DepositRow, operatorId: string, note: string) {
    const balance = row.status === 'paying_out' ? 0 : await this.ledger.lockBalance(tx, holder.account);
    const id = newId('depositDeduction');
    const journalId =
      balance > 0
        ? await this.ledger.post(tx, {
            kind: 'deposit_forfeiture',
            ref: id,
            memo: `forfeited: ${note}`,
            postings: [debit(holder.account, balance), credit(PLATFORM.penaltyRevenue, balance)],
          })
        : null;
    const now = this.p.clock.now();
    const [deduction] = await tx
      .insert(depositDeductions)
      .values({
        id,
        account: holder.account,
        kind: 'forfeiture',
        amountFen: Math.max(0, balance),
        reason: 'forfeited',
        note,
        operatorId,
        journalId,
        createdAt: now,
      })
      .returning();
    await tx
      .update(deposits)
      .set(
        row.status === 'paying_out'
          ? { status: 'forfeited', updatedAt: now }
          : { ...this.withdrawalCleared(now), status: 'forfeited' },
      )
      .where(eq(deposits.account, holder.account));
    await recordEvent(tx, this.p.clock, 'deposit.forfeited', holder.account, {
      account: holder.account,
      ownerKind: holder.kind,
      ownerId: holder.ownerId,
      amountFen: Math.max(0, balance),
      operatorId,
    });
    return deduction!;
  }

  /** A freeze (violation under investigation) holds a withdrawal's payout until it lifts. */
  async setCreatorFreeze(operatorId: string, creatorId: string, reason: string | null) {
    await this.creators.getProfile(creatorId);
    return this.setFreeze(operatorId, creatorHolder(creatorId), reason);
  }

  async setShopFreeze(operatorId: string, shopId: string, categoryId: string, reason: string | null) {
    await this.assertShop(shopId);
    await this.assertCategory(categoryId);
    return this.setFreeze(operatorId, shopHolder(shopId, categoryId), reason);
  }

  private async setFreeze(operatorId: string, holder: Holder, reason: string | null) {
    return inTransaction(this.p.db, async (tx) => {
      await this.lockRow(tx, holder);
      const now = this.p.clock.now();
      const [row] = await tx
        .update(deposits)
        .set({
          frozenReason: reason,
          frozenBy: reason ? operatorId : null,
          frozenAt: reason ? now : null,
          updatedAt: now,
        })
        .where(eq(deposits.account, holder.account))
        .returning();
      return this.view(tx, holder, row!);
    });
  }

  // --- the monthly requirement -------------------------------------------------------------------------

  /**
   * Job: at a month start, each creator deposit gets the new month's requirement from last
   * month's paid GMV. Short and granted → suspended until topped up; covered and suspended
   * (or never granted) → granted. Batches of rows claimed with SKIP LOCKED, one transaction each.
   */
  async refreshCreatorRequirements(): Promise<number> {
    const batch = 500;
    const w = previousLocalMonth(this.p.clock.now(), this.offset);
    let total = 0;
    for (;;) {
      const n = await inTransaction(this.p.db, async (tx) => {
        const rows = await tx
          .select()
          .from(deposits)
          .where(
            and(
              eq(deposits.ownerKind, 'creator'),
              ne(deposits.status, 'forfeited'),
              or(isNull(deposits.requiredMonth), ne(deposits.requiredMonth, w.month)),
            ),
          )
          .orderBy(asc(deposits.account))
          .limit(batch)
          .for('update', { skipLocked: true });
        if (rows.length === 0) return 0;
        const [gmv, balances] = await Promise.all([
          this.gmvByCreator(
            tx,
            rows.map((r) => r.ownerId),
            w.from,
            w.to,
          ),
          this.ledger.balances(
            tx,
            rows.map((r) => r.account),
          ),
        ]);
        const now = this.p.clock.now();
        for (const row of rows) {
          const req = this.creatorRequirementFrom(w.month, gmv.get(row.ownerId) ?? 0);
          await tx
            .update(deposits)
            .set({
              requiredFen: req.requiredFen,
              requiredMonth: w.month,
              lastMonthGmvFen: req.lastMonthGmvFen!,
              updatedAt: now,
            })
            .where(eq(deposits.account, row.account));
          if (row.status !== 'open') continue;
          const balance = balances[row.account] ?? 0;
          if (balance >= req.requiredFen) {
            await this.creators.applyDepositRule(
              tx,
              row.ownerId,
              'granted',
              `deposit of ${balance} fen covers the ${req.requiredFen} fen required for ${w.month}`,
            );
          } else {
            await this.creators.applyDepositRule(
              tx,
              row.ownerId,
              'suspended',
              `deposit of ${balance} fen is short of the ${req.requiredFen} fen required for ${w.month}`,
            );
          }
        }
        return rows.length;
      });
      total += n;
      if (n < batch) break;
    }
    return total;
  }

  // --- checks ----------------------------------------------------------------------------------------

  private assertOpen(row: DepositRow, holder: Holder, what: string) {
    if (row.status === 'forfeited') throw this.forfeitedError(holder);
    if (row.status !== 'open') {
      throw new AppError(
        'INVALID_STATE',
        `Cannot ${what}: a withdrawal of this deposit is ${row.status === 'reviewing' ? `under review until ${row.reviewEndsAt?.toISOString()}` : 'being paid out'}.`,
        { status: row.status },
      );
    }
  }

  private forfeitedError(holder: Holder) {
    return new AppError(
      'DEPOSIT_FORFEITED',
      holder.kind === 'creator'
        ? 'This creator is banned for good; the deposit was forfeited.'
        : `The deposit of shop ${holder.ownerId} for category ${holder.categoryId} was forfeited.`,
    );
  }

  private async assertCategory(categoryId: string) {
    const [cat] = await this.p.db
      .select({ id: categories.id })
      .from(categories)
      .where(eq(categories.id, categoryId));
    if (!cat) throw notFound('NOT_FOUND', 'Category', categoryId);
  }

  private async assertShop(shopId: string) {
    const [shop] = await this.p.db.select({ id: shops.id }).from(shops).where(eq(shops.id, shopId));
    if (!shop) throw notFound('SHOP_NOT_FOUND', 'Shop', shopId);
  }
}
