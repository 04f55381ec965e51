import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import type { HttpServer } from '../../platform/http.js';
import { fenSchema, idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
import type { CatalogService } from './service.js';

const reviewBody = z.object({
  decision: z.enum(['approve', 'reject']),
  reason: z.string().trim().min(2).max(500).optional(),
});

export function catalogRoutes(app: HttpServer, catalog: CatalogService): void {
  app.post(
    '/api/shops',
    {
      config: { access: { roles: ['merchant'] } },
      schema: {
        tags: ['catalog'],
        summary: 'Open a shop; it stays in onboarding until an operator approves it',
        body: z.object({
          name: z.string().trim().min(2).max(40),
          qualification: z
            .string()
            .trim()
            .min(2)
            .max(500)
            .describe('Business licence and brand authorisation summary'),
        }),
      },
    },
    async (req, reply) =>
      reply.code(201).send(await catalog.createShop(requirePrincipal(req).accountId, req.body)),
  );

  app.get(
    '/api/admin/shops',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Shops, optionally by status',
        querystring: z.object({
          status: z.enum(['onboarding', 'active', 'rejected', 'suspended']).optional(),
        }),
      },
    },
    async (req) => ({ items: await catalog.listShops(req.query.status) }),
  );

  app.post(
    '/api/admin/shops/:shopId/review',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Approve or reject a shop in onboarding',
        params: shopIdParams,
        body: reviewBody,
      },
    },
    async (req) =>
      catalog.reviewShop(
        requirePrincipal(req).accountId,
        req.params.shopId,
        req.body.decision,
        req.body.reason,
      ),
  );

  app.get(
    '/api/categories',
    { config: { access: 'public' }, schema: { tags: ['catalog'], summary: 'Product categories' } },
    async () => ({ items: await catalog.listCategories() }),
  );

  app.post(
    '/api/shops/:shopId/products',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.write' } },
      schema: {
        tags: ['catalog'],
        summary: 'List a product with its SKUs; it sells once quality review approves it',
        params: shopIdParams,
        body: z.object({
          categoryId: idOf('cat'),
          title: z.string().trim().min(2).max(60),
          description: z.string().trim().max(2000).default(''),
          imageUrl: z.string().max(500).optional(),
          commissionBps: z
            .number()
            .int()
            .min(100, 'an open plan offers 1–50 %')
            .max(5000, 'an open plan offers 1–50 %'),
          skus: z
            .array(
              z.object({
                name: z.string().trim().min(1).max(40),
                priceFen: fenSchema,
                stock: z.number().int().min(0).max(10_000_000),
              }),
            )
            .min(1)
            .max(50),
        }),
      },
    },
    async (req, reply) => reply.code(201).send(await catalog.createProduct(req.params.shopId, req.body)),
  );

  app.get(
    '/api/shops/:shopId/products',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.read' } },
      schema: { tags: ['catalog'], summary: "The shop's products with SKUs and stock", params: shopIdParams },
    },
    async (req) => ({ items: await catalog.listShopProducts(req.params.shopId) }),
  );

  app.put(
    '/api/shops/:shopId/skus/:skuId/price',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.write' } },
      schema: {
        tags: ['catalog'],
        summary: "Change a SKU's price (live rooms carrying it are told at once)",
        params: shopIdParams.extend({ skuId: idOf('sku') }),
        body: z.object({ priceFen: fenSchema }),
      },
    },
    async (req) => catalog.changePrice(req.params.shopId, req.params.skuId, req.body.priceFen),
  );

  app.post(
    '/api/shops/:shopId/skus/:skuId/stock',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'products.write' } },
      schema: {
        tags: ['catalog'],
        summary: 'Add (positive delta) or remove stock; it never goes below zero',
        params: shopIdParams.extend({ skuId: idOf('sku') }),
        body: z.object({
          delta: z
            .number()
            .int()
            .min(-10_000_000)
            .max(10_000_000)
            .refine((d) => d !== 0, 'must not be 0'),
        }),
      },
    },
    async (req) => catalog.adjustStock(req.params.shopId, req.params.skuId, req.body.delta),
  );

  app.get(
    '/api/admin/products',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Products by quality-review status',
        querystring: z.object({
          reviewStatus: z.enum(['pending', 'approved', 'rejected']).default('pending'),
        }),
      },
    },
    async (req) => ({ items: await catalog.listProductsForReview(req.query.reviewStatus) }),
  );

  app.post(
    '/api/admin/products/:productId/review',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Quality review (品控): approve, or reject with a reason',
        params: z.object({ productId: idOf('prd') }),
        body: reviewBody,
      },
    },
    async (req) =>
      catalog.reviewProduct(
        requirePrincipal(req).accountId,
        req.params.productId,
        req.body.decision,
        req.body.reason,
      ),
  );

  app.get(
    '/api/products',
    {
      config: { access: 'public' },
      schema: {
        tags: ['catalog'],
        summary: 'Sellable products (approved, of active shops), newest first',
        querystring: pageQuery.extend({ shopId: idOf('shp').optional(), categoryId: idOf('cat').optional() }),
      },
    },
    async (req) => catalog.listSellableProducts(req.query),
  );

  app.get(
    '/api/products/:productId',
    {
      config: { access: 'public' },
      schema: {
        tags: ['catalog'],
        summary: 'A sellable product with SKUs',
        params: z.object({ productId: idOf('prd') }),
      },
    },
    async (req) => catalog.getSellableProduct(req.params.productId),
  );
}
