import { and, asc, desc, eq, isNotNull, lt, lte, sql } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import type { Executor, Tx } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { requestHash, runIdempotent, storedResponse } from '../../platform/idempotency.js';
import { newId } from '../../platform/ids.js';
import { type DomainEvent, recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import { creatorAccount, credit, debit, PLATFORM, shopAccount } from './accounts.js';
import type { PayoutProvider, PayoutResult } from './payout-provider.js';
import { type DepositOwner, type PayoutStatus, payoutAccounts, payouts } from './schema.js';
import type { LedgerService } from './service.js';

/** Who money is paid out to: a shop, or a creator (by account id). */
export interface PayoutOwner {
  kind: DepositOwner;
  id: string;
}

export type PayoutRow = typeof payouts.$inferSelect;
export type PayoutAccountRow = typeof payoutAccounts.$inferSelect;
export type PayoutOutcome = 'succeeded' | 'failed';
/** Runs in the transaction that books a payout's final result, after its journal. */
export type PayoutFinishedHook = (tx: Tx, payout: PayoutRow, outcome: PayoutOutcome) => Promise<void>;

export const availableAccountOf = (owner: PayoutOwner) =>
  owner.kind === 'shop' ? shopAccount(owner.id, 'available') : creatorAccount(owner.id, 'available');

const accountView = (a: PayoutAccountRow) => ({
  id: a.id,
  bankName: a.bankName,
  holderName: a.holderName,
  accountLast4: a.accountLast4,
  accountMask: `**** ${a.accountLast4}`,
  createdAt: a.createdAt,
});

const payoutView = (p: PayoutRow, account?: PayoutAccountRow) => ({
  id: p.id,
  ownerKind: p.ownerKind,
  ownerId: p.ownerId,
  purpose: p.purpose,
  amountFen: p.amountFen,
  status: p.status,
  failureReason: p.failureReason,
  payoutAccount: account
    ? { id: account.id, bankName: account.bankName, accountLast4: account.accountLast4 }
    : { id: p.payoutAccountId },
  createdAt: p.createdAt,
  finishedAt: p.finishedAt,
});
export type PayoutView = ReturnType<typeof payoutView>;

/**
 * Payouts (提现): money leaves an owner's ledger account into `payouts_in_transit` in the
 * request's transaction, the provider is called after commit (outbox `payout.requested`),
 * and its answer either clears the transit account against cash or reverses the journal.
 * Every journal is idempotent by (kind, payout id), so replays and polls change nothing twice.
 */
export class PayoutService {
  private readonly finishedHooks: PayoutFinishedHook[] = [];

  constructor(
    private readonly p: Platform,
    private readonly ledger: LedgerService,
    private readonly provider: PayoutProvider,
  ) {}

  onFinished(hook: PayoutFinishedHook): void {
    this.finishedHooks.push(hook);
  }

  // --- payout accounts -------------------------------------------------------------------------

  async registerAccount(
    owner: PayoutOwner,
    actorId: string,
    input: { bankName: string; holderName: string; accountNumber: string },
  ) {
    const vaulted = await this.provider.registerAccount(input);
    const [row] = await this.p.db
      .insert(payoutAccounts)
      .values({
        id: newId('payoutAccount'),
        ownerKind: owner.kind,
        ownerId: owner.id,
        bankName: input.bankName,
        holderName: input.holderName,
        accountLast4: vaulted.last4,
        providerToken: vaulted.token,
        createdBy: actorId,
        createdAt: this.p.clock.now(),
      })
      .returning();
    return accountView(row!);
  }

  async listAccounts(owner: PayoutOwner) {
    const rows = await this.p.db
      .select()
      .from(payoutAccounts)
      .where(and(eq(payoutAccounts.ownerKind, owner.kind), eq(payoutAccounts.ownerId, owner.id)))
      .orderBy(asc(payoutAccounts.id))
      .limit(100);
    return { items: rows.map(accountView) };
  }

  /** The owner's payout account, or 404 (another owner's account is as good as missing). */
  async accountOf(ex: Executor, owner: PayoutOwner, id: string): Promise<PayoutAccountRow> {
    const [row] = await ex
      .select()
      .from(payoutAccounts)
      .where(
        and(
          eq(payoutAccounts.id, id),
          eq(payoutAccounts.ownerKind, owner.kind),
          eq(payoutAccounts.ownerId, owner.id),
        ),
      );
    if (!row) {
      throw new AppError(
        'PAYOUT_ACCOUNT_NOT_FOUND',
        `Payout account ${id} was not found; register one under finance/payout-accounts first.`,
        { id },
      );
    }
    return row;
  }

  // --- withdrawals -----------------------------------------------------------------------------

  /**
   * A withdrawal of the owner's available balance. The balance row is locked before it is
   * read, so concurrent requests queue and none can take more than is there.
   */
  async requestWithdrawal(
    owner: PayoutOwner,
    actorId: string,
    input: { amountFen: number; payoutAccountId: string },
    idempotencyKey: string,
  ) {
    const ref = {
      scope: `${owner.kind}:${owner.id}:withdraw`,
      key: idempotencyKey,
      hash: requestHash({ amountFen: input.amountFen, payoutAccountId: input.payoutAccountId }),
    };
    const prior = await storedResponse<PayoutView>(this.p.db, ref);
    if (prior) return prior;
    const result = await runIdempotent<PayoutView>(this.p.db, this.p.clock, ref, async (tx) => {
      const min = this.p.config.PAYOUT_MIN_FEN;
      if (input.amountFen < min) {
        throw new AppError(
          'PAYOUT_BELOW_MINIMUM',
          `A withdrawal must be at least ${min} fen; ${input.amountFen} fen was asked.`,
          { minimumFen: min, amountFen: input.amountFen },
        );
      }
      const account = await this.accountOf(tx, owner, input.payoutAccountId);
      const source = availableAccountOf(owner);
      const available = await this.ledger.lockBalance(tx, source);
      if (input.amountFen > available) {
        throw new AppError(
          'INSUFFICIENT_BALANCE',
          `A withdrawal of ${input.amountFen} fen exceeds the available balance of ${available} fen.`,
          { availableFen: available, amountFen: input.amountFen },
        );
      }
      const payout = await this.createPayout(tx, {
        owner,
        purpose: 'withdrawal',
        sourceAccount: source,
        payoutAccountId: account.id,
        amountFen: input.amountFen,
        requestedBy: actorId,
      });
      return { status: 201, body: payoutView(payout, account) };
    });
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  /**
   * Books money into transit and records the payout; the provider is called once the caller's
   * transaction commits. The caller has locked `sourceAccount` and checked the amount.
   */
  async createPayout(
    tx: Tx,
    input: {
      owner: PayoutOwner;
      purpose: PayoutRow['purpose'];
      sourceAccount: string;
      payoutAccountId: string;
      amountFen: number;
      requestedBy: string;
    },
  ): Promise<PayoutRow> {
    const id = newId('payout');
    const row: PayoutRow = {
      id,
      ownerKind: input.owner.kind,
      ownerId: input.owner.id,
      purpose: input.purpose,
      sourceAccount: input.sourceAccount,
      payoutAccountId: input.payoutAccountId,
      amountFen: input.amountFen,
      status: 'processing',
      provider: this.provider.name,
      providerRef: null,
      failureReason: null,
      requestedBy: input.requestedBy,
      createdAt: this.p.clock.now(),
      sentAt: null,
      finishedAt: null,
    };
    await this.ledger.post(tx, {
      kind: 'payout',
      ref: id,
      memo: input.purpose === 'withdrawal' ? 'withdrawal requested' : 'deposit paid back',
      postings: [
        debit(input.sourceAccount, input.amountFen),
        credit(PLATFORM.payoutsInTransit, input.amountFen),
      ],
    });
    await tx.insert(payouts).values(row);
    await recordEvent(tx, this.p.clock, 'payout.requested', id, {
      payoutId: id,
      ownerKind: row.ownerKind,
      ownerId: row.ownerId,
      amountFen: row.amountFen,
    });
    return row;
  }

  async listPayouts(
    owner: PayoutOwner,
    page: { status?: PayoutStatus | undefined; cursor?: string | undefined; limit: number },
  ) {
    const conds = [eq(payouts.ownerKind, owner.kind), eq(payouts.ownerId, owner.id)];
    if (page.status) conds.push(eq(payouts.status, page.status));
    if (page.cursor) conds.push(lt(payouts.id, page.cursor));
    const rows = await this.p.db
      .select({ payout: payouts, account: payoutAccounts })
      .from(payouts)
      .leftJoin(payoutAccounts, eq(payoutAccounts.id, payouts.payoutAccountId))
      .where(and(...conds))
      .orderBy(desc(payouts.id))
      .limit(page.limit);
    return {
      items: rows.map((r) => payoutView(r.payout, r.account ?? undefined)),
      nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.payout.id : null,
    };
  }

  async getPayout(owner: PayoutOwner, id: string) {
    const [r] = await this.p.db
      .select({ payout: payouts, account: payoutAccounts })
      .from(payouts)
      .leftJoin(payoutAccounts, eq(payoutAccounts.id, payouts.payoutAccountId))
      .where(and(eq(payouts.id, id), eq(payouts.ownerKind, owner.kind), eq(payouts.ownerId, owner.id)));
    if (!r) throw new AppError('PAYOUT_NOT_FOUND', `Payout ${id} was not found`, { id });
    return payoutView(r.payout, r.account ?? undefined);
  }

  // --- the provider ----------------------------------------------------------------------------

  /**
   * Handler of `payout.requested`: sends the payout (idempotent by payout id at the provider,
   * so a redelivered event or a retried transaction never pays twice) and books a final answer.
   */
  async sendPayout(tx: Tx, e: DomainEvent<{ payoutId: string }>): Promise<void> {
    const [payout] = await tx.select().from(payouts).where(eq(payouts.id, e.payload.payoutId)).for('update');
    if (payout?.status !== 'processing') return;
    const [account] = await tx
      .select()
      .from(payoutAccounts)
      .where(eq(payoutAccounts.id, payout.payoutAccountId));
    const result: PayoutResult = account
      ? await this.provider.send({
          payoutId: payout.id,
          amountFen: payout.amountFen,
          account: {
            token: account.providerToken,
            bankName: account.bankName,
            holderName: account.holderName,
          },
          idempotencyKey: payout.id,
        })
      : { providerRef: '', status: 'failed', failureReason: 'payout_account_missing' };
    if (result.status === 'pending') {
      await tx
        .update(payouts)
        .set({ providerRef: result.providerRef, sentAt: this.p.clock.now() })
        .where(eq(payouts.id, payout.id));
      return;
    }
    await this.finish(tx, payout, result);
  }

  /** Job: asks the provider for the final answer of payouts it left pending. */
  async pollPending(): Promise<number> {
    const due = await this.p.db
      .select({ id: payouts.id })
      .from(payouts)
      .where(
        and(
          eq(payouts.status, 'processing'),
          isNotNull(payouts.providerRef),
          lte(payouts.sentAt, this.p.clock.now()),
        ),
      )
      .orderBy(asc(payouts.sentAt))
      .limit(500);
    let changed = 0;
    for (const { id } of due) {
      const done = await inTransaction(this.p.db, async (tx) => {
        const [payout] = await tx
          .select()
          .from(payouts)
          .where(and(eq(payouts.id, id), eq(payouts.status, 'processing')))
          .for('update', { skipLocked: true });
        if (!payout?.providerRef) return false;
        const result = await this.provider.poll(payout.providerRef);
        if (result.status === 'pending') return false;
        await this.finish(tx, payout, result);
        return true;
      });
      if (done) changed++;
    }
    if (changed > 0) this.p.outbox.wake();
    return changed;
  }

  /** Books the provider's final answer on a locked, still-processing payout. */
  private async finish(tx: Tx, payout: PayoutRow, result: PayoutResult): Promise<void> {
    const outcome: PayoutOutcome = result.status === 'succeeded' ? 'succeeded' : 'failed';
    const now = this.p.clock.now();
    if (outcome === 'succeeded') {
      await this.ledger.post(tx, {
        kind: 'payout_success',
        ref: payout.id,
        memo: 'payout paid by the provider',
        postings: [
          debit(PLATFORM.payoutsInTransit, payout.amountFen),
          credit(PLATFORM.clearing, payout.amountFen),
        ],
      });
    } else {
      await this.ledger.post(tx, {
        kind: 'payout_reversal',
        ref: payout.id,
        memo: `payout failed: ${result.failureReason ?? 'unknown'}`,
        postings: [
          debit(PLATFORM.payoutsInTransit, payout.amountFen),
          credit(payout.sourceAccount, payout.amountFen),
        ],
      });
    }
    const [done] = await tx
      .update(payouts)
      .set({
        status: outcome,
        providerRef: result.providerRef || payout.providerRef,
        failureReason: outcome === 'failed' ? (result.failureReason ?? 'unknown') : null,
        sentAt: payout.sentAt ?? now,
        finishedAt: now,
      })
      .where(and(eq(payouts.id, payout.id), eq(payouts.status, 'processing')))
      .returning();
    if (!done) return;
    if (outcome === 'succeeded' && done.ownerKind === 'creator' && done.purpose === 'withdrawal') {
      const [all] = await tx
        .select({ sum: sql<string>`coalesce(sum(${payouts.amountFen}), 0)` })
        .from(payouts)
        .where(
          and(
            eq(payouts.ownerKind, 'creator'),
            eq(payouts.ownerId, done.ownerId),
            eq(payouts.purpose, 'withdrawal'),
            eq(payouts.status, 'succeeded'),
          ),
        );
      await this.ledger.markCommissionsWithdrawn(tx, done.ownerId, Number(all!.sum));
    }
    for (const hook of this.finishedHooks) await hook(tx, done, outcome);
    await recordEvent(tx, this.p.clock, `payout.${outcome}`, done.id, {
      payoutId: done.id,
      ownerKind: done.ownerKind,
      ownerId: done.ownerId,
      amountFen: done.amountFen,
      ...(outcome === 'failed' ? { failureReason: done.failureReason } : {}),
    });
  }
}
