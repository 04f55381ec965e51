import { and, asc, eq, gt, inArray, isNull, lte, ne, type SQL, sql } from 'drizzle-orm';
import { HOUR, MINUTE } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import { type Executor, rowsOf, type Tx } from '../../platform/db.js';
import { AppError, invalidState, notFound } from '../../platform/errors.js';
import { GroupCommit } from '../../platform/group-commit.js';
import { type IdempotentResult, requestHash } from '../../platform/idempotency.js';
import { newId } from '../../platform/ids.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import { products, shops, skus } from '../catalog/schema.js';
import type { CatalogService } from '../catalog/service.js';
import type { OrderService, OrderView, PreReservedStockHolder } from '../orders/service.js';
import type { RecipientInput } from '../privacy/service.js';
import { liveRoomItems, liveRooms } from '../venues/schema.js';
import {
  type FlashReservationStatus,
  flashSaleBuckets,
  flashSaleBuyers,
  flashSaleReservations,
  flashSaleSlots,
} from './schema.js';

type SlotRow = typeof flashSaleSlots.$inferSelect;
type ReservationRow = typeof flashSaleReservations.$inferSelect;

/** A slot may be scheduled to start at most this long ago (clock skew between caller and server). */
const START_GRACE_MS = MINUTE;
const MAX_DURATION_MS = 24 * HOUR;
/** The slot row is immutable but for its status: each node re-reads it at most once a second. */
const SLOT_CACHE_MS = 1_000;
const MAX_BATCH = 500;
/** A request whose units were locked by another node's batch is retried this often, then refused. */
const MAX_REQUEUES = 50;
const RELEASE_BATCH = 500;
/** Room counter refreshes asked for by this node, at most one per slot per interval. */
const SIGNAL_INTERVAL_MS = 100;

export interface ScheduleInput {
  cartItemId: string;
  skuId: string;
  startsAt: Date;
  endsAt: Date;
  priceFen: number;
  quantity: number;
  perBuyerLimit: number;
  bucketCount?: number | undefined;
}

export function slotView(s: SlotRow, remaining: number) {
  return {
    id: s.id,
    roomId: s.roomId,
    cartItemId: s.cartItemId,
    productId: s.productId,
    skuId: s.skuId,
    shopId: s.shopId,
    priceFen: s.priceFen,
    listPriceFen: s.listPriceFen,
    quantity: s.quantity,
    perBuyerLimit: s.perBuyerLimit,
    bucketCount: s.bucketCount,
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    status: s.status,
    remaining,
    soldOut: s.soldOutAt !== null,
    returnedUnits: s.returnedUnits,
    openedAt: s.openedAt,
    endedAt: s.endedAt,
  };
}
export type FlashSaleView = ReturnType<typeof slotView>;

export function reservationView(r: ReservationRow, slot: Pick<SlotRow, 'skuId' | 'priceFen'>) {
  return {
    id: r.id,
    slotId: r.slotId,
    skuId: slot.skuId,
    quantity: r.quantity,
    unitPriceFen: slot.priceFen,
    totalFen: slot.priceFen * r.quantity,
    status: r.status,
    orderId: r.orderId,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
  };
}
export type ReservationView = ReturnType<typeof reservationView>;

/** One buyer's purchase waiting for its batch. */
interface Purchase {
  buyerId: string;
  quantity: number;
  key: string;
  hash: string;
  requeues: number;
  resolve(result: IdempotentResult<ReservationView>): void;
  reject(err: unknown): void;
}

type Answer =
  | { kind: 'reserved'; row: ReservationRow }
  | { kind: 'replay'; row: ReservationRow }
  | { kind: 'limit' }
  | { kind: 'sold_out' }
  /** The units it needs are locked by a concurrent batch (another node's): try again. */
  | { kind: 'retry' };

interface BatchResult {
  answers: Answer[];
  /** Every bucket was seen empty. */
  soldOut: boolean;
  /** This batch emptied a bucket or found all empty: the sold-out check runs after commit. */
  checkSoldOut: boolean;
  reserved: number;
}

/** A slot on this node: its cached row and the purchases being collected for it. */
class SlotLane {
  slot: SlotRow | null = null;
  loadedAt = 0;
  loading: Promise<SlotRow> | null = null;
  opening = false;
  /** A batch saw every bucket empty: the next ones read the total before writing anything. */
  maybeSoldOut = false;
  signalledAt = 0;
  lastUsed = Date.now();
  constructor(readonly commits: GroupCommit<Purchase>) {}
}

const notOpen = (message: string) => new AppError('FLASH_SALE_NOT_OPEN', message);
const soldOut = (slotId: string) =>
  new AppError(
    'FLASH_SALE_SOLD_OUT',
    `Flash sale ${slotId} is sold out; units held by others may come back if unpaid.`,
    {
      slotId,
    },
  );

/**
 * Flash sales (秒杀) in live rooms. Scheduling moves the slot's units out of the SKU into K
 * bucket rows. A purchase joins its node's group commit for the slot: one transaction per
 * batch raises each buyer's total with a conditional upsert (the per-buyer limit, held in SQL
 * across nodes), takes the batch's units from buckets locked with SKIP LOCKED starting at a
 * random bucket (another node's batch takes other rows), and inserts the reservations. Nothing
 * is answered before that commit. The clock releases reservations not paid in time; an order
 * cancelled unpaid gives its units back in its own transaction (`releaseForCancelledOrders`).
 */
export class FlashSaleService implements PreReservedStockHolder {
  private readonly lanes = new Map<string, SlotLane>();
  private readonly background = new Set<Promise<unknown>>();
  /** Batches committed and the purchase requests they carried (for the benchmark). */
  readonly stats = { batches: 0, requests: 0 };

