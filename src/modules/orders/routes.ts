import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { AppError } from '../../platform/errors.js';
import type { HttpServer } from '../../platform/http.js';
import { idempotencyHeaders, idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
import { registerSignedWebhook } from '../../platform/webhooks.js';
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
});

export function orderRoutes(app: HttpServer, orders: OrderService, logisticsSecret: string): void {
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
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(result.status).send(result.body);
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
      config: { access: { roles: ['merchant'], shopPermission: 'orders.read' } },
      schema: {
        tags: ['orders'],
        summary: "The shop's orders with masked recipients, newest first",
        params: shopIdParams,
        querystring: pageQuery.extend({ status: z.enum(ORDER_STATUSES).optional() }),
      },
    },
    async (req) => orders.listShopOrders(req.params.shopId, req.query),
  );

  app.get(
    '/api/shops/:shopId/orders/:orderId',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'orders.read' } },
      schema: {
        tags: ['orders'],
        summary: 'One order of the shop (masked recipient)',
        params: shopIdParams.merge(orderParams),
      },
    },
    async (req) => orders.getShopOrder(req.params.shopId, req.params.orderId),
  );

  app.post(
    '/api/shops/:shopId/orders/:orderId/ship',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'orders.ship' } },
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
    async (req) => orders.ship(req.params.shopId, req.params.orderId, req.body),
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
