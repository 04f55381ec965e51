import { and, asc, desc, eq, gte, inArray, lt, type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import { batchedReads, loadAll } from '../../platform/batched-reads.js';
import { DAY, MINUTE } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import {
  type Executor,
  inJson,
  insertJson,
  insertJsonSql,
  jsonList,
  prebuilt,
  rowsOf,
  type Tx,
} from '../../platform/db.js';
import { AppError, invalidState, notFound } from '../../platform/errors.js';
import { buyerGroupCommit, type GroupCommit, type Queued, submit } from '../../platform/group-commit.js';
import {
  checkOrReplay,
  type IdempotencyRef,
  type IdempotentResult,
  keyRows,
  requestHash,
  runIdempotent,
} from '../../platform/idempotency.js';
import { newId } from '../../platform/ids.js';
import { eventRows, recordEvent, recordEvents } from '../../platform/outbox.js';
import { idempotencyKeys, outboxEvents } from '../../platform/schema.js';
import { inTransaction } from '../../platform/tx.js';
import { products, shops, skus } from '../catalog/schema.js';
import type { DataKey, PrivacyVault, RecipientInput, SealedRecipient } from '../privacy/service.js';
import type { IssuedWaybill, Waybills } from '../privacy/waybills.js';
import { applyCoupons, type PromotionService } from '../promotions/service.js';
import type { VenueService } from '../venues/service.js';
import { allocateDiscounts } from './allocation.js';
import {
  type OrderStatus,
  orderLines,
  orderShippingHolds,
  orders,
  type RefundStage,
  type VenueType,
} from './schema.js';

export interface CheckoutInput {
  venue: { type: VenueType; id?: string | undefined };
  items: { skuId: string; quantity: number }[];
  recipient: RecipientInput;
  /** Claimed coupons to use: at most one shop coupon of the order's shop and one platform coupon. */
  couponClaimIds?: string[] | undefined;
}

/**
 * Stock already held for a checkout outside the SKU row (a flash-sale reservation): the order
 * sells at `unitPriceFen`, is payable until `payDeadline`, and `claim` takes the held units
 * for the order inside the checkout transaction, in place of the SKU's conditional UPDATE.
 */
export interface PreReservedStock {
  /** What holds the units (the reservation id); part of the request hash. */
  ref: string;
  unitPriceFen: number;
  payDeadline: Date;
  claim(tx: Tx, orderId: string): Promise<void>;
}

/** A module holding stock for orders (flash sales): it takes the units back when they are cancelled. */
export interface PreReservedStockHolder {
  /** Releases what it held for these cancelled orders; returns the ids of the orders it held stock for. */
  releaseForCancelledOrders(tx: Tx, orderIds: string[], reason: string): Promise<Set<string>>;
}

/** What checkout asks of the promotions module (it owns the coupon claims). */
export type CheckoutCoupons = Pick<PromotionService, 'claimsForCheckout' | 'useClaims' | 'releaseClaims'>;

type CheckoutOffer = Awaited<ReturnType<OrderService['checkoutOffer']>>;

/** A checkout whose checks passed, ready to commit alone or in a group. */
interface CheckoutJob {
  buyerId: string;
  input: CheckoutInput;
  ref: IdempotencyRef;
  offer: CheckoutOffer;
  dataKey: DataKey;
  preReserved?: PreReservedStock | undefined;
}

type QueuedCheckout = Queued<CheckoutJob, IdempotentResult<OrderView>>;

/** At most this many checkouts in one group commit. */
const CHECKOUT_GROUP_MAX = 64;

export type OrderRow = typeof orders.$inferSelect;
export type OrderLineRow = typeof orderLines.$inferSelect;

const SWEEP_BATCH = 200;

/** The order as its buyer and its shop see it: recipient masks only, never plain PII. */
export function orderView(o: OrderRow, lines: OrderLineRow[]) {
  return {
    id: o.id,
    shopId: o.shopId,
    status: o.status,
    totalFen: o.totalFen,
    shopDiscountFen: o.shopDiscountFen,
    platformDiscountFen: o.platformDiscountFen,
    payableFen: o.payableFen,
    attribution: { venueType: o.venueType, venueId: o.venueId, creatorAccountId: o.creatorAccountId },
    recipient: { name: o.recipientNameMask, phone: o.recipientPhoneMask, address: o.recipientAddressMask },
    lines: lines.map((l) => ({
      id: l.id,
      productId: l.productId,
      skuId: l.skuId,
      categoryId: l.categoryId,
      title: l.title,
      skuName: l.skuName,
      unitPriceFen: l.unitPriceFen,
      quantity: l.quantity,
      lineTotalFen: l.lineTotalFen,
      shopDiscountFen: l.shopDiscountFen,
      platformDiscountFen: l.platformDiscountFen,
      paidFen: l.paidFen,
      commissionPlan: l.commissionPlan,
      commissionBps: l.commissionBps,
    })),
    createdAt: o.createdAt,
    payDeadline: o.payDeadline,
    paidAt: o.paidAt,
    shippedAt: o.shippedAt,
    deliveredAt: o.deliveredAt,
    completedAt: o.completedAt,
    cancelledAt: o.cancelledAt,
    cancelReason: o.cancelReason,
    shipment: o.trackingNo ? { carrier: o.carrier, trackingNo: o.trackingNo } : null,
  };
}
export type OrderView = ReturnType<typeof orderView>;

/** What a checkout reads of its SKUs (see OrderService.skuOffers). */
const selectSkuOffers = prebuilt((ex) =>
  ex
    .select({
      skuId: skus.id,
      skuName: skus.name,
      priceFen: skus.priceFen,
      productId: products.id,
      shopId: products.shopId,
      categoryId: products.categoryId,
      title: products.title,
      reviewStatus: products.reviewStatus,
      listed: products.listed,
      commissionBps: products.commissionBps,
      shopStatus: shops.status,
    })
    .from(skus)
    .innerJoin(products, eq(products.id, skus.productId))
    .innerJoin(shops, eq(shops.id, products.shopId))
    .where(inJson(skus.id, sql.placeholder('ids'))),
);

/** Orders' lines, in line order. */
const selectLines = prebuilt((ex) =>
  ex
    .select()
    .from(orderLines)
    .where(inJson(orderLines.orderId, sql.placeholder('ids')))
    .orderBy(asc(orderLines.id)),
);
/** Orders locked in id order (lockForPayments). */
const lockOrders = prebuilt((ex) =>
  ex
    .select()
    .from(orders)
    .where(inJson(orders.id, sql.placeholder('ids')))
    .orderBy(asc(orders.id))
    .for('update'),
);

export class OrderService {
  private readonly stockHolders: PreReservedStockHolder[] = [];
  /** What concurrent checkouts read of their SKUs, one query for all of them. */
  private readonly skuOffers = batchedReads(async (ids: readonly string[]) => {
    const rows = await selectSkuOffers(this.p.db, { ids: jsonList(ids) });
    const byId = new Map(rows.map((r) => [r.skuId, r]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  /** Null when CHECKOUT_GROUP_COMMIT is off: every checkout commits alone. */
  private readonly checkoutGroup: GroupCommit<QueuedCheckout> | null;

  constructor(
    private readonly p: Platform,
    private readonly venues: VenueService,
    private readonly vault: PrivacyVault,
    /** Shipping prints a privacy waybill in the same transaction: no label, no shipment. */
    private readonly waybills: Pick<Waybills, 'issue'>,
    private readonly coupons: CheckoutCoupons,
  ) {
    this.checkoutGroup = p.config.CHECKOUT_GROUP_COMMIT
      ? buyerGroupCommit(CHECKOUT_GROUP_MAX, (group: QueuedCheckout[]) => this.commitGroup(group))
      : null;
  }

  /** A module that holds stock for orders outside the SKU rows; cancellations give it back there. */
  registerStockHolder(holder: PreReservedStockHolder): void {
    this.stockHolders.push(holder);
  }

  /**
   * What a checkout may buy: sellable SKUs of one shop, offered by the venue, the attribution,
   * and the coupon discounts.
   */
  private async checkoutOffer(buyerId: string, input: CheckoutInput) {
    const skuIds = input.items.map((i) => i.skuId);
    if (new Set(skuIds).size !== skuIds.length) {
      throw new AppError(
        'VALIDATION_FAILED',
        'body.items: each SKU may appear once; use quantity for more units.',
      );
    }
    const claimIds = input.couponClaimIds ?? [];
    // The SKUs, the venue's offer and the coupons are read side by side, before the transaction
    // (SKUs and rooms with one query for all the checkouts arriving together); the SKU checks
    // come first so the error a buyer sees does not depend on timing.
    const [offered, venueOffer, claims] = await Promise.allSettled([
      loadAll(this.skuOffers, skuIds).then((found) => found.filter((o) => o !== null)),
      this.venues.attributionFor(input.venue, skuIds),
      this.coupons.claimsForCheckout(buyerId, claimIds),
    ]).then(([o, v, c]) => {
      if (o.status === 'rejected') throw o.reason;
      return [o.value, v, c] as const;
    });
    const byId = new Map(offered.map((o) => [o.skuId, o]));
    for (const id of skuIds) if (!byId.has(id)) throw notFound('SKU_NOT_FOUND', 'SKU', id);
    for (const o of offered) {
      if (o.reviewStatus !== 'approved' || o.listed !== 'listed' || o.shopStatus !== 'active') {
        throw new AppError('PRODUCT_NOT_SELLABLE', `Product ${o.productId} is not on sale.`, {
          productId: o.productId,
        });
      }
    }
    const shopIds = new Set(offered.map((o) => o.shopId));
    if (shopIds.size > 1) {
      throw new AppError(
        'MIXED_SHOP_ORDER',
        'An order holds one shop’s products; check out each shop separately.',
        {
          shopIds: [...shopIds],
        },
      );
    }
    const shopId = offered[0]!.shopId;
    if (venueOffer.status === 'rejected') throw venueOffer.reason;
    if (claims.status === 'rejected') throw claims.reason;
    const goodsTotalFen = input.items.reduce((s, i) => s + byId.get(i.skuId)!.priceFen * i.quantity, 0);
    const discounts = applyCoupons(claims.value, claimIds, { shopId, goodsTotalFen }, this.p.clock.now());
    return { byId, shopId, attribution: venueOffer.value, claimIds, discounts };
  }

  /**
   * Checkout: one transaction that seals the recipient, writes the order with its attribution
   * snapshot, and reserves stock with one conditional UPDATE per SKU (never read-check-write).
   * The stock rows are touched last, in id order, so hot rows stay locked only until commit
   * and two checkouts cannot deadlock. A retry with the same key replays the first response.
   * Coupon claims are marked used with one conditional UPDATE in the same transaction, and
   * the discounts are allocated over the lines pro rata (see allocation.ts).
   *
   * Checkouts arriving together are group-committed: one transaction writes them all with one
   * statement per table and reserves their stock with one conditional statement (see
   * commitGroup); if anything in the group does not go through cleanly (stock running out, a
   * retried key, a used coupon) the group rolls back and each checkout commits on its own.
   *
   * With `preReserved` (a flash-sale checkout: one line, no coupons) the units are already held
   * elsewhere: the line sells at the held price and the holder's claim replaces the SKU update.
   */
  async createOrder(
    buyerId: string,
    input: CheckoutInput,
    idempotencyKey: string,
    preReserved?: PreReservedStock,
  ): Promise<IdempotentResult<OrderView>> {
    const couponClaimIds = [...(input.couponClaimIds ?? [])].sort();
    if (preReserved && (input.items.length !== 1 || couponClaimIds.length > 0)) {
      throw new AppError('VALIDATION_FAILED', 'A pre-reserved checkout has one line and no coupons.');
    }
    const ref = {
      scope: `${buyerId}:create-order`,
      key: idempotencyKey,
      hash: requestHash({
        venue: input.venue,
        items: input.items,
        recipient: this.vault.fingerprint(input.recipient),
        // Only when present, so a request without coupons hashes as it always has.
        ...(couponClaimIds.length > 0 ? { couponClaimIds } : {}),
        ...(preReserved ? { preReserved: preReserved.ref } : {}),
      }),
    };
    const pre = await checkOrReplay<CheckoutOffer, OrderView>(this.p.db, ref, () =>
      this.checkoutOffer(buyerId, input),
    );
    if ('replay' in pre) return pre.replay;
    const job: CheckoutJob = {
      buyerId,
      input,
      ref,
      offer: pre.checked,
      dataKey: await this.vault.dataKeyFor(pre.checked.shopId),
      preReserved,
    };
    if (preReserved || !this.checkoutGroup) return this.commitOne(job);
    return submit(this.checkoutGroup, job);
  }

  /** The order, its lines and its `order.created` event, as a checkout writes them. */
  private draftOrder(job: CheckoutJob, now: Date, recipient: SealedRecipient) {
    const { input, preReserved } = job;
    const { byId, shopId, attribution, discounts } = job.offer;
    const orderId = newId('order');
    const unitPrice = (skuId: string) => preReserved?.unitPriceFen ?? byId.get(skuId)!.priceFen;
    const lineTotals = input.items.map((item) => unitPrice(item.skuId) * item.quantity);
    const allocated = allocateDiscounts(lineTotals, discounts.shopDiscountFen, discounts.platformDiscountFen);
    const sold = attribution.creatorAccountId !== null;
    const lines: OrderLineRow[] = input.items.map((item, i) => {
      const o = byId.get(item.skuId)!;
      const lineTotalFen = lineTotals[i]!;
      return {
        id: newId('orderLine'),
        orderId,
        shopId,
        productId: o.productId,
        skuId: o.skuId,
        categoryId: o.categoryId,
        title: o.title,
        skuName: o.skuName,
        unitPriceFen: unitPrice(o.skuId),
        quantity: item.quantity,
        lineTotalFen,
        shopDiscountFen: allocated.shop[i]!,
        platformDiscountFen: allocated.platform[i]!,
        paidFen: lineTotalFen - allocated.shop[i]! - allocated.platform[i]!,
        commissionPlan: sold ? 'open' : 'none',
        commissionBps: sold ? o.commissionBps : 0,
      };
    });
    const totalFen = lines.reduce((s, l) => s + l.lineTotalFen, 0);
    const payableFen = totalFen - discounts.shopDiscountFen - discounts.platformDiscountFen;
    const order: OrderRow = {
      id: orderId,
      shopId,
      buyerAccountId: job.buyerId,
      status: 'pending_payment',
      totalFen,
      shopDiscountFen: discounts.shopDiscountFen,
      platformDiscountFen: discounts.platformDiscountFen,
      payableFen,
      ...attribution,
      recipientId: recipient.id,
      recipientNameMask: recipient.nameMask,
      recipientPhoneMask: recipient.phoneMask,
      recipientAddressMask: recipient.addressMask,
      createdAt: now,
      payDeadline:
        preReserved?.payDeadline ?? new Date(now.getTime() + this.p.config.PAYMENT_TIMEOUT_MINUTES * MINUTE),
      paidAt: null,
      shippedAt: null,
      deliveredAt: null,
      completedAt: null,
      cancelledAt: null,
      cancelReason: null,
      carrier: null,
      trackingNo: null,
    };
    const event = {
      topic: 'order.created',
      aggregateId: orderId,
      payload: { orderId, shopId, totalFen, payableFen, ...attribution },
    };
    return { order, lines, event };
  }

  /** Commits one checkout in its own transaction (see createOrder). */
  private commitOne(job: CheckoutJob): Promise<IdempotentResult<OrderView>> {
    return runIdempotent(this.p.db, this.p.clock, job.ref, async (tx) => {
      // Every write is issued at once (pipelined on PostgreSQL); the stock rows come last and
      // in SKU-id order, so a hot row is held only for the rest of this transaction.
      const recipient = this.vault.sealRecipient(tx, job.dataKey, job.input.recipient);
      const { order, lines, event } = this.draftOrder(job, this.p.clock.now(), recipient);
      const writes = Promise.all([
        recipient.written,
        insertJson(tx, orders, [order]),
        insertJson(tx, orderLines, lines),
        recordEvents(tx, this.p.clock, [event]),
        this.coupons.useClaims(tx, job.buyerId, job.offer.claimIds, order.id),
      ]);
      const sorted = [...lines].sort((a, b) => (a.skuId < b.skuId ? -1 : 1));
      const preReserved = job.preReserved;
      const reserved = preReserved
        ? preReserved.claim(tx, order.id).then(() => sorted.map(() => true))
        : Promise.all(sorted.map((l) => this.reserveStock(tx, l.skuId, l.quantity, l.unitPriceFen)));
      reserved.catch(() => {}); // awaited below; a failed write must not leave it unhandled
      await writes;
      const shortfalls = (await reserved).map((ok, i) => (ok ? null : sorted[i]!)).filter((l) => l !== null);
      if (shortfalls.length > 0) throw await this.reservationError(tx, shortfalls[0]!);
      return { status: 201, body: orderView(order, lines) };
    });
  }

  /**
   * Group commit of checkouts (see createOrder): ONE statement writes the whole group — its
   * sealed recipients, orders, lines, events and idempotency keys with their responses — and
   * reserves the stock of every SKU in it, all or nothing (see groupStatement). Answers every
   * checkout of the group. The checkouts that stop the group (wanting a SKU that ran short or
   * changed price, or a retry whose key is taken) leave it, to get their own precise answer
   * alone, and the rest try once more as a group; anything else that stops the group (say a
   * racing duplicate key) sends each alone. Checkouts with coupons always commit alone: their
   * claims are taken by a conditional UPDATE that must be able to roll the order back.
   */
  private async commitGroup(group: QueuedCheckout[]): Promise<void> {
    const alone = group.filter((g) => g.job.offer.claimIds.length > 0);
    let pending = group.filter((g) => g.job.offer.claimIds.length === 0);
    for (let round = 0; round < 2 && pending.length > 0; round++) {
      const outcome = await this.tryGroup(pending.map((g) => g.job));
      if ('results' in outcome) {
        for (const [i, g] of pending.entries()) g.resolve(outcome.results[i]!);
        pending = [];
        break;
      }
      const { leave } = outcome;
      if (leave.size === 0) break;
      alone.push(...pending.filter((g) => leave.has(g.job)));
      pending = pending.filter((g) => !leave.has(g.job));
    }
    // Each on its own: the precise answer (out of stock, price changed, replay) for each.
    await Promise.all([...alone, ...pending].map((g) => this.commitOne(g.job).then(g.resolve, g.reject)));
    this.p.outbox.wake();
  }

  /** One attempt at committing checkouts as a group; else those that must leave it (maybe none known). */
  private async tryGroup(
    jobs: CheckoutJob[],
  ): Promise<{ results: IdempotentResult<OrderView>[] } | { leave: Set<CheckoutJob> }> {
    const wanting = (skuIds: Set<string>) =>
      new Set(jobs.filter((j) => j.input.items.some((i) => skuIds.has(i.skuId))));
    const now = this.p.clock.now();
    const go = sql`(select ok from go)`;
    const { sealed, insert: recipientsInsert } = this.vault.sealRecipientsInsert(
      jobs.map((j) => ({ dk: j.dataKey, input: j.input.recipient })),
      go,
    );
    const drafts = jobs.map((j, i) => this.draftOrder(j, now, sealed[i]!));
    const responses = drafts.map((d) => ({ status: 201, body: orderView(d.order, d.lines) }));
    const wanted = new Map<string, { quantity: number; priceFen: number }>();
    for (const l of drafts.flatMap((d) => d.lines)) {
      const w = wanted.get(l.skuId);
      // Two prices for one SKU in the group: a price changed between their reads.
      if (w && w.priceFen !== l.unitPriceFen) return { leave: wanting(new Set([l.skuId])) };
      wanted.set(l.skuId, { quantity: (w?.quantity ?? 0) + l.quantity, priceFen: l.unitPriceFen });
    }
    const ids = [...wanted.keys()].sort();
    const col = (f: (w: { quantity: number; priceFen: number }) => number) =>
      ids.map((id) => f(wanted.get(id)!)).join(',');
    const keys = keyRows(
      this.p.clock,
      jobs.map((j, i) => ({ ref: j.ref, ...responses[i]! })),
    );
    let row: { ok: boolean; short: string; taken_keys: string } | undefined;
    try {
      [row] = rowsOf<{ ok: boolean; short: string; taken_keys: string }>(
        await this.p.db.execute(sql`
          with want as (
            select * from unnest(string_to_array(${ids.join(',')}, ','),
                                 string_to_array(${col((w) => w.quantity)}, ',')::int[],
                                 string_to_array(${col((w) => w.priceFen)}, ',')::int[]) as w(id, quantity, price_fen)),
          locked as (
            select s.id, s.stock >= w.quantity and s.price_fen = w.price_fen as ok
            from ${skus} s join want w on w.id = s.id order by s.id for update of s),
          known as (
            -- One primary-key probe per key (OFFSET 0 keeps the planner from turning this into
            -- a hash join over the whole table, as its 100-row guess for the function invites).
            select r.scope, r.key
            from jsonb_to_recordset(${JSON.stringify(keys.map((k) => ({ scope: k.scope, key: k.key })))}::jsonb)
              as r(scope text, key text)
            where exists (select 1 from ${idempotencyKeys} k where k.scope = r.scope and k.key = r.key offset 0)),
          go as (
            select (select count(*) from locked where ok) = ${ids.length}
               and not exists (select 1 from known) as ok),
          taken as (
            -- No stock or price condition here: \`locked\` checked both on the rows' latest
            -- versions, which this statement now holds locked. Conditions here would be tested
            -- first on the versions in the statement's snapshot: a release committed while
            -- \`locked\` waited for the row (a cancel racing this checkout) left stock that
            -- looked short, the row was skipped, and \`go\` still wrote the orders with no stock
            -- taken. Without them, the update re-reads the locked latest version and subtracts
            -- from it (and skus_stock_nonnegative still refuses anything below zero).
            update ${skus} s set stock = s.stock - w.quantity
            from want w
            where s.id = w.id and ${go}
            returning s.id),
          r as (${recipientsInsert}),
          o as (${insertJsonSql(
            orders,
            drafts.map((d) => d.order),
            { when: go },
          )}),
          l as (${insertJsonSql(
            orderLines,
            drafts.flatMap((d) => d.lines),
            { when: go },
          )}),
          e as (${insertJsonSql(
            outboxEvents,
            eventRows(
              this.p.clock,
              drafts.map((d) => d.event),
            ),
            { when: go },
          )}),
          k as (${insertJsonSql(idempotencyKeys, keys, { when: go })})
          select ${go} and (select count(*) from taken) = ${ids.length} as ok,
            array_to_string(array(select w.id from want w where w.id not in (select id from locked where ok)), ',') as short,
            array_to_string(array(select scope || chr(31) || key from known), chr(30)) as taken_keys`),
      );
    } catch (err) {
      // A racing duplicate key (unique violation), a deadlock, …: nothing was written.
      this.p.log.debug({ err }, 'checkout group refused');
      return { leave: new Set() };
    }
    if (row?.ok) return { results: responses.map((r) => ({ ...r, replayed: false })) };
    const short = new Set((row?.short ?? '').split(',').filter(Boolean));
    const takenKeys = new Set((row?.taken_keys ?? '').split('\u001e').filter(Boolean));
    return {
      leave: new Set([
        ...wanting(short),
        ...jobs.filter((j) => takenKeys.has(`${j.ref.scope}\u001f${j.ref.key}`)),
      ]),
    };
  }

  /**
   * One conditional statement per SKU, never read-check-write. The price condition makes the
   * snapshot exact: a price change between the read and the reservation aborts the checkout.
   */
  private async reserveStock(
    tx: Tx,
    skuId: string,
    quantity: number,
    expectedPriceFen: number,
  ): Promise<boolean> {
    const reserved = await tx
      .update(skus)
      .set({ stock: sql`${skus.stock} - ${quantity}` })
      .where(and(eq(skus.id, skuId), sql`${skus.stock} >= ${quantity}`, eq(skus.priceFen, expectedPriceFen)))
      .returning({ id: skus.id });
    return reserved.length === 1;
  }

  private async reservationError(tx: Tx, line: OrderLineRow): Promise<AppError> {
    const [now] = await tx
      .select({ stock: skus.stock, priceFen: skus.priceFen })
      .from(skus)
      .where(eq(skus.id, line.skuId));
    if (now && now.priceFen !== line.unitPriceFen) {
      return invalidState(
        `The price of SKU ${line.skuId} changed to ${now.priceFen} fen; review the order and try again.`,
      );
    }
    return new AppError(
      'INSUFFICIENT_STOCK',
      `SKU ${line.skuId} has ${now?.stock ?? 0} left; you asked for ${line.quantity}.`,
      { skuId: line.skuId, available: now?.stock ?? 0 },
    );
  }

  private async linesOf(ex: Executor, orderIds: string[]): Promise<OrderLineRow[]> {
    if (orderIds.length === 0) return [];
    return selectLines(ex, { ids: jsonList(orderIds) });
  }

  private async withLines(ex: Executor, rows: OrderRow[]) {
    const lines = await this.linesOf(
      ex,
      rows.map((r) => r.id),
    );
    return rows.map((r) =>
      orderView(
        r,
        lines.filter((l) => l.orderId === r.id),
      ),
    );
  }

  async getBuyerOrder(buyerId: string, orderId: string) {
    const [o] = await this.p.db
      .select()
      .from(orders)
      .where(and(eq(orders.id, orderId), eq(orders.buyerAccountId, buyerId)));
    if (!o) throw notFound('ORDER_NOT_FOUND', 'Order', orderId);
    return (await this.withLines(this.p.db, [o]))[0]!;
  }

  /** A page of orders, newest first, with their lines and the keyset cursor of the next page. */
  private async pageOfOrders(conds: SQL[], limit: number) {
    const rows = await this.p.db
      .select()
      .from(orders)
      .where(and(...conds))
      .orderBy(desc(orders.id))
      .limit(limit);
    return { items: await this.withLines(this.p.db, rows), nextCursor: nextCursor(rows, limit) };
  }

  async listBuyerOrders(buyerId: string, page: { cursor?: string | undefined; limit: number }) {
    const conds = [eq(orders.buyerAccountId, buyerId)];
    if (page.cursor) conds.push(lt(orders.id, page.cursor));
    return this.pageOfOrders(conds, page.limit);
  }

  /** The shop's order list, newest first; a keyset cursor keeps deep pages as fast as the first. */
  async listShopOrders(
    shopId: string,
    page: {
      status?: OrderStatus | undefined;
      cursor?: string | undefined;
      limit: number;
      /** Only orders to these recipients (a blind-index search by phone or name). */
      recipientIds?: string[] | undefined;
    },
  ) {
    if (page.recipientIds?.length === 0) return { items: [], nextCursor: null };
    // The page is a range of the index (shop_id, status, id) — or (shop_id, id) — read backwards,
    // bounded by row comparisons instead of `shop_id = … and status = …`. With equalities the
    // ORDER BY reduces to `id desc`, which the primary key also serves, and the planner (assuming
    // matches spread evenly over ids) walked it and filtered: in a big shop the newest orders are
    // rarely `completed`, so a page read 20,000+ rows (5–15 ms). Ordered by the whole index key,
    // only the shop index fits. The two bounds select exactly shop_id = $shop (and status =
    // $status) with '' < id < cursor.
    const key = page.status ? [orders.shopId, orders.status, orders.id] : [orders.shopId, orders.id];
    const prefix: SQL[] = page.status ? [sql`${shopId}`, sql`${page.status}`] : [sql`${shopId}`];
    const row = (xs: SQLWrapper[]) => sql`(${sql.join(xs, sql`, `)})`;
    const conds = [
      sql`${row(key)} > ${row([...prefix, sql`''`])}`,
      page.cursor
        ? sql`${row(key)} < ${row([...prefix, sql`${page.cursor}`])}`
        : sql`${row(key.slice(0, -1))} <= ${row(prefix)}`,
    ];
    if (page.recipientIds) conds.push(inArray(orders.recipientId, page.recipientIds));
    // The page and its lines in one statement (one round trip, one snapshot).
    const pageRows = this.p.db
      .select()
      .from(orders)
      .where(and(...conds))
      .orderBy(...key.map((c) => desc(c)))
      .limit(page.limit)
      .as('page');
    const joined = await this.p.db
      .select()
      .from(pageRows)
      .leftJoin(orderLines, eq(orderLines.orderId, pageRows.id))
      .orderBy(desc(pageRows.id), asc(orderLines.id));
    const rows: OrderRow[] = [];
    const lines = new Map<string, OrderLineRow[]>();
    for (const { page: o, order_lines: l } of joined) {
      let of = lines.get(o.id);
      if (!of) {
        of = [];
        rows.push(o);
        lines.set(o.id, of);
      }
      if (l) of.push(l);
    }
    return {
      items: rows.map((o) => orderView(o, lines.get(o.id)!)),
      nextCursor: nextCursor(rows, page.limit),
    };
  }

  /** Ids of the shop's orders matching an export filter, newest first (at most `limit`). */
  async shopOrderIds(
    shopId: string,
    filter: { status?: OrderStatus | undefined; from?: Date | undefined; to?: Date | undefined },
    limit: number,
  ): Promise<string[]> {
    const conds = exportConditions(shopId, filter);
    const rows = await this.p.db
      .select({ id: orders.id })
      .from(orders)
      .where(and(...conds))
      .orderBy(desc(orders.id))
      .limit(limit);
    return rows.map((r) => r.id);
  }

  /**
   * The shop's orders as CSV lines, newest first, streamed in keyset pages so a large export
   * never sits in memory. Recipients appear as masks only.
   */
  async *exportShopOrdersCsv(
    shopId: string,
    filter: { status?: OrderStatus | undefined; from?: Date | undefined; to?: Date | undefined },
  ): AsyncGenerator<string> {
    yield `${CSV_HEADER.join(',')}\n`;
    let cursor: string | undefined;
    for (;;) {
      const conds = exportConditions(shopId, filter);
      if (cursor) conds.push(lt(orders.id, cursor));
      const rows = await this.p.db
        .select()
        .from(orders)
        .where(and(...conds))
        .orderBy(desc(orders.id))
        .limit(1000);
      if (rows.length === 0) return;
      const lines = await this.linesOf(
        this.p.db,
        rows.map((r) => r.id),
      );
      yield rows
        .map((o) =>
          [
            o.id,
            o.createdAt.toISOString(),
            o.status,
            (o.totalFen / 100).toFixed(2),
            (o.payableFen / 100).toFixed(2),
            o.venueType,
            o.venueId ?? '',
            o.creatorAccountId ?? '',
            lines
              .filter((l) => l.orderId === o.id)
              .map((l) => `${l.title} ${l.skuName} ×${l.quantity}`)
              .join('; '),
            o.recipientNameMask,
            o.recipientPhoneMask,
            o.recipientAddressMask,
            o.carrier ?? '',
            o.trackingNo ?? '',
          ]
            .map(csvCell)
            .join(','),
        )
        .join('\n')
        .concat('\n');
      cursor = rows[rows.length - 1]!.id;
    }
  }

  /** Another shop's order answers 404, exactly like a missing one. */
  async getShopOrder(shopId: string, orderId: string) {
    const [o] = await this.p.db
      .select()
      .from(orders)
      .where(and(eq(orders.id, orderId), eq(orders.shopId, shopId)));
    if (!o) throw notFound('ORDER_NOT_FOUND', 'Order', orderId);
    return (await this.withLines(this.p.db, [o]))[0]!;
  }

  /** The facts the privacy module's decrypt needs (a port; it does not read this table itself). */
  async decryptFacts(shopId: string, orderIds: string[]) {
    if (orderIds.length === 0) return [];
    return this.p.db
      .select({
        id: orders.id,
        shopId: orders.shopId,
        status: orders.status,
        recipientId: orders.recipientId,
        paidAt: orders.paidAt,
        shippedAt: orders.shippedAt,
        deliveredAt: orders.deliveredAt,
        completedAt: orders.completedAt,
      })
      .from(orders)
      .where(and(eq(orders.shopId, shopId), inJson(orders.id, orderIds)));
  }

  /** Paid orders per local day in [from, to), for the decrypt quota. */
  async paidOrdersByDay(shopId: string, from: Date, to: Date): Promise<number[]> {
    const offset = this.p.config.PLATFORM_UTC_OFFSET_MINUTES;
    const rows = rowsOf<{ n: number }>(
      await this.p.db.execute(sql`
        select count(*)::int as n from ${orders}
        where shop_id = ${shopId} and paid_at >= ${from.toISOString()}::timestamptz and paid_at < ${to.toISOString()}::timestamptz
        group by date_trunc('day', paid_at + make_interval(mins => ${offset}))`),
    );
    return rows.map((r) => Number(r.n));
  }

  /** Recipient ids of a buyer's orders, refusing while any order is still open (account deletion). */
  async recipientsForErasure(
    buyerId: string,
  ): Promise<{ shopId: string; recipientId: string; orderId: string }[]> {
    const rows = await this.p.db
      .select({
        status: orders.status,
        shopId: orders.shopId,
        recipientId: orders.recipientId,
        id: orders.id,
      })
      .from(orders)
      .where(eq(orders.buyerAccountId, buyerId));
    const open = rows.filter((r) => !['completed', 'cancelled', 'refunded'].includes(r.status));
    if (open.length) {
      throw invalidState(
        `You have ${open.length} order(s) still in progress (e.g. ${open[0]!.id}); the account can be deleted once they are completed or cancelled.`,
      );
    }
    return rows.map((r) => ({ shopId: r.shopId, recipientId: r.recipientId, orderId: r.id }));
  }

  /** Locks the buyer's unpaid order for a payment attempt. */
  async lockForPayment(tx: Tx, buyerId: string, orderId: string): Promise<OrderRow> {
    const [o] = await tx
      .select()
      .from(orders)
      .where(and(eq(orders.id, orderId), eq(orders.buyerAccountId, buyerId)))
      .for('update');
    if (!o) throw notFound('ORDER_NOT_FOUND', 'Order', orderId);
    if (o.status !== 'pending_payment')
      throw invalidState(`Order ${orderId} is ${o.status}; only an unpaid order can be paid.`);
    if (o.payDeadline <= this.p.clock.now()) {
      throw invalidState(`The payment window of order ${orderId} has closed; the order will be cancelled.`);
    }
    return o;
  }

  /**
   * Locks orders for a group of payment attempts, in id order, and reads their lines (which
   * never change after checkout) alongside (see PaymentService.pay).
   */
  async lockForPayments(tx: Tx, orderIds: string[]): Promise<{ orders: OrderRow[]; lines: OrderLineRow[] }> {
    const [locked, lines] = await Promise.all([
      lockOrders(tx, { ids: jsonList(orderIds) }),
      this.linesOf(tx, orderIds),
    ]);
    return { orders: locked, lines };
  }

  /** pending_payment → paid; false when the order is no longer unpaid (e.g. cancelled by timeout). */
  async markPaid(tx: Tx, orderId: string, paymentId: string): Promise<boolean> {
    // Lines never change after checkout, so they are read alongside the update.
    const [[o], lines] = await Promise.all([
      tx
        .update(orders)
        .set({ status: 'paid', paidAt: this.p.clock.now() })
        .where(and(eq(orders.id, orderId), eq(orders.status, 'pending_payment')))
        .returning(),
      this.linesOf(tx, [orderId]),
    ]);
    if (!o) return false;
    await recordEvents(tx, this.p.clock, [paidEvent(o, lines, paymentId)]);
    return true;
  }

  /**
   * pending_payment → paid for orders the caller has locked (lockForPayments) and seen unpaid,
   * as parts of the caller's one statement (PaymentService.payGroup): the UPDATE (returning
   * the ids it marked, which must be all of them) and the rows of their `order.paid` events.
   */
  lockedPaidParts(paid: { order: OrderRow; paymentId: string }[], lines: OrderLineRow[], paidAt: Date) {
    return {
      update: sql`update ${orders} set status = 'paid', paid_at = ${paidAt.toISOString()}::timestamptz
        where ${inJson(
          orders.id,
          paid.map((p) => p.order.id),
        )} and status = 'pending_payment' returning id`,
      events: paid.map(({ order, paymentId }) =>
        paidEvent({ ...order, status: 'paid', paidAt }, lines, paymentId),
      ),
    };
  }

  async cancelByBuyer(buyerId: string, orderId: string) {
    const cancelled = await inTransaction(this.p.db, async (tx) => {
      const [o] = await tx
        .select()
        .from(orders)
        .where(and(eq(orders.id, orderId), eq(orders.buyerAccountId, buyerId)))
        .for('update');
      if (!o) throw notFound('ORDER_NOT_FOUND', 'Order', orderId);
      if (o.status !== 'pending_payment') {
        throw invalidState(`Order ${orderId} is ${o.status}; a paid order is cancelled through after-sales.`);
      }
      return this.cancelUnpaid(tx, [orderId], 'buyer_cancelled');
    });
    if (cancelled.length !== 1) throw invalidState(`Order ${orderId} could not be cancelled.`);
    this.p.outbox.wake();
    return this.getBuyerOrder(buyerId, orderId);
  }

  /**
   * Cancels unpaid orders the caller has locked, gives their coupons back to the buyer and
   * returns their stock, SKU rows in id order. Stock held elsewhere (a flash-sale reservation)
   * goes back to its holder instead.
   */
  private async cancelUnpaid(tx: Tx, orderIds: string[], reason: string): Promise<string[]> {
    const now = this.p.clock.now();
    const done = await tx
      .update(orders)
      .set({ status: 'cancelled', cancelledAt: now, cancelReason: reason })
      .where(and(inArray(orders.id, orderIds), eq(orders.status, 'pending_payment')))
      .returning({ id: orders.id });
    const ids = done.map((d) => d.id);
    await this.coupons.releaseClaims(tx, ids);
    const heldElsewhere = new Set<string>();
    for (const holder of ids.length > 0 ? this.stockHolders : []) {
      for (const id of await holder.releaseForCancelledOrders(tx, ids, reason)) heldElsewhere.add(id);
    }
    const lines = (await this.linesOf(tx, ids)).filter((l) => !heldElsewhere.has(l.orderId));
    const bySku = new Map<string, number>();
    for (const l of lines) bySku.set(l.skuId, (bySku.get(l.skuId) ?? 0) + l.quantity);
    for (const skuId of [...bySku.keys()].sort()) {
      await tx
        .update(skus)
        .set({ stock: sql`${skus.stock} + ${bySku.get(skuId)!}` })
        .where(eq(skus.id, skuId));
    }
    for (const id of ids) await recordEvent(tx, this.p.clock, 'order.cancelled', id, { orderId: id, reason });
    return ids;
  }

  /** Job: cancel orders whose payment window closed, releasing their stock. */
  async sweepUnpaid(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inTransaction(this.p.db, async (tx) => {
        const due = rowsOf<{ id: string }>(
          await tx.execute(sql`
            select id from ${orders}
            where status = 'pending_payment' and pay_deadline <= ${this.p.clock.now().toISOString()}
            order by pay_deadline limit ${SWEEP_BATCH}
            for update skip locked`),
        );
        if (due.length === 0) return 0;
        return (
          await this.cancelUnpaid(
            tx,
            due.map((d) => d.id),
            'payment_timeout',
          )
        ).length;
      });
      total += n;
      if (n < SWEEP_BATCH) break;
    }
    if (total > 0) this.p.outbox.wake();
    return total;
  }

  /**
   * paid → shipped. `issueWaybill` runs in the same transaction (the privacy waybill is part
   * of shipping: no label, no shipment) and its result is returned for printing.
   */
  async ship(
    shopId: string,
    orderId: string,
    shipment: { carrier: string; trackingNo: string },
  ): Promise<{ order: OrderView; waybill: IssuedWaybill }> {
    const waybill = await inTransaction(this.p.db, async (tx) => {
      const [o] = await tx
        .update(orders)
        .set({ status: 'shipped', shippedAt: this.p.clock.now(), ...shipment })
        .where(and(eq(orders.id, orderId), eq(orders.shopId, shopId), eq(orders.status, 'paid')))
        .returning();
      if (!o) {
        const [cur] = await tx
          .select()
          .from(orders)
          .where(and(eq(orders.id, orderId), eq(orders.shopId, shopId)));
        if (!cur) throw notFound('ORDER_NOT_FOUND', 'Order', orderId);
        throw invalidState(`Order ${orderId} is ${cur.status}; only a paid order can be shipped.`);
      }
      // Read after the row lock is ours, so a hold committed by a case opened just before is seen.
      const [hold] = await tx
        .select()
        .from(orderShippingHolds)
        .where(eq(orderShippingHolds.orderId, orderId));
      if (hold) {
        throw new AppError(
          'ORDER_SHIPPING_HELD',
          `Order ${orderId} must not ship: the buyer asked for a refund before shipment (after-sales case ${hold.caseId}). Approve or reject the case first.`,
          { caseId: hold.caseId },
        );
      }
      await recordEvent(tx, this.p.clock, 'order.shipped', orderId, {
        orderId,
        shopId,
        carrier: shipment.carrier,
      });
      return this.waybills.issue(tx, {
        orderId,
        shopId,
        carrier: shipment.carrier,
        trackingNo: shipment.trackingNo,
        recipientId: o.recipientId,
        masks: { name: o.recipientNameMask, phone: o.recipientPhoneMask, address: o.recipientAddressMask },
        // Delivery is not known yet: the latest the after-sales window can close is delivery
        // (auto-confirmed within AUTO_CONFIRM_DAYS) plus AFTER_SALES_DAYS.
        afterSalesEndsAt: new Date(
          o.shippedAt!.getTime() + (this.p.config.AUTO_CONFIRM_DAYS + this.p.config.AFTER_SALES_DAYS) * DAY,
        ),
      });
    });
    this.p.outbox.wake();
    return { order: await this.getShopOrder(shopId, orderId), waybill };
  }

  /** Carrier event: shipped → delivered; a repeated event finds nothing to change. */
  async markDelivered(
    carrier: string,
    trackingNo: string,
  ): Promise<{ orderId: string; changed: boolean } | null> {
    return inTransaction(this.p.db, async (tx) => {
      const [cur] = await tx
        .select()
        .from(orders)
        .where(and(eq(orders.trackingNo, trackingNo), eq(orders.carrier, carrier)));
      if (!cur) return null;
      const [o] = await tx
        .update(orders)
        .set({ status: 'delivered', deliveredAt: this.p.clock.now() })
        .where(and(eq(orders.id, cur.id), eq(orders.status, 'shipped')))
        .returning();
      if (o)
        await recordEvent(tx, this.p.clock, 'order.delivered', o.id, { orderId: o.id, shopId: o.shopId });
      return { orderId: cur.id, changed: !!o };
    });
  }

  async confirmReceipt(buyerId: string, orderId: string) {
    await inTransaction(this.p.db, async (tx) => {
      const [o] = await tx
        .update(orders)
        .set({ status: 'completed', completedAt: this.p.clock.now() })
        .where(
          and(
            eq(orders.id, orderId),
            eq(orders.buyerAccountId, buyerId),
            inArray(orders.status, ['shipped', 'delivered']),
          ),
        )
        .returning();
      if (!o) {
        const order = await this.getBuyerOrder(buyerId, orderId);
        throw invalidState(
          `Order ${orderId} is ${order.status}; receipt can be confirmed once it has shipped.`,
        );
      }
      await recordEvent(tx, this.p.clock, 'order.completed', orderId, {
        orderId,
        shopId: o.shopId,
        by: 'buyer',
      });
    });
    this.p.outbox.wake();
    return this.getBuyerOrder(buyerId, orderId);
  }

  /** Job: receipt confirms itself AUTO_CONFIRM_DAYS after delivery. */
  async sweepAutoConfirm(): Promise<number> {
    const cutoff = new Date(this.p.clock.now().getTime() - this.p.config.AUTO_CONFIRM_DAYS * DAY);
    const n = await inTransaction(this.p.db, async (tx) => {
      const done = rowsOf<{ id: string; shop_id: string }>(
        await tx.execute(sql`
          update ${orders} set status = 'completed', completed_at = ${this.p.clock.now().toISOString()}
          where id in (
            select id from ${orders} where status = 'delivered' and delivered_at <= ${cutoff.toISOString()}
            order by delivered_at limit 1000 for update skip locked)
          returning id, shop_id`),
      );
      for (const d of done) {
        await recordEvent(tx, this.p.clock, 'order.completed', d.id, {
          orderId: d.id,
          shopId: d.shop_id,
          by: 'auto',
        });
      }
      return done.length;
    });
    if (n > 0) this.p.outbox.wake();
    return n;
  }

  // --- after-sales ---------------------------------------------------------------------------

  /** Locks the buyer's order for an after-sales request and returns it with its lines. */
  async lockForAfterSales(
    tx: Tx,
    buyerId: string,
    orderId: string,
  ): Promise<{ order: OrderRow; lines: OrderLineRow[] }> {
    const [order] = await tx
      .select()
      .from(orders)
      .where(and(eq(orders.id, orderId), eq(orders.buyerAccountId, buyerId)))
      .for('update');
    if (!order) throw notFound('ORDER_NOT_FOUND', 'Order', orderId);
    return { order, lines: await this.linesOf(tx, [orderId]) };
  }

  /** A refund was asked for before shipment: the (locked, paid) order may not ship until released. */
  async holdShipping(tx: Tx, orderId: string, caseId: string): Promise<void> {
    await tx
      .insert(orderShippingHolds)
      .values({ orderId, caseId, heldAt: this.p.clock.now() })
      .onConflictDoNothing();
  }

  async releaseShipping(tx: Tx, orderId: string, caseId: string): Promise<void> {
    await tx
      .delete(orderShippingHolds)
      .where(and(eq(orderShippingHolds.orderId, orderId), eq(orderShippingHolds.caseId, caseId)));
  }

  /**
   * The whole payment went back: the order closes as `refunded`, at the stage it had reached.
   * Refunded before shipment, the goods never left, so their stock is returned (SKU rows in
   * id order, as checkout takes them). Null when the order was not in a refundable state.
   */
  async markRefunded(tx: Tx, orderId: string): Promise<RefundStage | null> {
    const [cur] = await tx
      .select({ status: orders.status })
      .from(orders)
      .where(eq(orders.id, orderId))
      .for('update');
    if (!cur) throw notFound('ORDER_NOT_FOUND', 'Order', orderId);
    const stage = refundStageOf(cur.status);
    if (!stage) return null;
    await Promise.all([
      tx
        .update(orders)
        .set({ status: 'refunded', cancelledAt: this.p.clock.now(), cancelReason: `refunded_${stage}` })
        .where(and(eq(orders.id, orderId), eq(orders.status, cur.status))),
      tx.delete(orderShippingHolds).where(eq(orderShippingHolds.orderId, orderId)),
    ]);
    if (stage === 'before_shipment') {
      const bySku = new Map<string, number>();
      for (const l of await this.linesOf(tx, [orderId]))
        bySku.set(l.skuId, (bySku.get(l.skuId) ?? 0) + l.quantity);
      for (const skuId of [...bySku.keys()].sort()) {
        await tx
          .update(skus)
          .set({ stock: sql`${skus.stock} + ${bySku.get(skuId)!}` })
          .where(eq(skus.id, skuId));
      }
    }
    return stage;
  }
}

/** The `order.paid` event of a paid order: what the ledger books and the room counts. */
function paidEvent(o: OrderRow, lines: OrderLineRow[], paymentId: string) {
  return {
    topic: 'order.paid',
    aggregateId: o.id,
    payload: {
      orderId: o.id,
      shopId: o.shopId,
      paymentId,
      paidAt: o.paidAt!.toISOString(),
      totalFen: o.totalFen,
      payableFen: o.payableFen,
      shopDiscountFen: o.shopDiscountFen,
      platformDiscountFen: o.platformDiscountFen,
      venueType: o.venueType,
      venueId: o.venueId,
      creatorAccountId: o.creatorAccountId,
      lines: lines
        .filter((l) => l.orderId === o.id)
        .map((l) => ({
          lineId: l.id,
          skuId: l.skuId,
          productId: l.productId,
          categoryId: l.categoryId,
          quantity: l.quantity,
          lineTotalFen: l.lineTotalFen,
          shopDiscountFen: l.shopDiscountFen,
          platformDiscountFen: l.platformDiscountFen,
          paidFen: l.paidFen,
          commissionBps: l.commissionBps,
        })),
    },
  };
}

/** The after-sales stage of an order in this status, or null if nothing was paid or it is closed. */
export function refundStageOf(status: OrderStatus): RefundStage | null {
  switch (status) {
    case 'paid':
      return 'before_shipment';
    case 'shipped':
      return 'after_shipment';
    case 'delivered':
    case 'completed':
      return 'after_receipt';
    default:
      return null;
  }
}

type ExportFilter = { status?: OrderStatus | undefined; from?: Date | undefined; to?: Date | undefined };

function exportConditions(shopId: string, filter: ExportFilter): SQL[] {
  const conds = [eq(orders.shopId, shopId)];
  if (filter.status) conds.push(eq(orders.status, filter.status));
  if (filter.from) conds.push(gte(orders.createdAt, filter.from));
  if (filter.to) conds.push(lt(orders.createdAt, filter.to));
  return conds;
}

const CSV_HEADER = [
  'order_id',
  'created_at',
  'status',
  'total_yuan',
  'payable_yuan',
  'venue_type',
  'venue_id',
  'creator_account_id',
  'items',
  'recipient_name_mask',
  'recipient_phone_mask',
  'recipient_address_mask',
  'carrier',
  'tracking_no',
];

/** RFC 4180 quoting, and a leading quote on formula-like cells so spreadsheets do not run them. */
function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function nextCursor(rows: { id: string }[], limit: number): string | null {
  return rows.length === limit ? rows[rows.length - 1]!.id : null;
}