  constructor(
    private readonly p: Platform,
    private readonly deps: {
      catalog: Pick<CatalogService, 'takeStock' | 'returnStock'>;
      orders: Pick<OrderService, 'createOrder'>;
      /** Asks every node's live channel to re-read the room's counters (a bus signal). */
      unitsChanged?: (roomId: string) => void;
      maxInFlight?: number;
    },
  ) {}

  // --- scheduling -----------------------------------------------------------------------------

  /** The creator schedules a slot in their own live room. */
  async scheduleByCreator(creatorId: string, roomId: string, input: ScheduleInput) {
    const [room] = await this.p.db
      .select()
      .from(liveRooms)
      .where(and(eq(liveRooms.id, roomId), eq(liveRooms.creatorAccountId, creatorId)));
    if (!room) throw notFound('LIVE_ROOM_NOT_FOUND', 'Live room', roomId);
    return this.schedule(creatorId, room, null, input);
  }

  /** The shop's merchant (products.write) schedules a slot for its product in a room carrying it. */
  async scheduleByMerchant(accountId: string, shopId: string, roomId: string, input: ScheduleInput) {
    const [room] = await this.p.db.select().from(liveRooms).where(eq(liveRooms.id, roomId));
    if (!room) throw notFound('LIVE_ROOM_NOT_FOUND', 'Live room', roomId);
    return this.schedule(accountId, room, shopId, input);
  }

