import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import type { HttpServer } from '../../platform/http.js';
import { idOf } from '../../platform/schemas.js';
import type { CreatorService } from './service.js';

export function creatorRoutes(app: HttpServer, creators: CreatorService): void {
  app.get(
    '/api/creator/profile',
    {
      config: { access: { roles: ['creator'] } },
      schema: { tags: ['creators'], summary: "The creator's profile and product-sharing permission" },
    },
    async (req) => creators.getProfile(requirePrincipal(req).accountId),
  );

  app.put(
    '/api/admin/creators/:accountId/sharing-permission',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: "Grant or revoke a creator's product-sharing permission",
        params: z.object({ accountId: idOf('acc') }),
        body: z.object({ granted: z.boolean(), reason: z.string().trim().min(2).max(500) }),
      },
    },
    async (req) =>
      creators.setSharingPermission(
        requirePrincipal(req).accountId,
        req.params.accountId,
        req.body.granted,
        req.body.reason,
      ),
  );
}
