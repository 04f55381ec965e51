import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import type { HttpServer } from '../../platform/http.js';
import { idOf, shopIdParams } from '../../platform/schemas.js';
import { type AuditLog, actorFrom } from '../audit/service.js';
import { DECRYPT_BATCH_MAX, type DecryptService } from './decrypt.js';
import type { BuyerErasure } from './erasure.js';

const reason = z.string().trim().min(2, 'state why you need it (at least 2 characters)').max(200);
const merchantSide = ['merchant', 'service_provider'] as const;

export function privacyRoutes(
  app: HttpServer,
  deps: { decrypt: DecryptService; erasure: BuyerErasure; audit: AuditLog },
): void {
  const { decrypt, erasure, audit } = deps;

  app.post(
    '/api/shops/:shopId/orders/decrypt',
    {
      config: { access: { roles: merchantSide, shopPermission: 'orders.decrypt' }, auditDenials: true },
      schema: {
        tags: ['privacy'],
        summary: 'Decrypt recipients of up to 50 orders (audited; uses the daily quota)',
        description:
          'Returns name and address in plain text and a virtual number (main-ext) for the phone. Orders must be paid and inside the after-sales window.',
        params: shopIdParams,
        body: z.object({
          orderIds: z
            .array(idOf('ord'))
            .min(1)
            .max(DECRYPT_BATCH_MAX, `at most ${DECRYPT_BATCH_MAX} orders a call`),
          reason,
        }),
      },
    },
    async (req) => {
      const principal = requirePrincipal(req);
      // Resolved by decrypt alongside its own first reads.
      const actor = audit.actorForShop(req, req.params.shopId);
      const items = await decrypt.decrypt(
        { accountId: principal.accountId, roles: principal.roles, audit: actor },
        req.params.shopId,
        req.body.orderIds,
        req.body.reason,
      );
      return { items };
    },
  );

  app.get(
    '/api/shops/:shopId/decrypt-quota',
    {
      config: { access: { roles: merchantSide, shopPermission: 'orders.decrypt' }, auditDenials: true },
      schema: {
        tags: ['privacy'],
        summary: "Today's decrypt quota: base, temporary raise, used",
        params: shopIdParams,
      },
    },
    async (req) => decrypt.quota(req.params.shopId),
  );

  app.post(
    '/api/shops/:shopId/decrypt-quota/raise',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'staff.manage' } },
      schema: {
        tags: ['privacy'],
        summary: 'Raise today’s decrypt quota (only once the base is spent; lapses at 23:59:59)',
        params: shopIdParams,
        body: z.object({ amount: z.number().int().min(1).max(10_000), reason }),
      },
    },
    async (req) => decrypt.raise(req.params.shopId, req.body.amount, req.body.reason),
  );

  app.put(
    '/api/shops/:shopId/privacy-grants/:accountId',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'staff.manage' } },
      schema: {
        tags: ['privacy'],
        summary: 'Grant (or revoke) a service-provider account the right to decrypt this shop’s orders',
        params: shopIdParams.extend({ accountId: idOf('acc') }),
        body: z.object({ granted: z.boolean(), reason }),
      },
    },
    async (req) =>
      decrypt.setGrant(
        req.params.shopId,
        req.params.accountId,
        requirePrincipal(req).accountId,
        req.body.granted,
        req.body.reason,
      ),
  );

  app.delete(
    '/api/me',
    {
      config: { access: { roles: ['buyer'] } },
      schema: {
        tags: ['privacy'],
        summary: 'Delete my account: my names, phones and addresses are erased; orders keep their masks',
      },
    },
    async (req) => {
      const principal = requirePrincipal(req);
      return erasure.eraseBuyer(principal.accountId, actorFrom(req, 'buyer'));
    },
  );
}
