import { and, desc, eq, gt, inArray, isNull, lt, lte, type SQL, sql } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import type { Executor, Tx } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import type { CatalogService } from '../catalog/service.js';
import { assertNoExternalLinks } from '../venues/guard.js';
import { type CouponIssuer, type CouponStatus, couponClaims, coupons } from './schema.js';

export interface NewCoupon {
  title: string;
  amountOffFen: number;
  minSpendFen: number;
  validFrom: Date;
  validUntil: Date;
  totalQuantity: number;
  liveRoomId?: string | undefined;
}

export type CouponRow = typeof coupons.$inferSelect;
export type ClaimRow = typeof couponClaims.$inferSelect;
/** Who a coupon list or stop is for: one shop's coupons, or the platform's. */
export type CouponScope = { issuer: 'shop'; shopId: string } | { issuer: 'platform' };
export type ClaimListStatus = 'unused' | 'used' | 'expired';

const couponNotFound = (id: string) => new AppError('COUPON_NOT_FOUND', `Coupon ${id} was not found`, { id });

export function couponView(c: CouponRow) {
  return {
    id: c.id,
    issuer: c.issuer,
    shopId: c.shopId,
    title: c.title,
    amountOffFen: c.amountOffFen,
    minSpendFen: c.minSpendFen,
    validFrom: c.validFrom,
    validUntil: c.validUntil,
    totalQuantity: c.totalQuantity,
    claimedCount: c.claimedCount,
    remaining: c.totalQuantity - c.claimedCount,
    perBuyerLimit: c.perBuyerLimit,
    liveRoomId: c.liveRoomId,
    status: c.status,
    createdAt: c.createdAt,
    stoppedAt: c.stoppedAt,
  };
}

/** A claimed coupon as its buyer sees it; an unused claim past the coupon's window shows as expired. */
export function claimView(cl: ClaimRow, c: CouponRow, now: Date) {
  return {
    id: cl.id,
    couponId: c.id,
    status: (cl.status === 'unused' && c.validUntil <= now ? 'expired' : cl.status) as ClaimListStatus,
    orderId: cl.orderId,
    claimedAt: cl.claimedAt,
    usedAt: cl.usedAt,
    coupon: {
      issuer: c.issuer,
      shopId: c.shopId,
      title: c.title,
      amountOffFen: c.amountOffFen,
      minSpendFen: c.minSpendFen,
      validFrom: c.validFrom,
      validUntil: c.validUntil,
    },
  };
}
export type ClaimView = ReturnType<typeof claimView>;

/** What checkout needs to know of a buyer's claim. */
export interface CheckoutClaim {
  claimId: string;
  status: 'unused' | 'used';
  orderId: string | null;
  couponId: string;
  issuer: CouponIssuer;
  shopId: string | null;
  amountOffFen: number;
  minSpendFen: number;
  validFrom: Date;
  validUntil: Date;
}

export interface CouponDiscounts {
  shopDiscountFen: number;
  platformDiscountFen: number;
}

/**
 * The coupon rules at checkout, in one place: each claim is the buyer's, unused and within
 * its window; at most one shop coupon (of the order's shop) and one platform coupon; the
 * goods total reaches each minimum spend; and something is left to pay.
 */