  private async schedule(
    by: string,
    room: typeof liveRooms.$inferSelect,
    shopId: string | null,
    input: ScheduleInput,
  ) {
    const now = this.p.clock.now();
    if (input.startsAt.getTime() < now.getTime() - START_GRACE_MS) {
      throw new AppError('VALIDATION_FAILED', 'body.startsAt: must not be in the past.');
    }
    if (input.endsAt <= input.startsAt) {
      throw new AppError('VALIDATION_FAILED', 'body.endsAt: must be after startsAt.');
    }
    if (input.endsAt.getTime() - input.startsAt.getTime() > MAX_DURATION_MS) {
      throw new AppError('VALIDATION_FAILED', 'body.endsAt: a flash sale lasts at most 24 hours.');
    }
    if (input.perBuyerLimit > input.quantity) {
      throw new AppError('VALIDATION_FAILED', 'body.perBuyerLimit: may not exceed quantity.');
    }
    if (room.status === 'ended')
      throw invalidState(`Live room ${room.id} has ended; it cannot hold a flash sale.`);
    const [item] = await this.p.db
      .select()
      .from(liveRoomItems)
      .where(
        and(
          eq(liveRoomItems.id, input.cartItemId),
          eq(liveRoomItems.roomId, room.id),
          isNull(liveRoomItems.removedAt),
        ),
      );
    // Another shop's cart item answers like a missing one.
    if (!item || (shopId !== null && item.shopId !== shopId)) {
      throw notFound('NOT_FOUND', 'Cart item', input.cartItemId);
    }
    const [sku] = await this.p.db
      .select({
        id: skus.id,
        productId: skus.productId,
        priceFen: skus.priceFen,
        stock: skus.stock,
        reviewStatus: products.reviewStatus,
        listed: products.listed,
        shopStatus: shops.status,
      })
      .from(skus)
      .innerJoin(products, eq(products.id, skus.productId))
      .innerJoin(shops, eq(shops.id, products.shopId))
      .where(eq(skus.id, input.skuId));
    if (!sku || sku.productId !== item.productId) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.skuId: ${input.skuId} is not a SKU of the cart item's product ${item.productId}.`,
      );
    }
    if (sku.reviewStatus !== 'approved' || sku.listed !== 'listed' || sku.shopStatus !== 'active') {
      throw new AppError('PRODUCT_NOT_SELLABLE', `Product ${item.productId} is not on sale.`, {
        productId: item.productId,
      });
    }
    if (input.priceFen >= sku.priceFen) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.priceFen: a flash price must be below the SKU's price of ${sku.priceFen} fen.`,
      );
    }
    const bucketCount = Math.min(input.bucketCount ?? defaultBucketCount(input.quantity), input.quantity);
    const id = newId('flashSale');
    await inTransaction(this.p.db, async (tx) => {
      const slot: SlotRow = {
        id,
        roomId: room.id,
        cartItemId: item.id,
        productId: item.productId,
        skuId: sku.id,
        shopId: item.shopId,
        priceFen: input.priceFen,
        listPriceFen: sku.priceFen,
        quantity: input.quantity,
        perBuyerLimit: input.perBuyerLimit,
        bucketCount,
        startsAt: input.startsAt,
        endsAt: input.endsAt,
        status: 'scheduled',
        scheduledBy: by,
        createdAt: now,
        openedAt: null,
        soldOutAt: null,
        endedAt: null,
        returnedUnits: 0,
      };
      await tx.insert(flashSaleSlots).values(slot);
      await Promise.all([
        tx.insert(flashSaleBuckets).values(
          splitEvenly(input.quantity, bucketCount).map((remaining, bucket) => ({
            slotId: id,
            bucket,
            remaining,
          })),
        ),
        recordEvent(tx, this.p.clock, 'room.flash_sale_scheduled', id, {
          roomId: room.id,
          slotId: id,
          skuId: sku.id,
          productId: item.productId,
          priceFen: input.priceFen,
          listPriceFen: sku.priceFen,
          quantity: input.quantity,
          perBuyerLimit: input.perBuyerLimit,
          startsAt: input.startsAt.toISOString(),
          endsAt: input.endsAt.toISOString(),
        }),
      ]);
      // The SKU row last: its lock is held only until commit.
      const taken = await this.deps.catalog.takeStock(tx, sku.id, input.quantity);
      if (!taken) {
        const [cur] = await tx.select({ stock: skus.stock }).from(skus).where(eq(skus.id, sku.id));
        throw new AppError(
          'INSUFFICIENT_STOCK',
          `SKU ${sku.id} has ${cur?.stock ?? 0} in stock; the flash sale needs ${input.quantity}.`,
          { skuId: sku.id, available: cur?.stock ?? 0 },
        );
      }
      if (taken.priceFen <= input.priceFen) {
        throw invalidState(`The price of SKU ${sku.id} changed to ${taken.priceFen} fen; schedule again.`);
      }
    });
    this.p.outbox.wake();
    return this.getSlot(id);
  }

  // --- reading --------------------------------------------------------------------------------

  async getSlot(slotId: string, ex: Executor = this.p.db): Promise<FlashSaleView> {
    const [slot] = await ex.select().from(flashSaleSlots).where(eq(flashSaleSlots.id, slotId));
    if (!slot) throw notFound('FLASH_SALE_NOT_FOUND', 'Flash sale', slotId);
    return slotView(slot, await this.remainingOf(ex, slotId));
  }

  async listRoomSlots(roomId: string) {
    const rows = await this.p.db
      .select()
      .from(flashSaleSlots)
      .where(eq(flashSaleSlots.roomId, roomId))
      .orderBy(asc(flashSaleSlots.startsAt), asc(flashSaleSlots.id))
      .limit(100);
    const remaining = await this.remainingBySlot(rows.map((r) => r.id));
    return rows.map((r) => slotView(r, remaining.get(r.id) ?? 0));
  }

  /** Units left per slot of a room that has not ended: the live channel's `flash` counter. */
  async readFlashCounters(roomId: string): Promise<Record<string, number>> {
    const rows = rowsOf<{ id: string; remaining: number }>(
      await this.p.db.execute(sql`
        select s.id, coalesce(sum(b.remaining), 0)::int as remaining
        from ${flashSaleSlots} s join ${flashSaleBuckets} b on b.slot_id = s.id
        where s.room_id = ${roomId} and s.status <> 'ended'
        group by s.id`),
    );
    return Object.fromEntries(rows.map((r) => [r.id, Number(r.remaining)]));
  }

  async getReservation(buyerId: string, reservationId: string): Promise<ReservationView> {
    const [r] = await this.p.db
      .select()
      .from(flashSaleReservations)
      .where(
        and(eq(flashSaleReservations.id, reservationId), eq(flashSaleReservations.buyerAccountId, buyerId)),
      );
    if (!r) throw notFound('FLASH_SALE_RESERVATION_NOT_FOUND', 'Flash-sale reservation', reservationId);
    return reservationView(r, await this.cachedSlot(r.slotId));
  }

  private async remainingOf(ex: Executor, slotId: string): Promise<number> {
    const [row] = await ex
      .select({ n: sql<number>`coalesce(sum(${flashSaleBuckets.remaining}), 0)::int` })
      .from(flashSaleBuckets)
      .where(eq(flashSaleBuckets.slotId, slotId));
    return Number(row?.n ?? 0);
  }

  private async remainingBySlot(slotIds: string[]): Promise<Map<string, number>> {
    if (slotIds.length === 0) return new Map();
    const rows = await this.p.db
      .select({
        slotId: flashSaleBuckets.slotId,
        n: sql<number>`coalesce(sum(${flashSaleBuckets.remaining}), 0)::int`,
      })
      .from(flashSaleBuckets)
      .where(inArray(flashSaleBuckets.slotId, slotIds))
      .groupBy(flashSaleBuckets.slotId);
    return new Map(rows.map((r) => [r.slotId, Number(r.n)]));
  }

  // --- purchase (抢购): the hot path --------------------------------------------------------

  /**
   * Reserves `quantity` units for the buyer. Answers after the batch holding the request has
   * committed: 201 with the reservation (held until PAYMENT_TIMEOUT_MINUTES from now), or
   * FLASH_SALE_SOLD_OUT / FLASH_SALE_LIMIT_REACHED / FLASH_SALE_NOT_OPEN. A retry with the same
   * Idempotency-Key gets the same reservation back.
   */
  async reserve(
    buyerId: string,
    slotId: string,
    quantity: number,
    idempotencyKey: string,
  ): Promise<IdempotentResult<ReservationView>> {
    const lane = this.lane(slotId);
    const slot = await this.cachedSlot(slotId, lane);
    const hash = requestHash({ slotId, quantity });
    const now = this.p.clock.now();
    if (now < slot.startsAt) {
      throw notOpen(`Flash sale ${slotId} starts at ${slot.startsAt.toISOString()}.`);
    }
    if (now >= slot.endsAt || slot.status === 'ended') {
      // A retry of a purchase made before the end still gets its reservation.
      const prior = await this.priorPurchase(buyerId, idempotencyKey, hash);
      if (prior) return { status: 201, body: reservationView(prior, slot), replayed: true };
      throw notOpen(`Flash sale ${slotId} ended at ${slot.endsAt.toISOString()}.`);
    }
    if (quantity > slot.perBuyerLimit) {
      throw new AppError(
        'FLASH_SALE_LIMIT_REACHED',
        `At most ${slot.perBuyerLimit} per buyer in flash sale ${slotId}.`,
        { perBuyerLimit: slot.perBuyerLimit },
      );
    }
    if (slot.status === 'scheduled' && !lane.opening) {
      lane.opening = true;
      this.track(
        this.openSlot(slotId).finally(() => {
          lane.opening = false;
        }),
      );
    }
    return new Promise((resolve, reject) =>
      lane.commits.push({ buyerId, quantity, key: idempotencyKey, hash, requeues: 0, resolve, reject }),
    );
  }

  private lane(slotId: string): SlotLane {
    let lane = this.lanes.get(slotId);
    if (!lane) {
      if (this.lanes.size > 1_000) this.evictIdleLanes();
      const created: SlotLane = new SlotLane(
        new GroupCommit<Purchase>({
          maxBatch: MAX_BATCH,
          // PGlite has one connection: batches would only queue for it.
          maxInFlight: this.p.dbKind === 'pglite' ? 1 : (this.deps.maxInFlight ?? 2),
          keyOf: (p) => p.buyerId,
          run: (batch) => this.runBatch(created, batch),
        }),
      );
      lane = created;
      this.lanes.set(slotId, lane);
    }
    lane.lastUsed = Date.now();
    return lane;
  }

  private evictIdleLanes() {
    const cutoff = Date.now() - 60_000;
    for (const [id, l] of this.lanes)
      if (l.lastUsed < cutoff && l.commits.pending === 0) this.lanes.delete(id);
  }

  /** The slot row, cached per node for a second (only its status ever changes). */
  private async cachedSlot(slotId: string, lane = this.lane(slotId)): Promise<SlotRow> {
    if (lane.slot && Date.now() - lane.loadedAt < SLOT_CACHE_MS) return lane.slot;
    lane.loading ??= (async () => {
      try {
        const [slot] = await this.p.db.select().from(flashSaleSlots).where(eq(flashSaleSlots.id, slotId));
        if (!slot) {
          // No lane is kept for an id that names nothing.
          if (!lane.slot && lane.commits.pending === 0) this.lanes.delete(slotId);
          throw notFound('FLASH_SALE_NOT_FOUND', 'Flash sale', slotId);
        }
        lane.slot = slot;
        lane.loadedAt = Date.now();
        return slot;
      } finally {
        lane.loading = null;
      }
    })();
    return lane.loading;
  }

  private async priorPurchase(buyerId: string, key: string, hash: string): Promise<ReservationRow | null> {
    const [prior] = await this.p.db
      .select()
      .from(flashSaleReservations)
      .where(
        and(eq(flashSaleReservations.buyerAccountId, buyerId), eq(flashSaleReservations.idempotencyKey, key)),
      );
    if (!prior) return null;
    if (prior.requestHash !== hash) throw keyReused();
    return prior;
  }

  /** Runs one batch in one transaction, then answers each purchase. */
  private async runBatch(lane: SlotLane, batch: Purchase[]): Promise<void> {
    const slot = lane.slot!;
    let result: BatchResult;
    try {
      result = await inTransaction(this.p.db, (tx) => this.reserveBatch(tx, slot, batch, lane.maybeSoldOut));
    } catch (err) {
      this.p.log.error({ err, slotId: slot.id, size: batch.length }, 'flash-sale batch failed');
      for (const p of batch) p.reject(err);
      return;
    }
    lane.maybeSoldOut = result.soldOut;
    this.stats.batches++;
    this.stats.requests += batch.length;
    const again: Purchase[] = [];
    for (const [i, p] of batch.entries()) {
      const a = result.answers[i]!;
      if (a.kind === 'reserved') {
        p.resolve({ status: 201, body: reservationView(a.row, slot), replayed: false });
      } else if (a.kind === 'replay') {
        if (a.row.requestHash === p.hash) {
          p.resolve({ status: 201, body: reservationView(a.row, slot), replayed: true });
        } else {
          p.reject(keyReused());
        }
      } else if (a.kind === 'limit') {
        p.reject(
          new AppError(
            'FLASH_SALE_LIMIT_REACHED',
            `You already hold the most this flash sale allows (${slot.perBuyerLimit} per buyer).`,
            { perBuyerLimit: slot.perBuyerLimit },
          ),
        );
      } else if (a.kind === 'sold_out') {
        p.reject(soldOut(slot.id));
      } else if (++p.requeues > MAX_REQUEUES) {
        p.reject(new AppError('RATE_LIMITED', 'The flash sale is busy; retry in a moment.'));
      } else {
        again.push(p);
      }
    }
    lane.commits.retry(again);
    if (result.reserved > 0) this.signalUnits(lane, slot.roomId);
    if (result.checkSoldOut) this.track(this.announceSoldOut(slot));
  }

  /**
   * One batch: (1) finds purchases already made with these keys (replays), (2) raises each
   * buyer's total where it stays within the limit, (3) takes the admitted units from buckets,
   * (4) inserts the reservations, (5) gives back what was taken or counted for purchases that
   * did not get their units. Every statement is set-based and its text fixed (the batch travels
   * as one jsonb parameter), so the prepared statements serve every batch size.
   */
  private async reserveBatch(
    tx: Tx,
    slot: SlotRow,
    batch: Purchase[],
    maybeSoldOut: boolean,
  ): Promise<BatchResult> {
    const now = this.p.clock.now();
    const answers: (Answer | undefined)[] = batch.map(() => undefined);
    const keysJson = JSON.stringify(batch.map((p) => ({ b: p.buyerId, k: p.key })));
    const buyersJson = JSON.stringify(batch.map((p) => p.buyerId));
    // `buyer = any(…)` lets the (buyer, key) index find the candidates however large the table grows.
    const priorQuery = tx
      .select()
      .from(flashSaleReservations)
      .where(
        sql`${flashSaleReservations.buyerAccountId} = any(array(select jsonb_array_elements_text(${buyersJson}::jsonb)))
          and (${flashSaleReservations.buyerAccountId}, ${flashSaleReservations.idempotencyKey}) in
          (select x.b, x.k from jsonb_to_recordset(${keysJson}::jsonb) as x(b text, k text))`,
      );
    let priorRows: ReservationRow[] | undefined;
    if (maybeSoldOut) {
      const [prior, left] = await Promise.all([priorQuery, this.remainingOf(tx, slot.id)]);
      priorRows = prior;
      if (left === 0) {
        const byKey = new Map(prior.map((r) => [`${r.buyerAccountId}\n${r.idempotencyKey}`, r]));
        return {
          answers: batch.map((p) => {
            const row = byKey.get(`${p.buyerId}\n${p.key}`);
            return row ? { kind: 'replay', row } : { kind: 'sold_out' };
          }),
          soldOut: true,
          checkSoldOut: false,
          reserved: 0,
        };
      }
    }
    // Buyers in id order, so two batches lock their rows in the same order.
    const byBuyer = [...batch].sort((a, b) => (a.buyerId < b.buyerId ? -1 : a.buyerId > b.buyerId ? 1 : 0));
    const demandJson = JSON.stringify(byBuyer.map((p) => ({ b: p.buyerId, q: p.quantity })));
    const [prior, admittedRows] = await Promise.all([
      priorRows ?? priorQuery,
      tx.execute(sql`
        insert into ${flashSaleBuyers} as fb (slot_id, buyer_account_id, units, max_units)
        select ${slot.id}, x.b, x.q, ${slot.perBuyerLimit}::int
        from jsonb_to_recordset(${demandJson}::jsonb) as x(b text, q int) order by x.b
        on conflict (slot_id, buyer_account_id) do update set units = fb.units + excluded.units
        where fb.units + excluded.units <= fb.max_units
        returning fb.buyer_account_id as b`),
    ]);
    const priorByKey = new Map(prior.map((r) => [`${r.buyerAccountId}\n${r.idempotencyKey}`, r]));
    const admitted = new Set(rowsOf<{ b: string }>(admittedRows).map((r) => r.b));
    /** Counted in the buyer's total, but not reserved: taken back before commit. */
    const uncount: Purchase[] = [];
    const wanting: number[] = [];
    batch.forEach((p, i) => {
      const row = priorByKey.get(`${p.buyerId}\n${p.key}`);
      if (row) {
        answers[i] = { kind: 'replay', row };
        if (admitted.has(p.buyerId)) uncount.push(p);
      } else if (!admitted.has(p.buyerId)) {
        answers[i] = { kind: 'limit' };
      } else {
        wanting.push(i);
      }
    });

    const need = wanting.reduce((s, i) => s + batch[i]!.quantity, 0);
    const takes: { bucket: number; take: number; remaining: number }[] = [];
    let soldOutNow = false;
    if (need > 0) {
      const perBucket = Math.max(1, Math.floor(slot.quantity / slot.bucketCount));
      takes.push(...(await this.takeUnits(tx, slot, need, Math.ceil(need / perBucket) + 1)));
      let taken = takes.reduce((s, t) => s + t.take, 0);
      if (taken < need) {
        takes.push(...(await this.takeUnits(tx, slot, need - taken, slot.bucketCount)));
        taken = takes.reduce((s, t) => s + t.take, 0);
      }
      // Short: sold out only if no bucket has units; otherwise another batch holds them.
      if (taken < need) soldOutNow = (await this.remainingOf(tx, slot.id)) === 0;
    }

    // Units to purchases in arrival order; each reservation remembers its first bucket.
    const pool = takes.map((t) => ({ bucket: t.bucket, units: t.take }));
    let poolLeft = pool.reduce((s, t) => s + t.units, 0);
    const expiresAt = new Date(now.getTime() + this.p.config.PAYMENT_TIMEOUT_MINUTES * MINUTE);
    const rows: { i: number; row: ReservationRow }[] = [];
    for (const i of wanting) {
      const p = batch[i]!;
      if (p.quantity > poolLeft) {
        answers[i] = { kind: soldOutNow ? 'sold_out' : 'retry' };
        uncount.push(p);
        continue;
      }
      let bucket = -1;
      for (let q = p.quantity; q > 0; ) {
        const src = pool.find((t) => t.units > 0)!;
        if (bucket < 0) bucket = src.bucket;
        const n = Math.min(q, src.units);
        src.units -= n;
        q -= n;
      }
      poolLeft -= p.quantity;
      rows.push({
        i,
        row: {
          id: newId('flashReservation'),
          slotId: slot.id,
          buyerAccountId: p.buyerId,
          quantity: p.quantity,
          bucket,
          status: 'reserved',
          idempotencyKey: p.key,
          requestHash: p.hash,
          orderId: null,
          createdAt: now,
          expiresAt,
          orderedAt: null,
          releasedAt: null,
          releaseReason: null,
        },
      });
    }

    let giveBack = poolLeft;
    let reserved = 0;
    if (rows.length > 0) {
      const insertJson = JSON.stringify(
        rows.map(({ row: r }) => ({
          id: r.id,
          b: r.buyerAccountId,
          q: r.quantity,
          bk: r.bucket,
          k: r.idempotencyKey,
          h: r.requestHash,
        })),
      );
      const inserted = rowsOf<{ id: string }>(
        await tx.execute(sql`
          insert into ${flashSaleReservations}
            (id, slot_id, buyer_account_id, quantity, bucket, status, idempotency_key, request_hash, created_at, expires_at)
          select x.id, ${slot.id}, x.b, x.q, x.bk, 'reserved', x.k, x.h, ${now.toISOString()}::timestamptz, ${expiresAt.toISOString()}::timestamptz
          from jsonb_to_recordset(${insertJson}::jsonb) as x(id text, b text, q int, bk int, k text, h text)
          on conflict (buyer_account_id, idempotency_key) do nothing
          returning id`),
      );
      const ok = new Set(inserted.map((r) => r.id));
      for (const { i, row } of rows) {
        if (ok.has(row.id)) {
          answers[i] = { kind: 'reserved', row };
          reserved += row.quantity;
        } else {
          // The same key is being bought in a concurrent batch: its reservation is replayed next time.
          answers[i] = { kind: 'retry' };
          uncount.push(batch[i]!);
          giveBack += row.quantity;
        }
      }
    }

    const undo: Promise<unknown>[] = [];
    if (uncount.length > 0) {
      const json = JSON.stringify(uncount.map((p) => ({ b: p.buyerId, q: p.quantity })));
      undo.push(
        tx.execute(sql`
          update ${flashSaleBuyers} fb set units = fb.units - x.q
          from jsonb_to_recordset(${json}::jsonb) as x(b text, q int)
          where fb.slot_id = ${slot.id} and fb.buyer_account_id = x.b`),
      );
    }
    if (giveBack > 0) {
      // Back into a bucket this transaction already holds.
      undo.push(
        tx
          .update(flashSaleBuckets)
          .set({ remaining: sql`${flashSaleBuckets.remaining} + ${giveBack}` })
          .where(and(eq(flashSaleBuckets.slotId, slot.id), eq(flashSaleBuckets.bucket, takes[0]!.bucket))),
      );
    }
    await Promise.all(undo);
    return {
      answers: answers as Answer[],
      soldOut: soldOutNow,
      checkSoldOut: soldOutNow || takes.some((t) => t.remaining === 0),
      reserved,
    };
  }

  /**
   * Takes up to `need` units from at most `maxBuckets` buckets that no concurrent transaction
   * holds (SKIP LOCKED), starting at a random bucket so two batches rarely meet on a row.
   */
  private async takeUnits(tx: Tx, slot: SlotRow, need: number, maxBuckets: number) {
    const k = slot.bucketCount;
    const start = Math.floor(Math.random() * k);
    const rows = rowsOf<{ bucket: number; take: number; remaining: number }>(
      await tx.execute(sql`
        with c as (
          select bucket, remaining from ${flashSaleBuckets}
          where slot_id = ${slot.id} and remaining > 0
          order by (bucket + ${start}::int) % ${k}::int
          limit ${Math.min(maxBuckets, k)}::int
          for update skip locked
        ), a as (
          select bucket, least(remaining, greatest(0, ${need}::int
            - (sum(remaining) over (order by (bucket + ${start}::int) % ${k}::int) - remaining)))::int as take
          from c
        )
        update ${flashSaleBuckets} b set remaining = b.remaining - a.take
        from a where b.slot_id = ${slot.id} and b.bucket = a.bucket and a.take > 0
        returning b.bucket, a.take, b.remaining`),
    );
    return rows.map((r) => ({
      bucket: Number(r.bucket),
      take: Number(r.take),
      remaining: Number(r.remaining),
    }));
  }

  private signalUnits(lane: SlotLane, roomId: string) {
    const now = Date.now();
    if (!this.deps.unitsChanged || now - lane.signalledAt < SIGNAL_INTERVAL_MS) return;
    lane.signalledAt = now;
    this.deps.unitsChanged(roomId);
  }

  // --- slot clock: open, sold out, end ---------------------------------------------------------

  /** scheduled → open once its start has come; the room hears `flash_sale_open`. */
  private async openSlot(slotId: string): Promise<boolean> {
    const now = this.p.clock.now();
    const opened = await inTransaction(this.p.db, async (tx) => {
      const [slot] = await tx
        .update(flashSaleSlots)
        .set({ status: 'open', openedAt: now })
        .where(
          and(
            eq(flashSaleSlots.id, slotId),
            eq(flashSaleSlots.status, 'scheduled'),
            lte(flashSaleSlots.startsAt, now),
          ),
        )
        .returning();
      if (!slot) return null;
      await recordEvent(tx, this.p.clock, 'room.flash_sale_open', slotId, {
        roomId: slot.roomId,
        slotId,
        skuId: slot.skuId,
        priceFen: slot.priceFen,
        quantity: slot.quantity,
        perBuyerLimit: slot.perBuyerLimit,
        endsAt: slot.endsAt.toISOString(),
      });
      return slot;
    });
    const lane = this.lanes.get(slotId);
    if (lane) lane.loadedAt = 0;
    if (opened) this.p.outbox.wake();
    return opened !== null;
  }

  /**
   * After a batch emptied a bucket: if every bucket is empty, mark the slot sold out and tell
   * the room, once. The slot row is locked first, so a release in progress (which holds it)
   * commits before the count is read.
   */
  private async announceSoldOut(slot: SlotRow): Promise<void> {
    const announced = await inTransaction(this.p.db, async (tx) => {
      const [cur] = await tx
        .select({ status: flashSaleSlots.status, soldOutAt: flashSaleSlots.soldOutAt })
        .from(flashSaleSlots)
        .where(eq(flashSaleSlots.id, slot.id))
        .for('no key update');
      if (!cur || cur.status === 'ended' || cur.soldOutAt) return false;
      if ((await this.remainingOf(tx, slot.id)) > 0) return false;
      await tx
        .update(flashSaleSlots)
        .set({ soldOutAt: this.p.clock.now() })
        .where(eq(flashSaleSlots.id, slot.id));
      await recordEvent(tx, this.p.clock, 'room.flash_sale_sold_out', slot.id, {
        roomId: slot.roomId,
        slotId: slot.id,
        quantity: slot.quantity,
      });
      return true;
    });
    if (announced) this.p.outbox.wake();
  }

  /** Job: opens slots whose start has come (the first purchase does it too). */
  async openDue(): Promise<number> {
    const due = await this.p.db
      .select({ id: flashSaleSlots.id })
      .from(flashSaleSlots)
      .where(and(eq(flashSaleSlots.status, 'scheduled'), lte(flashSaleSlots.startsAt, this.p.clock.now())))
      .orderBy(asc(flashSaleSlots.startsAt))
      .limit(100);
    let n = 0;
    for (const d of due) if (await this.openSlot(d.id)) n++;
    return n;
  }

  /**
   * Job: ends slots whose time is up. The bucket remainders go back to the SKU's stock in the
   * same transaction; units released later go straight to the SKU (see giveBack).
   */
  async endDue(): Promise<number> {
    const now = this.p.clock.now();
    const due = await this.p.db
      .select({ id: flashSaleSlots.id })
      .from(flashSaleSlots)
      .where(and(ne(flashSaleSlots.status, 'ended'), lte(flashSaleSlots.endsAt, now)))
      .orderBy(asc(flashSaleSlots.endsAt))
      .limit(100);
    let n = 0;
    for (const d of due) {
      const ended = await inTransaction(this.p.db, async (tx) => {
        const [slot] = await tx
          .update(flashSaleSlots)
          .set({ status: 'ended', endedAt: now })
          .where(
            and(
              eq(flashSaleSlots.id, d.id),
              ne(flashSaleSlots.status, 'ended'),
              lte(flashSaleSlots.endsAt, now),
            ),
          )
          .returning();
        if (!slot) return null;
        const drained = rowsOf<{ units: number }>(
          await tx.execute(sql`
            with old as (
              select bucket, remaining from ${flashSaleBuckets}
              where slot_id = ${slot.id} and remaining > 0 order by bucket for update)
            update ${flashSaleBuckets} b set remaining = 0
            from old where b.slot_id = ${slot.id} and b.bucket = old.bucket
            returning old.remaining as units`),
        );
        const unsold = drained.reduce((s, r) => s + Number(r.units), 0);
        if (unsold > 0) {
          await tx
            .update(flashSaleSlots)
            .set({ returnedUnits: sql`${flashSaleSlots.returnedUnits} + ${unsold}` })
            .where(eq(flashSaleSlots.id, slot.id));
          await this.deps.catalog.returnStock(tx, slot.skuId, unsold);
        }
        await recordEvent(tx, this.p.clock, 'room.flash_sale_ended', slot.id, {
          roomId: slot.roomId,
          slotId: slot.id,
          returnedUnits: unsold,
        });
        return slot;
      });
      if (!ended) continue;
      n++;
      const lane = this.lanes.get(ended.id);
      if (lane) lane.loadedAt = 0;
      this.deps.unitsChanged?.(ended.roomId);
    }
    if (n > 0) this.p.outbox.wake();
    return n;
  }

  // --- checkout and release -------------------------------------------------------------------

  /**
   * Checks out a reservation: a normal pending-payment order at the flash price, attributed to
   * the live room, whose stock is the reservation's (the SKU row is not touched again). It must
   * be paid by the reservation's expiry.
   */
  async checkoutReservation(
    buyerId: string,
    reservationId: string,
    recipient: RecipientInput,
    idempotencyKey: string,
  ): Promise<IdempotentResult<OrderView>> {
    const [r] = await this.p.db
      .select()
      .from(flashSaleReservations)
      .where(
        and(eq(flashSaleReservations.id, reservationId), eq(flashSaleReservations.buyerAccountId, buyerId)),
      );
    if (!r) throw notFound('FLASH_SALE_RESERVATION_NOT_FOUND', 'Flash-sale reservation', reservationId);
    const slot = await this.cachedSlot(r.slotId);
    const result = await this.deps.orders.createOrder(
      buyerId,
      {
        venue: { type: 'live_room', id: slot.roomId },
        items: [{ skuId: slot.skuId, quantity: r.quantity }],
        recipient,
      },
      idempotencyKey,
      {
        ref: r.id,
        unitPriceFen: slot.priceFen,
        payDeadline: r.expiresAt,
        claim: async (tx, orderId) => {
          const now = this.p.clock.now();
          const [claimed] = await tx
            .update(flashSaleReservations)
            .set({ status: 'ordered', orderId, orderedAt: now })
            .where(
              and(
                eq(flashSaleReservations.id, r.id),
                eq(flashSaleReservations.status, 'reserved'),
                gt(flashSaleReservations.expiresAt, now),
              ),
            )
            .returning({ id: flashSaleReservations.id });
          if (claimed) return;
          const [cur] = await tx
            .select({ status: flashSaleReservations.status, orderId: flashSaleReservations.orderId })
            .from(flashSaleReservations)
            .where(eq(flashSaleReservations.id, r.id));
          if (cur?.status === 'ordered') {
            throw invalidState(`Reservation ${r.id} is already checked out as order ${cur.orderId}.`, {
              orderId: cur.orderId,
            });
          }
          throw new AppError(
            'FLASH_SALE_RESERVATION_EXPIRED',
            `Reservation ${r.id} expired at ${r.expiresAt.toISOString()}; its units went back to the sale.`,
          );
        },
      },
    );
    if (!result.replayed) this.p.outbox.wake();
    return result;
  }

  /** Job: reservations not checked out in time go back to the sale; buyers' counts go down. */
  async releaseExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = this.p.clock.now();
      const released = await inTransaction(this.p.db, async (tx) => {
        const due = await tx
          .select({ id: flashSaleReservations.id, slotId: flashSaleReservations.slotId })
          .from(flashSaleReservations)
          .where(and(eq(flashSaleReservations.status, 'reserved'), lte(flashSaleReservations.expiresAt, now)))
          .orderBy(asc(flashSaleReservations.expiresAt))
          .limit(RELEASE_BATCH);
        if (due.length === 0) return [];
        return this.release(tx, due, 'reserved', 'expired', lte(flashSaleReservations.expiresAt, now));
      });
      total += released.length;
      for (const roomId of new Set(released.map((r) => r.roomId))) this.deps.unitsChanged?.(roomId);
      if (released.length < RELEASE_BATCH) break;
    }
    return total;
  }

  /** Called by the orders module in the transaction that cancels unpaid orders. */
  async releaseForCancelledOrders(tx: Tx, orderIds: string[], reason: string): Promise<Set<string>> {
    const held = await tx
      .select({
        id: flashSaleReservations.id,
        slotId: flashSaleReservations.slotId,
        orderId: flashSaleReservations.orderId,
      })
      .from(flashSaleReservations)
      .where(
        and(inArray(flashSaleReservations.orderId, orderIds), eq(flashSaleReservations.status, 'ordered')),
      );
    if (held.length === 0) return new Set();
    await this.release(tx, held, 'ordered', `order_${reason}`);
    return new Set(held.map((h) => h.orderId!));
  }

  /**
   * Releases reservations: locks their slots first (in id order; the end job and the sold-out
   * check take the same lock), marks them released, then gives the units back.
   */
  private async release(
    tx: Tx,
    which: { id: string; slotId: string }[],
    from: FlashReservationStatus,
    reason: string,
    condition?: SQL,
  ) {
    const slotIds = [...new Set(which.map((w) => w.slotId))].sort();
    const slots = await tx
      .select({
        id: flashSaleSlots.id,
        roomId: flashSaleSlots.roomId,
        skuId: flashSaleSlots.skuId,
        status: flashSaleSlots.status,
      })
      .from(flashSaleSlots)
      .where(inArray(flashSaleSlots.id, slotIds))
      .orderBy(asc(flashSaleSlots.id))
      .for('no key update');
    const released = await tx
      .update(flashSaleReservations)
      .set({ status: 'released', releasedAt: this.p.clock.now(), releaseReason: reason })
      .where(
        and(
          inArray(
            flashSaleReservations.id,
            which.map((w) => w.id),
          ),
          eq(flashSaleReservations.status, from),
          ...(condition ? [condition] : []),
        ),
      )
      .returning({
        slotId: flashSaleReservations.slotId,
        buyerAccountId: flashSaleReservations.buyerAccountId,
        quantity: flashSaleReservations.quantity,
        bucket: flashSaleReservations.bucket,
      });
    if (released.length === 0) return [];
    const slotById = new Map(slots.map((s) => [s.id, s]));
    await this.giveBack(tx, released, slotById);
    return released.map((r) => ({ ...r, roomId: slotById.get(r.slotId)!.roomId }));
  }

  /** Buyers' counts go down; units go to their bucket while the slot sells, else to the SKU. */
  private async giveBack(
    tx: Tx,
    released: { slotId: string; buyerAccountId: string; quantity: number; bucket: number }[],
    slots: Map<string, { id: string; skuId: string; status: string }>,
  ) {
    const perBuyer = new Map<string, { s: string; b: string; q: number }>();
    const perBucket = new Map<string, { s: string; bk: number; q: number }>();
    const perEndedSlot = new Map<string, number>();
    for (const r of released) {
      const bk = `${r.slotId}\n${r.buyerAccountId}`;
      const cur = perBuyer.get(bk) ?? { s: r.slotId, b: r.buyerAccountId, q: 0 };
      cur.q += r.quantity;
      perBuyer.set(bk, cur);
      if (slots.get(r.slotId)!.status === 'ended') {
        perEndedSlot.set(r.slotId, (perEndedSlot.get(r.slotId) ?? 0) + r.quantity);
      } else {
        const key = `${r.slotId}\n${r.bucket}`;
        const b = perBucket.get(key) ?? { s: r.slotId, bk: r.bucket, q: 0 };
        b.q += r.quantity;
        perBucket.set(key, b);
      }
    }
    const buyersJson = JSON.stringify([...perBuyer.values()]);
    // Buyer rows locked in (slot, buyer) order, as purchase batches lock them, before the update.
    await tx.execute(sql`
      select 1 from ${flashSaleBuyers} fb
      join jsonb_to_recordset(${buyersJson}::jsonb) as x(s text, b text) on fb.slot_id = x.s and fb.buyer_account_id = x.b
      order by fb.slot_id, fb.buyer_account_id for update of fb`);
    await tx.execute(sql`
      update ${flashSaleBuyers} fb set units = fb.units - x.q
      from jsonb_to_recordset(${buyersJson}::jsonb) as x(s text, b text, q int)
      where fb.slot_id = x.s and fb.buyer_account_id = x.b`);
    if (perBucket.size > 0) {
      await tx.execute(sql`
        update ${flashSaleBuckets} fb set remaining = fb.remaining + x.q
        from jsonb_to_recordset(${JSON.stringify([...perBucket.values()])}::jsonb) as x(s text, bk int, q int)
        where fb.slot_id = x.s and fb.bucket = x.bk`);
      const reopened = [...new Set([...perBucket.values()].map((b) => b.s))];
      await tx
        .update(flashSaleSlots)
        .set({ soldOutAt: null })
        .where(and(inArray(flashSaleSlots.id, reopened), sql`${flashSaleSlots.soldOutAt} is not null`));
      for (const id of reopened) {
        const lane = this.lanes.get(id);
        if (lane) lane.maybeSoldOut = false;
      }
    }
    const ended = [...perEndedSlot.entries()].sort((a, b) =>
      slots.get(a[0])!.skuId < slots.get(b[0])!.skuId ? -1 : 1,
    );
    for (const [slotId, units] of ended) {
      await tx
        .update(flashSaleSlots)
        .set({ returnedUnits: sql`${flashSaleSlots.returnedUnits} + ${units}` })
        .where(eq(flashSaleSlots.id, slotId));
      await this.deps.catalog.returnStock(tx, slots.get(slotId)!.skuId, units);
    }
  }

  // --- lifecycle ------------------------------------------------------------------------------

  private track<T>(work: Promise<T>): void {
    const p = work.catch((err) => this.p.log.warn({ err }, 'flash-sale follow-up failed'));
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** Waits for queued purchases and follow-ups (sold-out checks, openings) to finish. */
  async settle(): Promise<void> {
    while (this.background.size > 0 || [...this.lanes.values()].some((l) => l.commits.pending > 0)) {
      await Promise.all([...this.lanes.values()].map((l) => l.commits.idle()));
      await Promise.all([...this.background]);
    }
  }
}

function keyReused() {
  return new AppError(
    'IDEMPOTENCY_KEY_REUSED',
    'This Idempotency-Key was already used for a different request; use a new key for a new request.',
  );
}

/** About 50 units a bucket, 1 to 32 buckets: enough rows that concurrent batches rarely meet. */
export function defaultBucketCount(quantity: number): number {
  return Math.max(1, Math.min(32, Math.ceil(quantity / 50)));
}

/** `total` over `parts` as evenly as possible (the first ones take the remainder). */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}
