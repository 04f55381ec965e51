import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, pgTable, primaryKey, text, unique } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

/** Fen as a JS number: exact up to 2^53, far past any platform-wide sum. */
const fen = (name: string) => bigint(name, { mode: 'number' });

/**
 * A journal is one balanced movement of money. `(kind, ref)` is unique, so posting the same
 * business fact twice (a replayed event, a retried request) finds the journal already there.
 */
export const ledgerJournals = pgTable(
  'ledger_journals',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    ref: text('ref').notNull(),
    memo: text('memo').notNull().default(''),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [unique('ledger_journals_kind_ref').on(t.kind, t.ref)],
);

/**
 * Postings: signed fen, debit positive. Every journal's postings sum to zero (checked by a
 * trigger at insert); rows are never updated or deleted (also a trigger).
 */
export const ledgerPostings = pgTable(
  'ledger_postings',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    journalId: text('journal_id').notNull(),
    account: text('account').notNull(),
    amount: fen('amount').notNull(),
    orderId: text('order_id'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('ledger_postings_account_idx').on(t.account, t.createdAt, t.id),
    // A journal's postings (an order's: its journals by (kind, ref), then these). No index on
    // order_id: no query filters postings by it, and every paid order writes four postings.
    index('ledger_postings_journal_idx').on(t.journalId),
  ],
);

/**
 * Materialised balances (sum of amounts, debit positive) of the accounts that belong to a
 * shop or a creator, maintained by the postings trigger in the same statement. Platform-wide
 * accounts are summed on demand instead, so no payment queues on one hot balance row.
 */
export const ledgerBalances = pgTable('ledger_balances', {
  account: text('account').primaryKey(),
  balance: fen('balance').notNull(),
});

/** Technical service fee (技术服务费) by category; programme rows override the base rate in their window. */
export const feeRates = pgTable(
  'ledger_fee_rates',
  {
    id: text('id').primaryKey(),
    categoryId: text('category_id').notNull(),
    bps: integer('bps').notNull(),
    /** null: the category's base rate; otherwise a programme (waiver or reduction) name. */
    programme: text('programme'),
    startsAt: ts('starts_at').notNull(),
    endsAt: ts('ends_at'),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('ledger_fee_rates_category_idx').on(t.categoryId, t.startsAt),
    check('ledger_fee_rates_bps_range', sql`${t.bps} between 0 and 2000`),
  ],
);

export const COMMISSION_STATUSES = ['pending', 'frozen', 'settled', 'withdrawn', 'refunded'] as const;
export type CommissionStatus = (typeof COMMISSION_STATUSES)[number];

/**
 * The money of one paid order: the split recorded at payment, what refunds reversed so far,
 * and when each part settled. The ledger's own copy, so settlement is one set-based pass
 * over one table.
 */
export const orderMoney = pgTable(
  'ledger_order_money',
  {
    orderId: text('order_id').primaryKey(),
    shopId: text('shop_id').notNull(),
    creatorAccountId: text('creator_account_id'),
    /** What the buyer paid, and what the platform's coupons added on the buyer's behalf. */
    paidFen: fen('paid_fen').notNull(),
    subsidyFen: fen('subsidy_fen').notNull(),
    shopShareFen: fen('shop_share_fen').notNull(),
    commissionFen: fen('commission_fen').notNull(),
    feeFen: fen('fee_fen').notNull(),
    refundedFen: fen('refunded_fen').notNull().default(0),
    subsidyReversedFen: fen('subsidy_reversed_fen').notNull().default(0),
    shopShareReversedFen: fen('shop_share_reversed_fen').notNull().default(0),
    commissionReversedFen: fen('commission_reversed_fen').notNull().default(0),
    feeReversedFen: fen('fee_reversed_fen').notNull().default(0),
    paidAt: ts('paid_at').notNull(),
    deliveredAt: ts('delivered_at'),
    completedAt: ts('completed_at'),
    /** Completion plus the after-sales window; null until the order completes. */
    settleAfter: ts('settle_after'),
    openCases: integer('open_cases').notNull().default(0),
    shopSettledAt: ts('shop_settled_at'),
    commissionStatus: text('commission_status').$type<CommissionStatus>().notNull(),
    commissionSettledAt: ts('commission_settled_at'),
  },
  (t) => [
    index('ledger_order_money_due_idx')
      .on(t.settleAfter, t.orderId)
      .where(sql`${t.shopSettledAt} is null and ${t.settleAfter} is not null`),
    index('ledger_order_money_creator_idx').on(t.creatorAccountId, t.paidAt),
    index('ledger_order_money_frozen_idx')
      .on(t.creatorAccountId)
      .where(sql`${t.commissionStatus} = 'frozen'`),
    check('ledger_order_money_open_cases', sql`${t.openCases} >= 0`),
    check('ledger_order_money_refund_le_paid', sql`${t.refundedFen} <= ${t.paidFen}`),
  ],
);

