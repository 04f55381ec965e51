import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import type { HttpServer } from '../../platform/http.js';
import { fenSchema, idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
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