export function applyCoupons(
  claims: CheckoutClaim[],
  claimIds: string[],
  order: { shopId: string; goodsTotalFen: number },
  now: Date,
): CouponDiscounts {
  if (new Set(claimIds).size !== claimIds.length) {
    throw new AppError('VALIDATION_FAILED', 'body.couponClaimIds: each coupon may appear once.');
  }
  const byId = new Map(claims.map((c) => [c.claimId, c]));
  const discounts: CouponDiscounts = { shopDiscountFen: 0, platformDiscountFen: 0 };
  const issuers = new Set<CouponIssuer>();
  for (const id of claimIds) {
    const c = byId.get(id);
    if (!c) throw new AppError('COUPON_NOT_FOUND', `Coupon ${id} was not found among your coupons`, { id });
    if (c.status === 'used') {
      throw new AppError('COUPON_ALREADY_USED', `Coupon ${id} is already used by order ${c.orderId}.`, {
        claimId: id,
        orderId: c.orderId,
      });
    }
    if (c.validUntil <= now) {
      throw new AppError('COUPON_EXPIRED', `Coupon ${id} expired at ${c.validUntil.toISOString()}.`, {
        claimId: id,
        validUntil: c.validUntil,
      });
    }
    if (c.validFrom > now) {
      throw new AppError(
        'COUPON_NOT_APPLICABLE',
        `Coupon ${id} can be used from ${c.validFrom.toISOString()}.`,
        { claimId: id, validFrom: c.validFrom },
      );
    }
    if (c.issuer === 'shop' && c.shopId !== order.shopId) {
      throw new AppError('COUPON_NOT_APPLICABLE', `Coupon ${id} is for another shop's products.`, {
        claimId: id,
        shopId: c.shopId,
      });
    }
    if (issuers.has(c.issuer)) {
      throw new AppError(
        'COUPON_NOT_APPLICABLE',
        'An order takes at most one shop coupon and one platform coupon.',
        { claimId: id, issuer: c.issuer },
      );
    }
    issuers.add(c.issuer);
    if (order.goodsTotalFen < c.minSpendFen) {
      throw new AppError(
        'COUPON_NOT_APPLICABLE',
        `Coupon ${id} needs a spend of ${c.minSpendFen} fen; this order comes to ${order.goodsTotalFen}, add ${c.minSpendFen - order.goodsTotalFen} fen more.`,
        { claimId: id, minSpendFen: c.minSpendFen, goodsTotalFen: order.goodsTotalFen },
      );
    }
    if (c.issuer === 'shop') discounts.shopDiscountFen = c.amountOffFen;
    else discounts.platformDiscountFen = c.amountOffFen;
  }
  if (discounts.shopDiscountFen + discounts.platformDiscountFen >= order.goodsTotalFen) {
    throw new AppError(
      'COUPON_NOT_APPLICABLE',
      'Together these coupons take off the whole order; use one of them on this order.',
      { goodsTotalFen: order.goodsTotalFen, ...discounts },
    );
  }
  return discounts;
}

export class PromotionService {
  constructor(
    private readonly p: Platform,
    private readonly catalog: Pick<CatalogService, 'getShop'>,
  ) {}

  /** A shop coupon (店铺券), funded by the shop and usable on its products. */
  async createShopCoupon(shopId: string, accountId: string, input: NewCoupon) {
    const shop = await this.catalog.getShop(shopId);
    if (shop.status !== 'active') {
      throw new AppError(
        'SHOP_NOT_ACTIVE',
        `Shop ${shopId} is ${shop.status}; coupons can be issued once it is approved.`,
      );
    }
    return this.createCoupon({ issuer: 'shop', shopId }, accountId, input);
  }

  /** A platform coupon (平台券), funded by the platform and usable in any shop. */
  async createPlatformCoupon(operatorId: string, input: NewCoupon) {
    return this.createCoupon({ issuer: 'platform' }, operatorId, input);
  }