/** Per-line split, for refunds of one line and pro-rata refunds across lines. */
export const orderMoneyLines = pgTable(
  'ledger_order_money_lines',
  {
    orderId: text('order_id').notNull(),
    lineId: text('line_id').notNull(),
    categoryId: text('category_id').notNull(),
    feeBps: integer('fee_bps').notNull(),
    commissionBps: integer('commission_bps').notNull(),
    paidFen: fen('paid_fen').notNull(),
    subsidyFen: fen('subsidy_fen').notNull(),
    commissionFen: fen('commission_fen').notNull(),
    feeFen: fen('fee_fen').notNull(),
    refundedFen: fen('refunded_fen').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.orderId, t.lineId] }),
    check('ledger_order_money_lines_refund_le_paid', sql`${t.refundedFen} <= ${t.paidFen}`),
  ],
);

/** A creator whose commission is frozen (violation under review): pending commission waits. */
export const commissionFreezes = pgTable('ledger_commission_freezes', {
  creatorAccountId: text('creator_account_id').primaryKey(),
  reason: text('reason').notNull(),
  frozenBy: text('frozen_by').notNull(),
  frozenAt: ts('frozen_at').notNull(),
});

// --- deposits (保证金) ---------------------------------------------------------------------------

export const DEPOSIT_OWNERS = ['creator', 'shop'] as const;
export type DepositOwner = (typeof DEPOSIT_OWNERS)[number];

/** open → reviewing (withdrawal asked, 7-day review) → paying_out → open; any → forfeited (ban). */
export const DEPOSIT_STATUSES = ['open', 'reviewing', 'paying_out', 'forfeited'] as const;
export type DepositStatus = (typeof DEPOSIT_STATUSES)[number];

/** What a shop must lock to sell in a category, set by an operator (0 or no row: nothing). */
export const categoryDepositRequirements = pgTable(
  'ledger_category_deposit_requirements',
  {
    categoryId: text('category_id').primaryKey(),
    requiredFen: fen('required_fen').notNull(),
    setBy: text('set_by').notNull(),
    setAt: ts('set_at').notNull(),
  },
  (t) => [check('ledger_category_deposit_requirements_nonneg', sql`${t.requiredFen} >= 0`)],
);

/**
 * The state of one deposit account (a creator's, or a shop's for one category); the money
 * itself is the ledger balance of `account`. This row is what deposit use cases lock first.
 */
