import { Readable } from 'node:stream';
import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import type { Db } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { type HttpServer, sendIdempotent } from '../../platform/http.js';
import { idempotencyHeaders, idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
import { registerSignedWebhook } from '../../platform/webhooks.js';
import type { AuditLog } from '../audit/service.js';
import type { PrivacyVault } from '../privacy/service.js';
import { recipientInputSchema } from '../privacy/service.js';
import { ORDER_STATUSES, VENUE_TYPES } from './schema.js';
import type { OrderService } from './service.js';

const orderParams = z.object({ orderId: idOf('ord') });
const buyerOnly = { access: { roles: ['buyer'] } } as const;
export const CARRIERS = ['SF', 'YTO', 'ZTO', 'STO', 'YD', 'JD', 'EMS', 'JT'] as const;

export const checkoutBody = z.object({
  venue: z.object({
    type: z.enum(VENUE_TYPES),
    id: z.string().min(1).max(40).optional().describe('live room or video id; omitted for search'),
  }),
  items: z
    .array(z.object({ skuId: idOf('sku'), quantity: z.number().int().min(1).max(999) }))
    .min(1)
    .max(50),
  recipient: recipientInputSchema,
  couponClaimIds: z
    .array(idOf('cpc'))
    .max(2)
    .optional()
    .describe('Claimed coupons: at most one shop coupon of this shop and one platform coupon'),
});

export interface OrderRouteDeps {
  logisticsSecret: string;
  vault: PrivacyVault;
  audit: AuditLog;
  /** Where standalone audit events are written (views and exports have no transaction). */
  db: Db;
}

const MERCHANT_SIDE = ['merchant', 'service_provider'] as const;
/** An export holds at most this many orders; narrow the filter (dates, status) for more. */
export const EXPORT_MAX_ORDERS = 5_000;

export function orderRoutes(app: HttpServer, orders: OrderService, deps: OrderRouteDeps): void {
  const { logisticsSecret, vault, audit, db } = deps;
  app.post(
    '/api/orders',
    {
      config: buyerOnly,
      schema: {
        tags: ['orders'],
        summary: 'Check out SKUs from a venue; reserves stock until payment or timeout',
        description:
          'Retry with the same Idempotency-Key to get the same order back; the recipient is stored encrypted and answered as masks.',
        headers: idempotencyHeaders,
        body: checkoutBody,
      },
    },
    async (req, reply) => {
      const buyerId = requirePrincipal(req).accountId;
      const result = await orders.createOrder(buyerId, req.body, req.headers['idempotency-key']);
      return sendIdempotent(reply, result);
    },
  );

  app.get(
    '/api/orders',
    {
      config: buyerOnly,
      schema: { tags: ['orders'], summary: "The buyer's orders, newest first", querystring: pageQuery },
    },
    async (req) => orders.listBuyerOrders(requirePrincipal(req).accountId, req.query),
  );

  app.get(
    '/api/orders/:orderId',
    {
      config: buyerOnly,
      schema: { tags: ['orders'], summary: 'One of the buyer’s orders', params: orderParams },
    },
    async (req) => orders.getBuyerOrder(requirePrincipal(req).accountId, req.params.orderId),
  );

  app.post(
    '/api/orders/:orderId/cancel',
    {
      config: buyerOnly,
      schema: {
        tags: ['orders'],
        summary: 'Cancel an unpaid order; its stock is released',
        params: orderParams,
      },
    },
    async (req) => orders.cancelByBuyer(requirePrincipal(req).accountId, req.params.orderId),
  );

  app.post(
    '/api/orders/:orderId/confirm-receipt',
    {
      config: buyerOnly,
      schema: {
        tags: ['orders'],
        summary: 'Confirm receipt (确认收货); completes the order',
        params: orderParams,
      },
    },
    async (req) => orders.confirmReceipt(requirePrincipal(req).accountId, req.params.orderId),
  );

  app.get(
    '/api/shops/:shopId/orders',
    {
      config: { access: { roles: MERCHANT_SIDE, shopPermission: 'orders.read' }, auditDenials: true },
      schema: {
        tags: ['orders'],
        summary: "The shop's orders with masked recipients, newest first (audited list view)",
        description:
          'Search by the buyer’s full phone number or full name: matched through a keyed blind index, never by decrypting.',
        params: shopIdParams,
        querystring: pageQuery.extend({
          status: z.enum(ORDER_STATUSES).optional(),
          phone: z
            .string()
            .trim()
            .regex(/^(\+?86)?1[3-9]\d{9}$/, 'must be a full mainland mobile number')
            .optional(),
          name: z.string().trim().min(1).max(40).optional(),
        }),
      },
    },
    async (req) => {
      const { shopId } = req.params;
      const { phone, name, ...page } = req.query;
      // Who is looking is read while the page is.
      const [actor, result] = await Promise.all([
        audit.actorForShop(req, shopId),
        (async () => {
          const recipientIds =
            phone || name ? await vault.findRecipientIds(shopId, { phone, name }) : undefined;
          return orders.listShopOrders(shopId, { ...page, recipientIds });
        })(),
      ]);
      await audit.record(db, {
        operation: 'view_order_list',
        actor,
        shopId,
        orderIds: result.items.map((o) => o.id),
        details: {
          count: result.items.length,
          status: page.status ?? null,
          search: phone ? 'phone' : name ? 'name' : null,
        },
      });
      return result;
    },
  );

  app.get(
    '/api/shops/:shopId/orders/export.csv',
    {
      config: { access: { roles: MERCHANT_SIDE, shopPermission: 'orders.export' }, auditDenials: true },
      schema: {
        tags: ['orders'],
        summary: `Export orders as CSV (masks only; at most ${EXPORT_MAX_ORDERS} orders; audited)`,
        params: shopIdParams,
        querystring: z.object({
          status: z.enum(ORDER_STATUSES).optional(),
          from: z.coerce.date().optional(),
          to: z.coerce.date().optional(),
          reason: z.string().trim().min(2).max(200),
        }),
      },
    },
    async (req, reply) => {
      const { shopId } = req.params;
      const { reason, ...filter } = req.query;
      const ids = await orders.shopOrderIds(shopId, filter, EXPORT_MAX_ORDERS + 1);
      if (ids.length > EXPORT_MAX_ORDERS) {
        throw new AppError(
          'VALIDATION_FAILED',
          `querystring: the filter matches more than ${EXPORT_MAX_ORDERS} orders; narrow it by status or dates.`,
        );
      }
      await audit.record(db, {
        operation: 'export_order_list',
        actor: await audit.actorForShop(req, shopId),
        shopId,
        orderIds: ids,
        reason,
        details: { format: 'csv', count: ids.length, status: filter.status ?? null },
      });
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="orders-${shopId}.csv"`);
      return reply.send(Readable.from(orders.exportShopOrdersCsv(shopId, filter)));
    },
  );

  app.get(
    '/api/shops/:shopId/orders/:orderId',
    {
      config: { access: { roles: MERCHANT_SIDE, shopPermission: 'orders.read' }, auditDenials: true },
      schema: {
        tags: ['orders'],
        summary: 'One order of the shop (masked recipient; audited view)',
        params: shopIdParams.merge(orderParams),
      },
    },
    async (req) => {
      const { shopId, orderId } = req.params;
      const order = await orders.getShopOrder(shopId, orderId);
      await audit.record(db, {
        operation: 'view_order',
        actor: await audit.actorForShop(req, shopId),
        shopId,
        orderIds: [orderId],
      });
      return order;
    },
  );

  app.post(
    '/api/shops/:shopId/orders/:orderId/ship',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'orders.ship' }, auditDenials: true },
      schema: {
        tags: ['orders'],
        summary: 'Ship a paid order with a carrier and tracking number',
        params: shopIdParams.merge(orderParams),
        body: z.object({
          carrier: z.enum(CARRIERS),
          trackingNo: z
            .string()
            .trim()
            .regex(/^[A-Z0-9]{8,30}$/, 'must be 8–30 capital letters or digits'),
        }),
      },
    },
    async (req) => {
      const { shopId, orderId } = req.params;
      const result = await orders.ship(shopId, orderId, req.body);
      await audit.record(db, {
        operation: 'print_order',
        actor: await audit.actorForShop(req, shopId),
        shopId,
        orderIds: [orderId],
        details: { waybillId: result.waybill.id, carrier: req.body.carrier },
      });
      return result;
    },
  );

  registerSignedWebhook(app, {
    url: '/api/webhooks/logistics',
    summary: 'Carrier tracking events (signed with the logistics webhook secret)',
    secret: logisticsSecret,
    body: z.object({
      eventId: z.string().min(1).max(100),
      carrier: z.enum(CARRIERS),
      trackingNo: z.string().max(30),
      status: z.enum(['delivered']),
    }),
    handler: async (body) => {
      const result = await orders.markDelivered(body.carrier, body.trackingNo);
      if (!result)
        throw new AppError('ORDER_NOT_FOUND', `No order ships with ${body.carrier} ${body.trackingNo}.`);
      return result;
    },
  });
}