  private async createCoupon(scope: CouponScope, accountId: string, input: NewCoupon) {
    assertNoExternalLinks({ 'coupon title': input.title });
    if (input.minSpendFen < input.amountOffFen + 1) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.minSpendFen: must be at least amountOffFen + 1 (${input.amountOffFen + 1}), so an order stays above zero.`,
      );
    }
    if (input.validUntil <= input.validFrom) {
      throw new AppError('VALIDATION_FAILED', 'body.validUntil: must be later than validFrom.');
    }
    const now = this.p.clock.now();
    if (input.validUntil <= now) {
      throw new AppError('VALIDATION_FAILED', 'body.validUntil: must be in the future.');
    }
    const row: CouponRow = {
      id: newId('coupon'),
      issuer: scope.issuer,
      shopId: scope.issuer === 'shop' ? scope.shopId : null,
      title: input.title,
      amountOffFen: input.amountOffFen,
      minSpendFen: input.minSpendFen,
      validFrom: input.validFrom,
      validUntil: input.validUntil,
      totalQuantity: input.totalQuantity,
      claimedCount: 0,
      perBuyerLimit: 1,
      liveRoomId: input.liveRoomId ?? null,
      rainId: null,
      status: 'active',
      createdByAccountId: accountId,
      createdAt: now,
      stoppedAt: null,
    };
    await inTransaction(this.p.db, async (tx) => {
      await tx.insert(coupons).values(row);
      await recordEvent(tx, this.p.clock, 'coupon.created', row.id, {
        couponId: row.id,
        issuer: row.issuer,
        shopId: row.shopId,
        liveRoomId: row.liveRoomId,
      });
    });
    this.p.outbox.wake();
    return couponView(row);
  }

  /** Coupons of a shop or of the platform, newest first, with a keyset cursor. */
  async listCoupons(scope: CouponScope, page: { cursor?: string | undefined; limit: number }) {
    // Envelopes grabbed in a rain are single-use coupons of their own, not issued coupons.
    const conds = [scopeCondition(scope), isNull(coupons.rainId)];
    if (page.cursor) conds.push(lt(coupons.id, page.cursor));
    const rows = await this.p.db
      .select()
      .from(coupons)
      .where(and(...conds))
      .orderBy(desc(coupons.id))
      .limit(page.limit);
    return {
      items: rows.map(couponView),
      nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.id : null,
    };
  }

  /** Stops handing the coupon out; claims already made stay usable until the coupon expires. */
  async stopCoupon(scope: CouponScope, couponId: string) {
    const now = this.p.clock.now();
    const row = await inTransaction(this.p.db, async (tx) => {
      const [stopped] = await tx
        .update(coupons)
        .set({ status: 'stopped', stoppedAt: now })
        .where(and(eq(coupons.id, couponId), scopeCondition(scope), eq(coupons.status, 'active')))
        .returning();
      if (stopped) {
        await recordEvent(tx, this.p.clock, 'coupon.stopped', couponId, {
          couponId,
          issuer: stopped.issuer,
          shopId: stopped.shopId,
        });
        return stopped;
      }
      // Stopping twice answers the stopped coupon; another shop's coupon looks missing.
      const [cur] = await tx
        .select()
        .from(coupons)
        .where(and(eq(coupons.id, couponId), scopeCondition(scope)));
      if (!cur) throw couponNotFound(couponId);
      return cur;
    });
    this.p.outbox.wake();
    return couponView(row);
  }

  /** Coupons a buyer can claim now: a shop's, a live room's, or (neither given) the platform's. */
  async listClaimable(filter: { shopId?: string | undefined; liveRoomId?: string | undefined }) {
    const now = this.p.clock.now();
    const conds: SQL[] = [
      eq(coupons.status, 'active' satisfies CouponStatus),
      lte(coupons.validFrom, now),
      gt(coupons.validUntil, now),
      lt(coupons.claimedCount, coupons.totalQuantity),
    ];
    if (filter.shopId) conds.push(eq(coupons.shopId, filter.shopId));
    if (filter.liveRoomId) conds.push(eq(coupons.liveRoomId, filter.liveRoomId));
    if (!filter.shopId && !filter.liveRoomId) conds.push(eq(coupons.issuer, 'platform'));
    const rows = await this.p.db
      .select()
      .from(coupons)
      .where(and(...conds))
      .orderBy(desc(coupons.id))
      .limit(100);
    return { items: rows.map(couponView) };
  }

  /**
   * A buyer claims a coupon (领券). The claim row is inserted first (the unique index on
   * coupon and buyer makes a repeat find the first claim), then one conditional UPDATE takes
   * a unit: never past the quantity, only while active and within the window. The coupon row
   * is hot during a live-room drop, so it is touched last and held only until commit.
   */
  async claim(buyerId: string, couponId: string): Promise<{ status: 200 | 201; body: ClaimView }> {
    const existing = await this.findClaim(this.p.db, buyerId, couponId);
    if (existing) return { status: 200, body: existing };
    const now = this.p.clock.now();
    const result = await inTransaction(this.p.db, async (tx) => {
      const row: ClaimRow = {
        id: newId('couponClaim'),
        couponId,
        buyerAccountId: buyerId,
        status: 'unused',
        orderId: null,
        claimedAt: now,
        usedAt: null,
      };
      const inserted = await tx
        .insert(couponClaims)
        .values(row)
        .onConflictDoNothing({ target: [couponClaims.couponId, couponClaims.buyerAccountId] })
        .returning({ id: couponClaims.id });
      if (inserted.length === 0) {
        // The same buyer's concurrent claim won the race: answer that one.
        return { status: 200 as const, body: (await this.findClaim(tx, buyerId, couponId))! };
      }
      const [taken] = await tx
        .update(coupons)
        .set({ claimedCount: sql`${coupons.claimedCount} + 1` })
        .where(
          and(
            eq(coupons.id, couponId),
            lt(coupons.claimedCount, coupons.totalQuantity),
            eq(coupons.status, 'active'),
            lte(coupons.validFrom, now),
            gt(coupons.validUntil, now),
          ),
        )
        .returning();
      if (!taken) throw await this.claimRefusal(tx, couponId, now);
      return { status: 201 as const, body: claimView(row, taken, now) };
    });
    return result;
  }

  private async findClaim(ex: Executor, buyerId: string, couponId: string): Promise<ClaimView | null> {
    const [coupon] = await ex
      .select({ coupon: coupons, claim: couponClaims })
      .from(coupons)
      .leftJoin(
        couponClaims,
        and(eq(couponClaims.couponId, coupons.id), eq(couponClaims.buyerAccountId, buyerId)),
      )
      .where(eq(coupons.id, couponId));
    if (!coupon) throw couponNotFound(couponId);
    return coupon.claim ? claimView(coupon.claim, coupon.coupon, this.p.clock.now()) : null;
  }

  private async claimRefusal(tx: Tx, couponId: string, now: Date): Promise<AppError> {
    const [c] = await tx.select().from(coupons).where(eq(coupons.id, couponId));
    if (!c) return couponNotFound(couponId);
    if (c.status !== 'active') {
      return new AppError('COUPON_NOT_CLAIMABLE', `Coupon ${couponId} is no longer handed out.`, {
        couponId,
      });
    }
    if (c.validFrom > now) {
      return new AppError(
        'COUPON_NOT_CLAIMABLE',
        `Coupon ${couponId} can be claimed from ${c.validFrom.toISOString()}.`,
        { couponId, validFrom: c.validFrom },
      );
    }
    if (c.validUntil <= now) {
      return new AppError(
        'COUPON_NOT_CLAIMABLE',
        `Coupon ${couponId} ended at ${c.validUntil.toISOString()}.`,
        {
          couponId,
          validUntil: c.validUntil,
        },
      );
    }
    return new AppError(
      'COUPON_SOLD_OUT',
      `All ${c.totalQuantity} of coupon ${couponId} have been claimed.`,
      {
        couponId,
      },
    );
  }

  /** The buyer's claimed coupons (我的优惠券), newest first, optionally by status. */
  async listBuyerClaims(
    buyerId: string,
    page: { cursor?: string | undefined; limit: number; status?: ClaimListStatus | undefined },
  ) {
    const now = this.p.clock.now();
    const conds: (SQL | undefined)[] = [eq(couponClaims.buyerAccountId, buyerId)];
    if (page.cursor) conds.push(lt(couponClaims.id, page.cursor));
    if (page.status === 'used') conds.push(eq(couponClaims.status, 'used'));
    if (page.status === 'unused')
      conds.push(and(eq(couponClaims.status, 'unused'), gt(coupons.validUntil, now)));
    if (page.status === 'expired')
      conds.push(and(eq(couponClaims.status, 'unused'), lte(coupons.validUntil, now)));
    const rows = await this.p.db
      .select({ claim: couponClaims, coupon: coupons })
      .from(couponClaims)
      .innerJoin(coupons, eq(coupons.id, couponClaims.couponId))
      .where(and(...conds))
      .orderBy(desc(couponClaims.id))
      .limit(page.limit);
    return {
      items: rows.map((r) => claimView(r.claim, r.coupon, now)),
      nextCursor: rows.length === page.limit ? rows[rows.length - 1]!.claim.id : null,
    };
  }

  /** The buyer's claims among `claimIds`, with their coupons' terms (read before checkout's transaction). */
  async claimsForCheckout(buyerId: string, claimIds: string[]): Promise<CheckoutClaim[]> {
    if (claimIds.length === 0) return [];
    return this.p.db
      .select({
        claimId: couponClaims.id,
        status: couponClaims.status,
        orderId: couponClaims.orderId,
        couponId: coupons.id,
        issuer: coupons.issuer,
        shopId: coupons.shopId,
        amountOffFen: coupons.amountOffFen,
        minSpendFen: coupons.minSpendFen,
        validFrom: coupons.validFrom,
        validUntil: coupons.validUntil,
      })
      .from(couponClaims)
      .innerJoin(coupons, eq(coupons.id, couponClaims.couponId))
      .where(and(inArray(couponClaims.id, claimIds), eq(couponClaims.buyerAccountId, buyerId)));
  }

  /**
   * Binds the claims to the order in checkout's transaction: one conditional UPDATE, so of
   * two checkouts racing with one claim the second waits for the first and then finds it used.
   */
  async useClaims(tx: Tx, buyerId: string, claimIds: string[], orderId: string): Promise<void> {
    if (claimIds.length === 0) return;
    const now = this.p.clock.now();
    const used = await tx
      .update(couponClaims)
      .set({ status: 'used', orderId, usedAt: now })
      .where(
        and(
          inArray(couponClaims.id, claimIds),
          eq(couponClaims.buyerAccountId, buyerId),
          eq(couponClaims.status, 'unused'),
          inArray(
            couponClaims.couponId,
            tx
              .select({ id: coupons.id })
              .from(coupons)
              .where(and(lte(coupons.validFrom, now), gt(coupons.validUntil, now))),
          ),
        ),
      )
      .returning({ id: couponClaims.id });
    if (used.length === claimIds.length) return;
    const done = new Set(used.map((u) => u.id));
    const missed = claimIds.filter((id) => !done.has(id));
    const [other] = await tx
      .select({ id: couponClaims.id, status: couponClaims.status })
      .from(couponClaims)
      .where(and(inArray(couponClaims.id, missed), eq(couponClaims.status, 'used')));
    if (other) {
      throw new AppError(
        'COUPON_ALREADY_USED',
        `Coupon ${other.id} was just used by another order; check out without it or pick another coupon.`,
        { claimId: other.id },
      );
    }
    throw new AppError('COUPON_EXPIRED', `Coupon ${missed[0]} is no longer valid.`, { claimId: missed[0] });
  }

  /** An unpaid order was cancelled: its coupons go back to the buyer, in the caller's transaction. */
  async releaseClaims(tx: Tx, orderIds: string[]): Promise<number> {
    if (orderIds.length === 0) return 0;
    const released = await tx
      .update(couponClaims)
      .set({ status: 'unused', orderId: null, usedAt: null })
      .where(and(inArray(couponClaims.orderId, orderIds), eq(couponClaims.status, 'used')))
      .returning({ id: couponClaims.id });
    return released.length;
  }
}

function scopeCondition(scope: CouponScope): SQL {
  return scope.issuer === 'shop'
    ? and(eq(coupons.issuer, 'shop'), eq(coupons.shopId, scope.shopId))!
    : and(eq(coupons.issuer, 'platform'), isNull(coupons.shopId))!;
}
