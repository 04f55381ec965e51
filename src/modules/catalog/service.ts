import { and, asc, desc, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import type { Executor, Tx } from '../../platform/db.js';
import { AppError, invalidState, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import type { IdentityService } from '../identity/service.js';
import { assertNoExternalLinks } from '../venues/guard.js';
import { categories, products, shops, skuSales, skus } from './schema.js';

export interface NewProduct {
  categoryId: string;
  title: string;
  description: string;
  imageUrl?: string | undefined;
  commissionBps: number;
  skus: { name: string; priceFen: number; stock: number }[];
}

export type ProductRow = typeof products.$inferSelect;
export type SkuRow = typeof skus.$inferSelect;

export class CatalogService {
  constructor(
    private readonly p: Platform,
    private readonly identity: IdentityService,
  ) {}

  async createShop(ownerAccountId: string, input: { name: string; qualification: string }) {
    assertNoExternalLinks({ 'shop name': input.name });
    const id = newId('shop');
    const now = this.p.clock.now();
    await inTransaction(this.p.db, async (tx) => {
      await tx.insert(shops).values({ id, ...input, ownerAccountId, status: 'onboarding', createdAt: now });
      await this.identity.addShopOwner(tx, id, ownerAccountId);
      await recordEvent(tx, this.p.clock, 'shop.submitted', id, { shopId: id });
    });
    return this.getShop(id);
  }

  async getShop(id: string, ex: Executor = this.p.db) {
    const [shop] = await ex.select().from(shops).where(eq(shops.id, id));
    if (!shop) throw notFound('SHOP_NOT_FOUND', 'Shop', id);
    return shop;
  }

  async shopSummaries(ids: string[]) {
    const rows = ids.length
      ? await this.p.db
          .select({ id: shops.id, name: shops.name, status: shops.status })
          .from(shops)
          .where(inArray(shops.id, ids))
      : [];
    return new Map(rows.map((r) => [r.id, { name: r.name, status: r.status }]));
  }

  async listShops(status?: string) {
    const q = this.p.db.select().from(shops);
    return (status ? q.where(eq(shops.status, status)) : q).orderBy(desc(shops.id)).limit(200);
  }

  async reviewShop(operatorId: string, shopId: string, decision: 'approve' | 'reject', note?: string) {
    return inTransaction(this.p.db, async (tx) => {
      const next = decision === 'approve' ? 'active' : 'rejected';
      const [updated] = await tx
        .update(shops)
        .set({
          status: next,
          reviewNote: note ?? null,
          approvedAt: decision === 'approve' ? this.p.clock.now() : null,
        })
        .where(and(eq(shops.id, shopId), eq(shops.status, 'onboarding')))
        .returning();
      if (!updated) {
        const shop = await this.getShop(shopId, tx);
        throw invalidState(`Shop ${shopId} is ${shop.status}; only a shop in onboarding can be reviewed.`);
      }
      await recordEvent(tx, this.p.clock, `shop.${next}`, shopId, { shopId, operatorId });
      return updated;
    });
  }

  listCategories() {
    return this.p.db.select().from(categories).orderBy(asc(categories.slug));
  }

  async ensureCategory(ex: Executor, input: { slug: string; nameZh: string; nameEn: string }) {
    await ex
      .insert(categories)
      .values({ id: newId('category'), ...input })
      .onConflictDoNothing();
    const [row] = await ex.select().from(categories).where(eq(categories.slug, input.slug));
    return row!;
  }

  async createProduct(shopId: string, input: NewProduct) {
    assertNoExternalLinks({
      'product title': input.title,
      'product description': input.description,
      'product image URL': input.imageUrl && !input.imageUrl.startsWith('/') ? input.imageUrl : undefined,
      ...Object.fromEntries(input.skus.map((s, i) => [`skus[${i}].name`, s.name])),
    });
    const names = new Set(input.skus.map((s) => s.name));
    if (names.size !== input.skus.length) {
      throw new AppError('VALIDATION_FAILED', 'body.skus: SKU names must be unique within a product.');
    }
    const shop = await this.getShop(shopId);
    if (shop.status !== 'active') {
      throw new AppError(
        'SHOP_NOT_ACTIVE',
        `Shop ${shopId} is ${shop.status}; products can be listed once it is approved.`,
      );
    }
    const [cat] = await this.p.db.select().from(categories).where(eq(categories.id, input.categoryId));
    if (!cat) throw notFound('NOT_FOUND', 'Category', input.categoryId);
    const id = newId('product');
    const now = this.p.clock.now();
    await inTransaction(this.p.db, async (tx) => {
      await tx.insert(products).values({
        id,
        shopId,
        categoryId: input.categoryId,
        title: input.title,
        description: input.description,
        imageUrl: input.imageUrl ?? null,
        reviewStatus: 'pending',
        commissionBps: input.commissionBps,
        createdAt: now,
        updatedAt: now,
      });
      await tx
        .insert(skus)
        .values(input.skus.map((s) => ({ id: newId('sku'), productId: id, shopId, ...s })));
      await recordEvent(tx, this.p.clock, 'product.submitted', id, { productId: id, shopId });
    });
    return this.getProductWithSkus(id);
  }

  async reviewProduct(
    operatorId: string,
    productId: string,
    decision: 'approve' | 'reject',
    reason?: string,
  ) {
    if (decision === 'reject' && !reason) {
      throw new AppError(
        'VALIDATION_FAILED',
        'body.reason: a rejection needs a reason the merchant can act on.',
      );
    }
    return inTransaction(this.p.db, async (tx) => {
      const next = decision === 'approve' ? 'approved' : 'rejected';
      const [updated] = await tx
        .update(products)
        .set({ reviewStatus: next, reviewReason: reason ?? null, updatedAt: this.p.clock.now() })
        .where(and(eq(products.id, productId), eq(products.reviewStatus, 'pending')))
        .returning();
      if (!updated) {
        const [prod] = await tx.select().from(products).where(eq(products.id, productId));
        if (!prod) throw notFound('PRODUCT_NOT_FOUND', 'Product', productId);
        throw invalidState(`Product ${productId} is already ${prod.reviewStatus}.`);
      }
      await recordEvent(tx, this.p.clock, `product.${next}`, productId, {
        productId,
        shopId: updated.shopId,
        operatorId,
      });
      return updated;
    });
  }

  async listProductsForReview(status: 'pending' | 'approved' | 'rejected') {
    return this.p.db
      .select()
      .from(products)
      .where(eq(products.reviewStatus, status))
      .orderBy(asc(products.id))
      .limit(200);
  }

  async getProductWithSkus(productId: string, ex: Executor = this.p.db) {
    const [prod] = await ex.select().from(products).where(eq(products.id, productId));
    if (!prod) throw notFound('PRODUCT_NOT_FOUND', 'Product', productId);
    const rows = await ex.select().from(skus).where(eq(skus.productId, productId)).orderBy(asc(skus.id));
    return { ...prod, skus: rows };
  }

  /** What a buyer may see: approved, listed products of active shops only. */
  async getSellableProduct(productId: string) {
    const prod = await this.getProductWithSkus(productId);
    if (!(await this.isSellable(prod))) throw notFound('PRODUCT_NOT_FOUND', 'Product', productId);
    return prod;
  }

  async isSellable(prod: ProductRow, ex: Executor = this.p.db): Promise<boolean> {
    if (prod.reviewStatus !== 'approved' || prod.listed !== 'listed') return false;
    const [shop] = await ex.select({ status: shops.status }).from(shops).where(eq(shops.id, prod.shopId));
    return shop?.status === 'active';
  }

  async listSellableProducts(filter: {
    shopId?: string | undefined;
    categoryId?: string | undefined;
    cursor?: string | undefined;
    limit: number;
  }) {
    const conds = [
      eq(products.reviewStatus, 'approved'),
      eq(products.listed, 'listed'),
      eq(shops.status, 'active'),
    ];
    if (filter.shopId) conds.push(eq(products.shopId, filter.shopId));
    if (filter.categoryId) conds.push(eq(products.categoryId, filter.categoryId));
    if (filter.cursor) conds.push(lt(products.id, filter.cursor));
    const rows = await this.p.db
      .select({
        id: products.id,
        shopId: products.shopId,
        shopName: shops.name,
        categoryId: products.categoryId,
        title: products.title,
        imageUrl: products.imageUrl,
        commissionBps: products.commissionBps,
        minPriceFen: sql<number>`(select min(${skus.priceFen}) from ${skus} where ${skus.productId} = ${products.id})::int`,
        stock: sql<number>`(select coalesce(sum(${skus.stock}),0) from ${skus} where ${skus.productId} = ${products.id})::int`,
      })
      .from(products)
      .innerJoin(shops, eq(shops.id, products.shopId))
      .where(and(...conds))
      .orderBy(desc(products.id))
      .limit(filter.limit);
    return { items: rows, nextCursor: rows.length === filter.limit ? rows[rows.length - 1]!.id : null };
  }

  async listShopProducts(shopId: string) {
    const rows = await this.p.db
      .select()
      .from(products)
      .where(eq(products.shopId, shopId))
      .orderBy(desc(products.id))
      .limit(500);
    const skuRows = rows.length
      ? await this.p.db
          .select()
          .from(skus)
          .where(
            inArray(
              skus.productId,
              rows.map((r) => r.id),
            ),
          )
          .orderBy(asc(skus.id))
      : [];
    return rows.map((r) => ({ ...r, skus: skuRows.filter((s) => s.productId === r.id) }));
  }

  /**
   * Changes a SKU's price. Orders already placed keep their snapshot; a checkout that read the
   * old price fails its conditional reservation instead of selling at the wrong price. Live
   * rooms carrying the product hear of it through the `sku.price_changed` event.
   */
  async changePrice(shopId: string, skuId: string, priceFen: number) {
    return inTransaction(this.p.db, async (tx) => {
      const [before] = await tx
        .select()
        .from(skus)
        .where(and(eq(skus.id, skuId), eq(skus.shopId, shopId)))
        .for('update');
      if (!before) throw notFound('SKU_NOT_FOUND', 'SKU', skuId);
      const [row] = await tx.update(skus).set({ priceFen }).where(eq(skus.id, skuId)).returning();
      if (before.priceFen !== priceFen) {
        await recordEvent(tx, this.p.clock, 'sku.price_changed', skuId, {
          skuId,
          productId: row!.productId,
          shopId,
          priceFen,
          previousPriceFen: before.priceFen,
        });
      }
      return row!;
    });
  }

  /** Remaining stock of SKUs, for the live channel's stock counter. */
  async stockOf(skuIds: string[]): Promise<Record<string, number>> {
    if (skuIds.length === 0) return {};
    const rows = await this.p.db
      .select({ id: skus.id, stock: skus.stock })
      .from(skus)
      .where(inArray(skus.id, skuIds));
    return Object.fromEntries(rows.map((r) => [r.id, r.stock]));
  }

  /**
   * Moves units out of a SKU's stock for another holder (a flash-sale slot) with one conditional
   * statement. Returns the stock left and the price, or null when the SKU has fewer than `quantity`.
   */
  async takeStock(
    tx: Tx,
    skuId: string,
    quantity: number,
  ): Promise<{ stock: number; priceFen: number } | null> {
    const [row] = await tx
      .update(skus)
      .set({ stock: sql`${skus.stock} - ${quantity}` })
      .where(and(eq(skus.id, skuId), gte(skus.stock, quantity)))
      .returning({ stock: skus.stock, priceFen: skus.priceFen });
    return row ?? null;
  }

  /** Units a holder (a flash-sale slot that ended) gives back to the SKU's stock. */
  async returnStock(tx: Tx, skuId: string, quantity: number): Promise<void> {
    if (quantity <= 0) return;
    await tx
      .update(skus)
      .set({ stock: sql`${skus.stock} + ${quantity}` })
      .where(eq(skus.id, skuId));
  }

  /** Restocks or corrects stock with one conditional statement; stock never goes below zero. */
  async adjustStock(shopId: string, skuId: string, delta: number) {
    const [row] = await this.p.db
      .update(skus)
      .set({ stock: sql`${skus.stock} + ${delta}` })
      .where(and(eq(skus.id, skuId), eq(skus.shopId, shopId), gte(sql`${skus.stock} + ${delta}`, 0)))
      .returning();
    if (row) return row;
    const [sku] = await this.p.db
      .select()
      .from(skus)
      .where(and(eq(skus.id, skuId), eq(skus.shopId, shopId)));
    if (!sku) throw notFound('SKU_NOT_FOUND', 'SKU', skuId);
    throw new AppError(
      'INSUFFICIENT_STOCK',
      `SKU ${skuId} has ${sku.stock} in stock; it cannot go down by ${-delta}.`,
      {
        stock: sku.stock,
      },
    );
  }
}

/**
 * Outbox handler for order.paid, a batch at a time: counts units sold per SKU (the sales
 * figure shown to buyers) with one statement, in SKU id order. The counters live in their
 * own rows, so counting never waits on (or holds up) a checkout reserving the SKU's stock.
 */
export async function countSoldUnits(
  events: { payload: { lines: { skuId: string; quantity: number }[] } }[],
  tx: import('../../platform/db.js').Tx,
): Promise<void> {
  const bySku = new Map<string, number>();
  for (const e of events)
    for (const l of e.payload.lines) bySku.set(l.skuId, (bySku.get(l.skuId) ?? 0) + l.quantity);
  if (bySku.size === 0) return;
  const ids = [...bySku.keys()].sort();
  await tx.execute(sql`
    insert into ${skuSales} (sku_id, sold)
    select id, units from unnest(string_to_array(${ids.join(',')}, ','),
                                 string_to_array(${ids.map((id) => bySku.get(id)).join(',')}, ',')::int[]) as d(id, units)
    order by id
    on conflict (sku_id) do update set sold = ${skuSales.sold} + excluded.sold`);
}
