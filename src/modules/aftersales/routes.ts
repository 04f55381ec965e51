import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { type HttpServer, sendIdempotent } from '../../platform/http.js';
import { fenSchema, idempotencyHeaders, idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
import { CARRIERS } from '../orders/routes.js';
import {
  AFTERSALES_STATUSES,
  AFTERSALES_TYPES,
  BUYER_REASONS,
  REJECT_REASON_CODES,
  REJECT_REASONS,
} from './schema.js';
import type { AfterSalesService } from './service.js';

const caseParams = z.object({ caseId: idOf('as') });
const shopCaseParams = shopIdParams.merge(caseParams);
const buyerOnly = { access: { roles: ['buyer'] } } as const;
const operatorOnly = { access: { roles: ['operator'] } } as const;
const shopReads = {
  access: { roles: ['merchant', 'service_provider'], shopPermission: 'orders.read' },
} as const;
const shopHandles = { access: { roles: ['merchant'], shopPermission: 'aftersales.handle' } } as const;
const text = (max: number) => z.string().trim().min(2).max(max);

const evidenceRule = Object.entries(REJECT_REASONS)
  .filter(([, r]) => r.evidence)
  .map(([code]) => code)
  .join(', ');

export function afterSalesRoutes(app: HttpServer, aftersales: AfterSalesService): void {
  // --- buyer ---
  app.post(
    '/api/orders/:orderId/aftersales',
    {
      config: buyerOnly,
      schema: {
        tags: ['aftersales'],
        summary: 'Ask for a refund (仅退款) or a return and refund (退货退款) on a paid order',
        description:
          'One case per order at a time, within the after-sales window. A refund-only request before shipment stops the shipment. The order’s settlement waits until the case closes.',
        params: z.object({ orderId: idOf('ord') }),
        body: z.object({
          type: z.enum(AFTERSALES_TYPES),
          reasonCode: z.enum(BUYER_REASONS),
          amountFen: fenSchema
            .optional()
            .describe('defaults to everything still refundable (on the line, if given)'),
          lineId: idOf('oln').optional().describe('one line of the order; omitted for the order as a whole'),
          description: z.string().trim().min(1).max(500).optional(),
        }),
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(await aftersales.open(requirePrincipal(req).accountId, req.params.orderId, req.body)),
  );

  app.get(
    '/api/aftersales',
    {
      config: buyerOnly,
      schema: {
        tags: ['aftersales'],
        summary: "The buyer's after-sales cases, newest first",
        querystring: pageQuery.extend({ orderId: idOf('ord').optional() }),
      },
    },
    async (req) => aftersales.listForBuyer(requirePrincipal(req).accountId, req.query),
  );

  app.get(
    '/api/aftersales/:caseId',
    {
      config: buyerOnly,
      schema: { tags: ['aftersales'], summary: 'One of the buyer’s after-sales cases', params: caseParams },
    },
    async (req) => aftersales.getForBuyer(requirePrincipal(req).accountId, req.params.caseId),
  );

  app.post(
    '/api/aftersales/:caseId/cancel',
    {
      config: buyerOnly,
      schema: {
        tags: ['aftersales'],
        summary: 'Withdraw a case that is open, awaiting the return, or rejected',
        params: caseParams,
      },
    },
    async (req) => aftersales.cancel(requirePrincipal(req).accountId, req.params.caseId),
  );

  app.post(
    '/api/aftersales/:caseId/escalate',
    {
      config: buyerOnly,
      schema: {
        tags: ['aftersales'],
        summary: 'Ask the platform to arbitrate a rejected case (within 48 hours of the rejection)',
        params: caseParams,
        body: z.object({ statement: text(500) }),
      },
    },
    async (req) =>
      aftersales.escalate(requirePrincipal(req).accountId, req.params.caseId, req.body.statement),
  );

  app.post(
    '/api/aftersales/:caseId/return',
    {
      config: buyerOnly,
      schema: {
        tags: ['aftersales'],
        summary: 'Tell the shop how the goods are coming back (carrier and tracking number)',
        params: caseParams,
        body: z.object({
          carrier: z.enum(CARRIERS),
          trackingNo: z
            .string()
            .trim()
            .regex(/^[A-Z0-9]{8,30}$/, 'must be 8–30 capital letters or digits'),
        }),
      },
    },
    async (req) => aftersales.submitReturn(requirePrincipal(req).accountId, req.params.caseId, req.body),
  );

  // --- merchant ---
  app.get(
    '/api/shops/:shopId/aftersales',
    {
      config: shopReads,
      schema: {
        tags: ['aftersales'],
        summary: "The shop's after-sales cases, newest first",
        params: shopIdParams,
        querystring: pageQuery.extend({ status: z.enum(AFTERSALES_STATUSES).optional() }),
      },
    },
    async (req) => aftersales.listForShop(req.params.shopId, req.query),
  );

  app.get(
    '/api/shops/:shopId/aftersales/:caseId',
    {
      config: shopReads,
      schema: { tags: ['aftersales'], summary: 'One after-sales case of the shop', params: shopCaseParams },
    },
    async (req) => aftersales.getForShop(req.params.shopId, req.params.caseId),
  );

  app.post(
    '/api/shops/:shopId/aftersales/:caseId/approve',
    {
      config: shopHandles,
      schema: {
        tags: ['aftersales'],
        summary: 'Approve an open case: a refund-only case is refunded at once; a return awaits the goods',
        description: 'Retry with the same Idempotency-Key to get the same answer; the money moves once.',
        headers: idempotencyHeaders,
        params: shopCaseParams,
      },
    },
    async (req, reply) => {
      const { shopId, caseId } = req.params;
      const result = await aftersales.approve(
        shopId,
        requirePrincipal(req).accountId,
        caseId,
        req.headers['idempotency-key'],
      );
      return sendIdempotent(reply, result);
    },
  );

  app.post(
    '/api/shops/:shopId/aftersales/:caseId/reject',
    {
      config: shopHandles,
      schema: {
        tags: ['aftersales'],
        summary: 'Reject an open case (or a return that came back wrong) with a reason code',
        description: `Evidence is required for: ${evidenceRule}. The buyer may escalate within 48 hours.`,
        params: shopCaseParams,
        body: z.object({
          reason: z.enum(REJECT_REASON_CODES),
          evidence: z.string().trim().min(2).max(1000).optional(),
        }),
      },
    },
    async (req) =>
      aftersales.reject(req.params.shopId, requirePrincipal(req).accountId, req.params.caseId, req.body),
  );

  app.post(
    '/api/shops/:shopId/aftersales/:caseId/confirm-return',
    {
      config: shopHandles,
      schema: {
        tags: ['aftersales'],
        summary: 'Confirm the returned goods arrived; the refund goes out',
        headers: idempotencyHeaders,
        params: shopCaseParams,
      },
    },
    async (req, reply) => {
      const { shopId, caseId } = req.params;
      const result = await aftersales.confirmReturn(
        shopId,
        requirePrincipal(req).accountId,
        caseId,
        req.headers['idempotency-key'],
      );
      return sendIdempotent(reply, result);
    },
  );

  // --- platform ---
  app.get(
    '/api/operator/aftersales',
    {
      config: operatorOnly,
      schema: {
        tags: ['aftersales'],
        summary: 'The arbitration queue (or cases in another status), oldest first',
        querystring: pageQuery.extend({ status: z.enum(AFTERSALES_STATUSES).default('arbitration') }),
      },
    },
    async (req) => aftersales.listForOperator(req.query),
  );

  app.get(
    '/api/operator/aftersales/:caseId',
    {
      config: operatorOnly,
      schema: { tags: ['aftersales'], summary: 'One after-sales case', params: caseParams },
    },
    async (req) => aftersales.getForOperator(req.params.caseId),
  );

  app.post(
    '/api/operator/aftersales/:caseId/decide',
    {
      config: operatorOnly,
      schema: {
        tags: ['aftersales'],
        summary: 'Rule on an escalated case: refund (all or part of the claim) or reject',
        headers: idempotencyHeaders,
        params: caseParams,
        body: z.object({
          decision: z.enum(['refund', 'reject']),
          amountFen: fenSchema.optional().describe('refund only: defaults to the amount the buyer asked for'),
          note: text(500),
        }),
      },
    },
    async (req, reply) => {
      const result = await aftersales.decide(
        requirePrincipal(req).accountId,
        req.params.caseId,
        req.body,
        req.headers['idempotency-key'],
      );
      return sendIdempotent(reply, result);
    },
  );
}
