import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';
import type { RefundStage } from '../orders/schema.js';

export const AFTERSALES_TYPES = ['refund_only', 'return_and_refund'] as const;
export type AfterSalesType = (typeof AFTERSALES_TYPES)[number];

/**
 * open → refunded (refund only, approved) | awaiting_return → return_shipped → refunded
 * (return and refund); open | return_shipped → rejected → arbitration → refunded | closed,
 * or rejected → closed (not escalated in time); open | awaiting_return | rejected → cancelled.
 */
export const AFTERSALES_STATUSES = [
  'open',
  'awaiting_return',
  'return_shipped',
  'rejected',
  'arbitration',
  'refunded',
  'closed',
  'cancelled',
] as const;
export type AfterSalesStatus = (typeof AFTERSALES_STATUSES)[number];

/** A case in one of these holds the order's settlement (and is the order's one open case). */
export const ACTIVE_STATUSES = [
  'open',
  'awaiting_return',
  'return_shipped',
  'rejected',
  'arbitration',
] as const;

/** Statuses with a deadline the clock enforces (see AfterSalesService.sweepDeadlines). */
export const TIMED_STATUSES = ['open', 'awaiting_return', 'return_shipped', 'rejected'] as const;

export const AFTERSALES_OUTCOMES = [
  'refunded',
  'rejected',
  'arbitration_rejected',
  'cancelled',
  'return_not_shipped',
] as const;
export type AfterSalesOutcome = (typeof AFTERSALES_OUTCOMES)[number];

/** Why the buyer asks (售后原因). */
export const BUYER_REASONS = [
  'no_longer_needed',
  'not_as_described',
  'quality_issue',
  'damaged_in_transit',
  'wrong_item',
  'missing_parts',
  'not_received',
  'late_shipment',
  'other',
] as const;

/** Why a merchant refuses; some reasons stand only with evidence (a photo note, a tracking record). */
export const REJECT_REASONS = {
  already_shipped: { evidence: true },
  goods_used_or_damaged_by_buyer: { evidence: true },
  return_not_received: { evidence: true },
  return_not_as_sent: { evidence: true },
  outside_return_policy: { evidence: false },
  buyer_agreed_otherwise: { evidence: true },
  amount_not_justified: { evidence: false },
} as const;
export type RejectReason = keyof typeof REJECT_REASONS;
export const REJECT_REASON_CODES = Object.keys(REJECT_REASONS) as [RejectReason, ...RejectReason[]];

const activeList = sql.raw(ACTIVE_STATUSES.map((s) => `'${s}'`).join(', '));
const timedList = sql.raw(TIMED_STATUSES.map((s) => `'${s}'`).join(', '));

export const afterSalesCases = pgTable(
  'aftersales_cases',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id').notNull(),
    shopId: text('shop_id').notNull(),
    buyerAccountId: text('buyer_account_id').notNull(),
    type: text('type').$type<AfterSalesType>().notNull(),
    /** Where the order was when the case opened. */
    stage: text('stage').$type<RefundStage>().notNull(),
    status: text('status').$type<AfterSalesStatus>().notNull(),
    reasonCode: text('reason_code').notNull(),
    description: text('description'),
    /** The order line asked about, or null for the order as a whole. */
    lineId: text('line_id'),
    requestedFen: integer('requested_fen').notNull(),
    /** Minted when the case opens, so every attempt to refund it is the same refund. */
    refundId: text('refund_id').notNull().unique(),
    refundedFen: integer('refunded_fen'),
    rejectReason: text('reject_reason').$type<RejectReason>(),
    rejectEvidence: text('reject_evidence'),
    escalationStatement: text('escalation_statement'),
    returnCarrier: text('return_carrier'),
    returnTrackingNo: text('return_tracking_no'),
    arbitrationNote: text('arbitration_note'),
    arbitratorAccountId: text('arbitrator_account_id'),
    outcome: text('outcome').$type<AfterSalesOutcome>(),
    /** When the clock acts on a timed status (auto-approve, auto-close, auto-confirm). */
    deadlineAt: ts('deadline_at'),
    openedAt: ts('opened_at').notNull(),
    /** The merchant's answer (approve or reject) and who gave it; `system` when the clock did. */
    respondedAt: ts('responded_at'),
    respondedBy: text('responded_by'),
    returnShippedAt: ts('return_shipped_at'),
    escalatedAt: ts('escalated_at'),
    closedAt: ts('closed_at'),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    // One open case per order: concurrent opens cannot both insert.
    uniqueIndex('aftersales_cases_one_open_idx').on(t.orderId).where(sql`${t.status} in (${activeList})`),
    index('aftersales_cases_order_idx').on(t.orderId, t.id),
    index('aftersales_cases_shop_idx').on(t.shopId, t.id),
    index('aftersales_cases_shop_status_idx').on(t.shopId, t.status, t.id),
    index('aftersales_cases_buyer_idx').on(t.buyerAccountId, t.id),
    index('aftersales_cases_status_idx').on(t.status, t.id),
    index('aftersales_cases_deadline_idx').on(t.deadlineAt).where(sql`${t.status} in (${timedList})`),
    check('aftersales_cases_requested_positive', sql`${t.requestedFen} > 0`),
    check('aftersales_cases_refunded_range', sql`${t.refundedFen} is null or ${t.refundedFen} > 0`),
  ],
);
