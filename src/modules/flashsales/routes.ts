import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { type HttpServer, sendIdempotent } from '../../platform/http.js';
import { fenSchema, idempotencyHeaders, idOf, shopIdParams } from '../../platform/schemas.js';
import { recipientInputSchema } from '../privacy/service.js';
import type { FlashSaleService } from './service.js';

const slotParams = z.object({ slotId: idOf('fs') });
const roomParams = z.object({ roomId: idOf('lr') });
const reservationParams = z.object({ reservationId: idOf('fsr') });
const buyerOnly = { access: { roles: ['buyer'] } } as const;

const slotFields = z.object({
  cartItemId: idOf('lri'),
  skuId: idOf('sku'),
  startsAt: z.coerce.date().describe('when buyers may start buying'),
  endsAt: z.coerce.date().describe('when the sale closes; unsold units go back to the SKU'),
  priceFen: fenSchema.describe('the flash price, below the SKU’s price'),
  quantity: z.number().int().min(1).max(1_000_000).describe('units moved out of the SKU’s stock'),
  perBuyerLimit: z.number().int().min(1).max(99),
  bucketCount: z
    .number()
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe('rows the units are split over (default: about 50 units a row, at most 32)'),
});

export function flashSaleRoutes(app: HttpServer, flash: FlashSaleService): void {
  app.post(
    '/api/creator/live-rooms/:roomId/flash-sales',
    {
      config: { access: { roles: ['creator'] } },
      schema: {
        tags: ['flash sales'],
        summary: 'Schedule a flash sale (秒杀) for a cart item of your live room',
        description:
          'Moves `quantity` units out of the SKU’s stock (refused if short) until the sale ends; the room hears `flash_sale_scheduled`.',
        params: roomParams,
        body: slotFields,
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(await flash.scheduleByCreator(requirePrincipal(req).accountId, req.params.roomId, req.body)),
  );

  app.post(
    '/api/shops/:shopId/flash-sales',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.write' } },
      schema: {
        tags: ['flash sales'],
        summary: 'Schedule a flash sale for the shop’s product in a live room’s cart',
        params: shopIdParams,
        body: slotFields.extend({ roomId: idOf('lr') }),
      },
    },
    async (req, reply) => {
      const { roomId, ...input } = req.body;
      const slot = await flash.scheduleByMerchant(
        requirePrincipal(req).accountId,
        req.params.shopId,
        roomId,
        input,
      );
      return reply.code(201).send(slot);
    },
  );

  app.get(
    '/api/live-rooms/:roomId/flash-sales',
    {
      config: { access: 'public' },
      schema: {
        tags: ['flash sales'],
        summary: 'A live room’s flash sales with units left',
        params: roomParams,
      },
    },
    async (req) => ({ items: await flash.listRoomSlots(req.params.roomId) }),
  );

  app.get(
    '/api/flash-sales/:slotId',
    {
      config: { access: 'public' },
      schema: { tags: ['flash sales'], summary: 'One flash sale with units left', params: slotParams },
    },
    async (req) => flash.getSlot(req.params.slotId),
  );

  app.post(
    '/api/flash-sales/:slotId/reservations',
    {
      config: buyerOnly,
      schema: {
        tags: ['flash sales'],
        summary: 'Buy (抢购): reserve units of an open flash sale',
        description:
          'Answers 201 with a reservation held for PAYMENT_TIMEOUT_MINUTES (check it out and pay within that time), or 409 FLASH_SALE_SOLD_OUT, FLASH_SALE_LIMIT_REACHED or FLASH_SALE_NOT_OPEN. Retry with the same Idempotency-Key to get the same reservation back.',
        headers: idempotencyHeaders,
        params: slotParams,
        body: z.object({ quantity: z.number().int().min(1).max(99).describe('units to buy (usually 1)') }),
      },
    },
    async (req, reply) => {
      const result = await flash.reserve(
        requirePrincipal(req).accountId,
        req.params.slotId,
        req.body.quantity,
        req.headers['idempotency-key'],
      );
      return sendIdempotent(reply, result);
    },
  );

  app.get(
    '/api/flash-sales/reservations/:reservationId',
    {
      config: buyerOnly,
      schema: {
        tags: ['flash sales'],
        summary: 'One of your flash-sale reservations',
        params: reservationParams,
      },
    },
    async (req) => flash.getReservation(requirePrincipal(req).accountId, req.params.reservationId),
  );

  app.post(
    '/api/flash-sales/reservations/:reservationId/checkout',
    {
      config: buyerOnly,
      schema: {
        tags: ['flash sales'],
        summary:
          'Check out a reservation: an order at the flash price, to pay before the reservation expires',
        headers: idempotencyHeaders,
        params: reservationParams,
        body: z.object({ recipient: recipientInputSchema }),
      },
    },
    async (req, reply) => {
      const result = await flash.checkoutReservation(
        requirePrincipal(req).accountId,
        req.params.reservationId,
        req.body.recipient,
        req.headers['idempotency-key'],
      );
      return sendIdempotent(reply, result);
    },
  );
}
