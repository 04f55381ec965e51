import { z } from 'zod';
import { bearerToken, requirePrincipal, SHOP_PERMISSIONS } from '../../platform/auth.js';
import type { HttpServer } from '../../platform/http.js';
import { loginSchema, shopIdParams } from '../../platform/schemas.js';
import type { IdentityService } from './service.js';

const accountView = z.object({
  id: z.string(),
  login: z.string(),
  displayName: z.string(),
  roles: z.array(z.string()),
});

/** Shop names and states come from the catalog; identity only knows memberships. */
export type ShopSummaries = (shopIds: string[]) => Promise<Map<string, { name: string; status: string }>>;

export function identityRoutes(
  app: HttpServer,
  identity: IdentityService,
  shopSummaries: ShopSummaries,
): void {
  app.post(
    '/api/auth/register',
    {
      config: { access: 'public' },
      schema: {
        tags: ['identity'],
        summary: 'Register a buyer, creator or merchant account',
        body: z.object({
          login: loginSchema,
          password: z.string().min(8, 'must be at least 8 characters').max(128),
          displayName: z.string().trim().min(1).max(40),
          role: z.enum(['buyer', 'creator', 'merchant']),
        }),
        response: { 201: accountView },
      },
    },
    async (req, reply) => {
      const { role, ...rest } = req.body;
      const account = await identity.registerAccount({
        ...rest,
        roles: role === 'buyer' ? ['buyer'] : ['buyer', role],
      });
      return reply.code(201).send(account);
    },
  );

  app.post(
    '/api/auth/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['identity'],
        summary: 'Log in; returns a bearer token',
        body: z.object({ login: loginSchema, password: z.string().min(1).max(128) }),
        response: { 200: z.object({ token: z.string(), expiresAt: z.date(), account: accountView }) },
      },
    },
    async (req) => identity.login(req.body.login, req.body.password),
  );

  app.post(
    '/api/auth/logout',
    {
      config: { access: { roles: ['buyer', 'merchant', 'creator', 'service_provider', 'operator'] } },
      schema: { tags: ['identity'], summary: 'End this session' },
    },
    async (req, reply) => {
      const token = bearerToken(req);
      if (token) await identity.logout(token);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/me',
    {
      config: { access: { roles: ['buyer', 'merchant', 'creator', 'service_provider', 'operator'] } },
      schema: {
        tags: ['identity'],
        summary: 'The calling account, its roles and shops',
        response: {
          200: accountView.extend({
            shops: z.array(
              z.object({ shopId: z.string(), role: z.string(), name: z.string(), status: z.string() }),
            ),
          }),
        },
      },
    },
    async (req) => {
      const account = await identity.getAccount(requirePrincipal(req).accountId);
      const names = await shopSummaries(account.shops.map((s) => s.shopId));
      return {
        ...account,
        shops: account.shops.map((s) => ({
          ...s,
          name: names.get(s.shopId)?.name ?? s.shopId,
          status: names.get(s.shopId)?.status ?? 'unknown',
        })),
      };
    },
  );

  app.put(
    '/api/shops/:shopId/staff',
    {
      config: { access: { roles: ['merchant'], shopPermission: 'staff.manage' } },
      schema: {
        tags: ['identity'],
        summary: 'Add a staff member to the shop, or change their permissions',
        params: shopIdParams,
        body: z.object({
          login: loginSchema,
          permissions: z.array(z.enum(SHOP_PERMISSIONS)).max(SHOP_PERMISSIONS.length),
        }),
      },
    },
    async (req) => identity.setShopStaff(req.params.shopId, req.body.login, req.body.permissions),
  );
}