export const deposits = pgTable(
  'ledger_deposits',
  {
    account: text('account').primaryKey(),
    ownerKind: text('owner_kind').$type<DepositOwner>().notNull(),
    ownerId: text('owner_id').notNull(),
    /** The shop's category; null for a creator's deposit. */
    categoryId: text('category_id'),
    status: text('status').$type<DepositStatus>().notNull(),
    /** Creators: the requirement of `requiredMonth` (local `YYYY-MM`), from the month before's paid GMV. */
    requiredFen: fen('required_fen'),
    requiredMonth: text('required_month'),
    lastMonthGmvFen: fen('last_month_gmv_fen'),
    withdrawalRequestedAt: ts('withdrawal_requested_at'),
    reviewEndsAt: ts('review_ends_at'),
    withdrawalPayoutAccountId: text('withdrawal_payout_account_id'),
    withdrawalPayoutId: text('withdrawal_payout_id'),
    frozenReason: text('frozen_reason'),
    frozenBy: text('frozen_by'),
    frozenAt: ts('frozen_at'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    index('ledger_deposits_owner_idx').on(t.ownerKind, t.ownerId),
    index('ledger_deposits_review_idx').on(t.reviewEndsAt).where(sql`${t.status} = 'reviewing'`),
    index('ledger_deposits_month_idx').on(t.ownerKind, t.requiredMonth),
  ],
);

/** A deposit paid in through the payment provider: pending → succeeded | failed. */
export const depositPayments = pgTable(
  'ledger_deposit_payments',
  {
    id: text('id').primaryKey(),
    account: text('account').notNull(),
    amountFen: fen('amount_fen').notNull(),
    provider: text('provider').notNull(),
    providerRef: text('provider_ref').notNull().unique(),
    status: text('status').$type<'pending' | 'succeeded' | 'failed'>().notNull(),
    failureReason: text('failure_reason'),
    paidBy: text('paid_by').notNull(),
    createdAt: ts('created_at').notNull(),
    succeededAt: ts('succeeded_at'),
  },
  (t) => [index('ledger_deposit_payments_account_idx').on(t.account, t.id)],
);

/** Penalties deducted from a deposit and forfeitures of it, each booked by one journal. */
export const depositDeductions = pgTable(
  'ledger_deposit_deductions',
  {
    id: text('id').primaryKey(),
    account: text('account').notNull(),
    kind: text('kind').$type<'penalty' | 'forfeiture'>().notNull(),
    amountFen: fen('amount_fen').notNull(),
    /** The operator's reason for a penalty; `forfeited` for a forfeiture. */
    reason: text('reason').notNull(),
    /** For a forfeiture, the operator's reason for the ban. */
    note: text('note'),
    operatorId: text('operator_id').notNull(),
    journalId: text('journal_id'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    index('ledger_deposit_deductions_account_idx').on(t.account, t.id),
    check('ledger_deposit_deductions_nonneg', sql`${t.amountFen} >= 0`),
  ],
);

// --- payouts (提现) ------------------------------------------------------------------------------

/** Where a shop's or creator's payouts go. The account number is kept by the provider (token). */
export const payoutAccounts = pgTable(
  'ledger_payout_accounts',
  {
    id: text('id').primaryKey(),
    ownerKind: text('owner_kind').$type<DepositOwner>().notNull(),
    ownerId: text('owner_id').notNull(),
    bankName: text('bank_name').notNull(),
    holderName: text('holder_name').notNull(),
    accountLast4: text('account_last4').notNull(),
    /** The payout provider's opaque reference to the full account number. */
    providerToken: text('provider_token').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('ledger_payout_accounts_owner_idx').on(t.ownerKind, t.ownerId, t.id)],
);

export const PAYOUT_STATUSES = ['processing', 'succeeded', 'failed'] as const;
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];

/**
 * Money leaving the platform: a withdrawal of an available balance, or a deposit paid back
 * after its review. Booked into transit when requested; the provider is called after commit.
 */
export const payouts = pgTable(
  'ledger_payouts',
  {
    id: text('id').primaryKey(),
    ownerKind: text('owner_kind').$type<DepositOwner>().notNull(),
    ownerId: text('owner_id').notNull(),
    purpose: text('purpose').$type<'withdrawal' | 'deposit_refund'>().notNull(),
    /** The ledger account the money left (and returns to if the payout fails). */
    sourceAccount: text('source_account').notNull(),
    payoutAccountId: text('payout_account_id').notNull(),
    amountFen: fen('amount_fen').notNull(),
    status: text('status').$type<PayoutStatus>().notNull(),
    provider: text('provider').notNull(),
    providerRef: text('provider_ref'),
    failureReason: text('failure_reason'),
    requestedBy: text('requested_by').notNull(),
    createdAt: ts('created_at').notNull(),
    sentAt: ts('sent_at'),
    finishedAt: ts('finished_at'),
  },
  (t) => [
    index('ledger_payouts_owner_idx').on(t.ownerKind, t.ownerId, t.id),
    index('ledger_payouts_processing_idx').on(t.sentAt).where(sql`${t.status} = 'processing'`),
    check('ledger_payouts_positive', sql`${t.amountFen} > 0`),
  ],
);
