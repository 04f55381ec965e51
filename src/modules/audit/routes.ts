import { z } from 'zod';
import type { HttpServer } from '../../platform/http.js';
import { idOf, shopIdParams } from '../../platform/schemas.js';
import { AUDIT_OPERATIONS, type AuditLog, MAX_QUERY_LIMIT } from './service.js';

// `limit` comes first: the validation sweep (test/validation.test.ts) breaks the first key.
const shopQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_QUERY_LIMIT).default(50),
  cursor: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by this list')
    .optional(),
  operation: z.enum(AUDIT_OPERATIONS).optional(),
  accountId: idOf('acc').optional(),
  orderId: idOf('ord').optional(),
  from: z.iso.datetime({ offset: true }).optional().describe('inclusive, ISO 8601'),
  to: z.iso.datetime({ offset: true }).optional().describe('exclusive, ISO 8601'),
});

const operatorQuery = shopQuery.extend({
  shopId: idOf('shp').optional(),
  chain: z
    .string()
    .regex(/^(platform|shop:shp_[0-9a-z]{26})$/, 'must be platform or shop:<shopId>')
    .optional(),
});

const toDate = (s: string | undefined) => (s ? new Date(s) : undefined);

/** The security-event log. Reading it is not itself audited. */
export function auditRoutes(app: HttpServer, audit: AuditLog): void {
  app.get(
    '/api/admin/security-events',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Security events (order data views, prints, exports, decrypts, calls), newest first',
        querystring: operatorQuery,
      },
    },
    async (req) => audit.query({ ...req.query, from: toDate(req.query.from), to: toDate(req.query.to) }),
  );

  app.get(
    '/api/shops/:shopId/security-events',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'orders.read' } },
      schema: {
        tags: ['orders'],
        summary: "Who viewed, printed, exported or decrypted the shop's orders, newest first",
        params: shopIdParams,
        querystring: shopQuery,
      },
    },
    async (req) =>
      audit.queryShop(req.params.shopId, {
        ...req.query,
        from: toDate(req.query.from),
        to: toDate(req.query.to),
      }),
  );
}
