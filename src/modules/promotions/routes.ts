import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import type { HttpServer } from '../../platform/http.js';
import { fenSchema, idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
import type { RoomPromotionService } from './room-promotions.js';
import type { PromotionService } from './service.js';

const couponParams = z.object({ couponId: idOf('cpn') });

const newCouponBody = z.object({
  title: z.string().trim().min(2).max(40).describe('Shown to buyers, e.g. 满99减10'),
  amountOffFen: fenSchema.describe('Amount off in fen'),
  minSpendFen: fenSchema.describe('Minimum goods total in fen; at least amountOffFen + 1'),
  validFrom: z.coerce.date(),
  validUntil: z.coerce.date(),
  totalQuantity: z.number().int().min(1).max(10_000_000),
  liveRoomId: idOf('lr').optional().describe('The live room the coupon is dropped in'),
});

export function promotionRoutes(app: HttpServer, promotions: PromotionService): void {
  app.post(
    '/api/shops/:shopId/coupons',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.write' } },
      schema: {
        tags: ['promotions'],
        summary: 'Issue a shop coupon (店铺券), funded by the shop and usable on its products',
        params: shopIdParams,
        body: newCouponBody,
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          await promotions.createShopCoupon(req.params.shopId, requirePrincipal(req).accountId, req.body),
        ),
  );

  app.get(
    '/api/shops/:shopId/coupons',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.read' } },
      schema: {
        tags: ['promotions'],
        summary: "The shop's coupons, newest first",
        params: shopIdParams,
        querystring: pageQuery,
      },
    },
    async (req) => promotions.listCoupons({ issuer: 'shop', shopId: req.params.shopId }, req.query),
  );

  app.post(
    '/api/shops/:shopId/coupons/:couponId/stop',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.write' } },
      schema: {
        tags: ['promotions'],
        summary: 'Stop handing a shop coupon out; coupons already claimed stay usable',
        params: shopIdParams.merge(couponParams),
      },
    },
    async (req) => promotions.stopCoupon({ issuer: 'shop', shopId: req.params.shopId }, req.params.couponId),
  );

  app.post(
    '/api/admin/coupons',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Issue a platform coupon (平台券), funded by the platform and usable in any shop',
        body: newCouponBody,
      },
    },
    async (req, reply) =>
      reply.code(201).send(await promotions.createPlatformCoupon(requirePrincipal(req).accountId, req.body)),
  );

  app.get(
    '/api/admin/coupons',
    {
      config: { access: { roles: ['operator'] } },
      schema: { tags: ['operator'], summary: 'Platform coupons, newest first', querystring: pageQuery },
    },
    async (req) => promotions.listCoupons({ issuer: 'platform' }, req.query),
  );

  app.post(
    '/api/admin/coupons/:couponId/stop',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Stop handing a platform coupon out; coupons already claimed stay usable',
        params: couponParams,
      },
    },
    async (req) => promotions.stopCoupon({ issuer: 'platform' }, req.params.couponId),
  );

  app.get(
    '/api/coupons',
    {
      config: { access: 'public' },
      schema: {
        tags: ['promotions'],
        summary: "Coupons to claim now: a shop's, a live room's, or without a filter the platform's",
        querystring: z.object({ shopId: idOf('shp').optional(), liveRoomId: idOf('lr').optional() }),
      },
    },
    async (req) => promotions.listClaimable(req.query),
  );

  app.post(
    '/api/coupons/:couponId/claim',
    {
      config: { access: { roles: ['buyer'] } },
      schema: {
        tags: ['promotions'],
        summary: 'Claim a coupon (领券); one per buyer',
        description: 'Claiming again answers the claim already held (200) rather than an error.',
        params: couponParams,
      },
    },
    async (req, reply) => {
      const result = await promotions.claim(requirePrincipal(req).accountId, req.params.couponId);
      return reply.code(result.status).send(result.body);
    },
  );

  app.get(
    '/api/me/coupons',
    {
      config: { access: { roles: ['buyer'] } },
      schema: {
        tags: ['promotions'],
        summary: "The buyer's claimed coupons (我的优惠券), newest first",
        querystring: pageQuery.extend({ status: z.enum(['unused', 'used', 'expired']).optional() }),
      },
    },
    async (req) => promotions.listBuyerClaims(requirePrincipal(req).accountId, req.query),
  );
}

const roomParams = z.object({ roomId: idOf('lr') });
const rainParams = z.object({ rainId: idOf('rain') });

/** Coupon drops and red-envelope rains in live rooms. */
export function roomPromotionRoutes(app: HttpServer, rooms: RoomPromotionService): void {
  app.post(
    '/api/live-rooms/:roomId/coupon-drops',
    {
      config: { access: { roles: ['creator', 'merchant', 'operator'] } },
      schema: {
        tags: ['promotions'],
        summary: 'Drop a coupon in a live room (直播间发券); viewers see it on the channel and claim it',
        description:
          "A shop coupon is dropped by the room's creator or the shop's staff (products.write) when the shop has a product in the room's cart; a platform coupon by an operator.",
        params: roomParams,
        body: z.object({ couponId: idOf('cpn') }),
      },
    },
    async (req) => rooms.dropCoupon(requirePrincipal(req), req.params.roomId, req.body.couponId),
  );

  app.post(
    '/api/live-rooms/:roomId/rains',
    {
      config: { access: { roles: ['creator', 'operator'] } },
      schema: {
        tags: ['promotions'],
        summary:
          'Start a red-envelope rain (红包雨) in a live room: a platform-funded budget split into random envelopes',
        description:
          "By the room's creator or an operator. Each envelope is at least 1 fen and they sum exactly to the budget; each viewer grabs at most one.",
        params: roomParams,
        body: z.object({
          budgetFen: fenSchema.describe('The whole rain, in fen'),
          count: z.number().int().min(1).max(100_000).describe('Envelopes; at most one per fen of budget'),
          startsAt: z.coerce.date().optional().describe('Defaults to now'),
          durationSeconds: z.number().int().min(10).max(120),
        }),
      },
    },
    async (req, reply) =>
      reply.code(201).send(await rooms.startRain(requirePrincipal(req), req.params.roomId, req.body)),
  );

  app.get(
    '/api/live-rooms/:roomId/rains',
    {
      config: { access: 'public' },
      schema: {
        tags: ['promotions'],
        summary: "The live room's red-envelope rains, newest first, with how many envelopes are left",
        params: roomParams,
      },
    },
    async (req) => rooms.listRoomRains(req.params.roomId),
  );

  app.post(
    '/api/rains/:rainId/grab',
    {
      config: { access: { roles: ['buyer'] } },
      schema: {
        tags: ['promotions'],
        summary: 'Grab an envelope of a rain (抢红包); one per buyer per rain',
        description:
          'The amount becomes a single-use platform coupon (minimum spend amount + 1 fen, valid 7 days). 409 RAIN_EMPTY, RAIN_ALREADY_GRABBED or RAIN_NOT_OPEN otherwise.',
        params: rainParams,
      },
    },
    async (req, reply) =>
      reply.code(201).send(await rooms.grab(requirePrincipal(req).accountId, req.params.rainId)),
  );
}
