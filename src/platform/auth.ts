import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors.js';

export const ROLES = ['buyer', 'merchant', 'creator', 'service_provider', 'operator', 'carrier'] as const;
export type Role = (typeof ROLES)[number];

/** What shop staff may do; an owner holds them all. */
export const SHOP_PERMISSIONS = [
  'products.read',
  'products.write',
  'orders.read',
  'orders.ship',
  'orders.decrypt',
  'orders.export',
  'aftersales.handle',
  'finance.read',
  'finance.withdraw',
  'staff.manage',
] as const;
export type ShopPermission = (typeof SHOP_PERMISSIONS)[number];

export interface Principal {
  accountId: string;
  roles: Role[];
}

/**
 * Every route declares who may call it (checked at start-up):
 * - 'public': anyone; a valid token still identifies the caller
 * - 'webhook': an external party that proves itself with a signature the route checks
 * - roles: an authenticated account holding one of them; with `shopPermission`, the
 *   route has a `:shopId` param and the caller must be staff of that shop with the permission.
 *   A shop the caller is not staff of answers 404, so ids of other shops reveal nothing.
 */
export type Access = 'public' | 'webhook' | { roles: readonly Role[]; shopPermission?: ShopPermission };

export interface AuthResolver {
  principalForToken(token: string): Promise<Principal | null>;
  shopPermissions(accountId: string, shopId: string): Promise<ShopPermission[] | null>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: Access;
    /** Refusals of this route (wrong shop, missing permission) are reported to `onDenied` (the audit log). */
    auditDenials?: boolean;
  }
}

export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m?.[1] ?? null;
}

/**
 * Authentication and role checks run before validation (an anonymous caller learns nothing
 * about a route's schema); the shop-membership check runs after it, once `:shopId` is known
 * to be well-formed.
 */
export function makeAuthHooks(
  resolver: AuthResolver,
  onDenied?: (req: FastifyRequest, err: AppError) => Promise<void>,
) {
  async function authenticate(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const access = req.routeOptions.config?.access;
    if (access === undefined) return; // non-API routes (static files, docs)
    req.principal = null;
    const token = bearerToken(req);
    if (token) req.principal = await resolver.principalForToken(token);
    if (access === 'public' || access === 'webhook') return;
    const principal = req.principal;
    if (!principal) {
      throw new AppError(
        'UNAUTHENTICATED',
        token
          ? 'The session token is invalid or expired; log in again.'
          : 'Log in first: send Authorization: Bearer <token>.',
      );
    }
    if (!access.roles.some((r) => principal.roles.includes(r))) {
      throw new AppError('FORBIDDEN', `This action needs one of the roles: ${access.roles.join(', ')}.`);
    }
  }

  async function authorizeShop(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const access = req.routeOptions.config?.access;
    if (typeof access !== 'object' || !access.shopPermission) return;
    const shopId = (req.params as Record<string, string> | undefined)?.shopId;
    if (!shopId) throw new Error(`route ${req.routeOptions.url} declares shopPermission without :shopId`);
    const perms = await resolver.shopPermissions(requirePrincipal(req).accountId, shopId);
    const refusal = !perms
      ? new AppError('SHOP_NOT_FOUND', `Shop ${shopId} was not found`, { id: shopId })
      : !perms.includes(access.shopPermission)
        ? new AppError(
            'FORBIDDEN',
            `Your staff role in this shop lacks the permission ${access.shopPermission}.`,
          )
        : null;
    if (refusal) {
      if (req.routeOptions.config?.auditDenials && onDenied) await onDenied(req, refusal);
      throw refusal;
    }
  }

  return { authenticate, authorizeShop };
}

export function requirePrincipal(req: FastifyRequest): Principal {
  if (!req.principal)
    throw new AppError('UNAUTHENTICATED', 'Log in first: send Authorization: Bearer <token>.');
  return req.principal;
}
