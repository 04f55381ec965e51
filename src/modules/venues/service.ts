import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { batchedReads, loadAll } from '../../platform/batched-reads.js';
import type { Platform } from '../../platform/context.js';
import { type Executor, inJson, jsonList, prebuilt, type Tx } from '../../platform/db.js';
import { AppError, invalidState, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { DomainEvent } from '../../platform/outbox.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import { products, shops, skus } from '../catalog/schema.js';
import type { CatalogService } from '../catalog/service.js';
import type { CreatorService } from '../creators/service.js';
import type { VenueType } from '../orders/schema.js';
import { assertNoExternalLinks } from './guard.js';
import { liveRoomItems, liveRooms, videos } from './schema.js';

const PRODUCT_ID = /^prd_[0-9a-z]{26}$/;

export interface Attribution {
  venueType: VenueType;
  venueId: string | null;
  creatorAccountId: string | null;
}

/**
 * Rooms with those of the SKUs their carts offer (a row per room and offered SKU, or one with
 * no SKU): only cart items whose product has one of the SKUs are joined.
 */
const selectRoomOffers = prebuilt((ex) =>
  ex
    .select({
      roomId: liveRooms.id,
      status: liveRooms.status,
      creatorAccountId: liveRooms.creatorAccountId,
      skuId: skus.id,
    })
    .from(liveRooms)
    .leftJoin(
      liveRoomItems,
      and(
        eq(liveRoomItems.roomId, liveRooms.id),
        isNull(liveRoomItems.removedAt),
        sql`${liveRoomItems.productId} in (select ${skus.productId} from ${skus} where ${inJson(skus.id, sql.placeholder('skus'))})`,
      ),
    )
    .leftJoin(
      skus,
      and(eq(skus.productId, liveRoomItems.productId), inJson(skus.id, sql.placeholder('skus'))),
    )
    .where(inJson(liveRooms.id, sql.placeholder('rooms'))),
);

export class VenueService {
  /**
   * Whether live rooms offer SKUs, for concurrent checkouts in one query: the room's status and
   * creator, and whether the SKU's product is in its cart (null: no such room).
   */
  private readonly roomOffers = batchedReads(async (keys: readonly { roomId: string; skuId: string }[]) => {
    const rows = await selectRoomOffers(this.p.db, {
      rooms: jsonList([...new Set(keys.map((k) => k.roomId))]),
      skus: jsonList([...new Set(keys.map((k) => k.skuId))]),
    });
    const rooms = new Map(rows.map((r) => [r.roomId, r]));
    const offered = new Set(rows.filter((r) => r.skuId).map((r) => `${r.roomId}|${r.skuId}`));
    return keys.map(({ roomId, skuId }) => {
      const room = rooms.get(roomId);
      return room
        ? {
            status: room.status,
            creatorAccountId: room.creatorAccountId,
            offered: offered.has(`${roomId}|${skuId}`),
          }
        : null;
    });
  });

  constructor(
    private readonly p: Platform,
    private readonly catalog: CatalogService,
    private readonly creators: CreatorService,
  ) {}

  /** A product reference from a venue input: an external link is refused before the id format. */
  private async sellableProductRef(field: string, ref: string) {
    assertNoExternalLinks({ [field]: ref });
    if (!PRODUCT_ID.test(ref)) {
      throw new AppError('VALIDATION_FAILED', `${field}: must be a Livecart product id like prd_01…`);
    }
    const prod = await this.catalog.getProductWithSkus(ref);
    if (!(await this.catalog.isSellable(prod))) {
      throw new AppError(
        'PRODUCT_NOT_SELLABLE',
        `Product ${ref} is not approved for sale (or its shop is not active).`,
      );
    }
    return prod;
  }

  async createLiveRoom(
    creatorId: string,
    input: { title: string; description: string; scheduledAt?: Date | undefined },
  ) {
    assertNoExternalLinks({ 'live-room title': input.title, 'live-room description': input.description });
    await this.creators.getProfile(creatorId);
    const id = newId('liveRoom');
    const now = this.p.clock.now();
    await inTransaction(this.p.db, async (tx) => {
      await tx.insert(liveRooms).values({
        id,
        creatorAccountId: creatorId,
        title: input.title,
        description: input.description,
        status: 'scheduled',
        scheduledAt: input.scheduledAt ?? now,
        createdAt: now,
      });
      await recordEvent(tx, this.p.clock, 'live_room.scheduled', id, {
        roomId: id,
        creatorAccountId: creatorId,
      });
    });
    return this.getOwnRoom(creatorId, id);
  }

  async updateLiveRoom(
    creatorId: string,
    roomId: string,
    input: { title?: string | undefined; description?: string | undefined },
  ) {
    assertNoExternalLinks({ 'live-room title': input.title, 'live-room description': input.description });
    const room = await this.getOwnRoom(creatorId, roomId);
    if (room.status === 'ended') throw invalidState('An ended live room cannot be edited.');
    await this.p.db
      .update(liveRooms)
      .set({
        ...(input.title ? { title: input.title } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
      })
      .where(eq(liveRooms.id, roomId));
    return this.getOwnRoom(creatorId, roomId);
  }

  async getOwnRoom(creatorId: string, roomId: string, ex: Executor = this.p.db) {
    const [room] = await ex
      .select()
      .from(liveRooms)
      .where(and(eq(liveRooms.id, roomId), eq(liveRooms.creatorAccountId, creatorId)));
    if (!room) throw notFound('LIVE_ROOM_NOT_FOUND', 'Live room', roomId);
    return room;
  }

  listOwnRooms(creatorId: string) {
    return this.p.db
      .select()
      .from(liveRooms)
      .where(eq(liveRooms.creatorAccountId, creatorId))
      .orderBy(desc(liveRooms.id))
      .limit(100);
  }

  /** scheduled → live → ended, each one conditional statement so racing calls cannot skip a state. */
  async transitionLiveRoom(creatorId: string, roomId: string, to: 'live' | 'ended') {
    const from = to === 'live' ? 'scheduled' : 'live';
    const now = this.p.clock.now();
    return inTransaction(this.p.db, async (tx) => {
      const [row] = await tx
        .update(liveRooms)
        .set(
          to === 'live'
            ? { status: 'live', startedAt: now }
            : { status: 'ended', endedAt: now, pinnedItemId: null },
        )
        .where(
          and(
            eq(liveRooms.id, roomId),
            eq(liveRooms.creatorAccountId, creatorId),
            eq(liveRooms.status, from),
          ),
        )
        .returning();
      if (!row) {
        const room = await this.getOwnRoom(creatorId, roomId, tx);
        throw invalidState(`Live room ${roomId} is ${room.status}; it can go ${to} only from ${from}.`);
      }
      await recordEvent(tx, this.p.clock, `live_room.${to}`, roomId, { roomId });
      return row;
    });
  }

  async addCartItem(creatorId: string, roomId: string, productRef: string) {
    const room = await this.getOwnRoom(creatorId, roomId);
    const prod = await this.sellableProductRef('cart productId', productRef);
    await this.creators.assertCanShareProducts(creatorId);
    if (room.status === 'ended') throw invalidState('An ended live room has no cart.');
    return inTransaction(this.p.db, async (tx) => {
      const [{ next } = { next: 1 }] = await tx
        .select({ next: sql<number>`coalesce(max(${liveRoomItems.position}), 0)::int + 1` })
        .from(liveRoomItems)
        .where(eq(liveRoomItems.roomId, roomId));
      const [item] = await tx
        .insert(liveRoomItems)
        .values({
          id: newId('cartItem'),
          roomId,
          productId: prod.id,
          shopId: prod.shopId,
          position: next,
          addedAt: this.p.clock.now(),
        })
        .onConflictDoNothing()
        .returning();
      if (!item) throw invalidState(`Product ${prod.id} is already in this live room's cart.`);
      await recordEvent(tx, this.p.clock, 'live_room.cart_item_added', roomId, {
        roomId,
        itemId: item.id,
        productId: prod.id,
      });
      return item;
    });
  }

  async removeCartItem(creatorId: string, roomId: string, itemId: string) {
    await this.getOwnRoom(creatorId, roomId);
    return inTransaction(this.p.db, async (tx) => {
      const [item] = await tx
        .update(liveRoomItems)
        .set({ removedAt: this.p.clock.now() })
        .where(
          and(
            eq(liveRoomItems.id, itemId),
            eq(liveRoomItems.roomId, roomId),
            isNull(liveRoomItems.removedAt),
          ),
        )
        .returning();
      if (!item) throw notFound('NOT_FOUND', 'Cart item', itemId);
      await tx
        .update(liveRooms)
        .set({ pinnedItemId: null })
        .where(and(eq(liveRooms.id, roomId), eq(liveRooms.pinnedItemId, itemId)));
      await recordEvent(tx, this.p.clock, 'live_room.cart_item_removed', roomId, { roomId, itemId });
    });
  }

  /** Pins one cart item (讲解中); pinning another replaces it. */
  async pinCartItem(creatorId: string, roomId: string, itemId: string | null) {
    const room = await this.getOwnRoom(creatorId, roomId);
    if (room.status === 'ended') throw invalidState('An ended live room cannot pin products.');
    return inTransaction(this.p.db, async (tx) => {
      if (itemId) {
        const [item] = await tx
          .select()
          .from(liveRoomItems)
          .where(
            and(
              eq(liveRoomItems.id, itemId),
              eq(liveRoomItems.roomId, roomId),
              isNull(liveRoomItems.removedAt),
            ),
          );
        if (!item) throw notFound('NOT_FOUND', 'Cart item', itemId);
      }
      await tx.update(liveRooms).set({ pinnedItemId: itemId }).where(eq(liveRooms.id, roomId));
      await recordEvent(tx, this.p.clock, 'live_room.pinned', roomId, { roomId, itemId });
      return { roomId, pinnedItemId: itemId };
    });
  }

  /** What a viewer sees: the room, its cart with prices and stock, and the pinned item. */
  async getRoomForViewer(roomId: string) {
    const [room] = await this.p.db.select().from(liveRooms).where(eq(liveRooms.id, roomId));
    if (!room) throw notFound('LIVE_ROOM_NOT_FOUND', 'Live room', roomId);
    const items = await this.p.db
      .select({
        itemId: liveRoomItems.id,
        position: liveRoomItems.position,
        productId: products.id,
        shopId: products.shopId,
        shopName: shops.name,
        title: products.title,
        description: products.description,
        imageUrl: products.imageUrl,
      })
      .from(liveRoomItems)
      .innerJoin(products, eq(products.id, liveRoomItems.productId))
      .innerJoin(shops, eq(shops.id, products.shopId))
      .where(
        and(
          eq(liveRoomItems.roomId, roomId),
          isNull(liveRoomItems.removedAt),
          eq(products.reviewStatus, 'approved'),
          eq(products.listed, 'listed'),
          eq(shops.status, 'active'),
        ),
      )
      .orderBy(asc(liveRoomItems.position));
    const skuRows = items.length
      ? await this.p.db
          .select({
            id: skus.id,
            productId: skus.productId,
            name: skus.name,
            priceFen: skus.priceFen,
            stock: skus.stock,
          })
          .from(skus)
          .where(
            inArray(
              skus.productId,
              items.map((i) => i.productId),
            ),
          )
          .orderBy(asc(skus.id))
      : [];
    const cart = items.map((i) => ({ ...i, skus: skuRows.filter((s) => s.productId === i.productId) }));
    const {
      creatorAccountId,
      title,
      description,
      status,
      scheduledAt,
      startedAt,
      endedAt,
      pinnedItemId,
      paidOrders,
    } = room;
    const creator = await this.creators.getProfile(creatorAccountId);
    return {
      id: room.id,
      title,
      description,
      status,
      scheduledAt,
      startedAt,
      endedAt,
      paidOrders,
      creator: { accountId: creatorAccountId, nickname: creator.nickname },
      pinned: cart.find((c) => c.itemId === pinnedItemId) ?? null,
      cart,
    };
  }

  /** What the live channel shows first: the room, its likes, and the pinned product's SKUs. */
  async liveSnapshot(roomId: string) {
    const room = await this.getRoomForViewer(roomId);
    const [row] = await this.p.db
      .select({ likes: liveRooms.likes })
      .from(liveRooms)
      .where(eq(liveRooms.id, roomId));
    return { room, likes: row?.likes ?? 0, pinnedSkuIds: room.pinned?.skus.map((s) => s.id) ?? [] };
  }

  async addLikes(roomId: string, delta: number) {
    await this.p.db
      .update(liveRooms)
      .set({ likes: sql`${liveRooms.likes} + ${delta}` })
      .where(eq(liveRooms.id, roomId));
  }

  /** The pinned item's product and SKUs, for the channel's `pinned` event. */
  async pinnedItem(ex: Executor, itemId: string) {
    const [item] = await ex.select().from(liveRoomItems).where(eq(liveRoomItems.id, itemId));
    if (!item) return null;
    const rows = await ex.select({ id: skus.id }).from(skus).where(eq(skus.productId, item.productId));
    return { itemId, productId: item.productId, skuIds: rows.map((r) => r.id).sort() };
  }

  /** Live rooms whose cart holds the product (a price change is news there). */
  async liveRoomsCarrying(ex: Executor, productId: string): Promise<string[]> {
    const rows = await ex
      .select({ roomId: liveRoomItems.roomId })
      .from(liveRoomItems)
      .innerJoin(liveRooms, eq(liveRooms.id, liveRoomItems.roomId))
      .where(
        and(
          eq(liveRoomItems.productId, productId),
          isNull(liveRoomItems.removedAt),
          eq(liveRooms.status, 'live'),
        ),
      );
    return rows.map((r) => r.roomId);
  }

  listLiveNow() {
    return this.p.db
      .select({
        id: liveRooms.id,
        title: liveRooms.title,
        creatorAccountId: liveRooms.creatorAccountId,
        startedAt: liveRooms.startedAt,
      })
      .from(liveRooms)
      .where(eq(liveRooms.status, 'live'))
      .orderBy(desc(liveRooms.startedAt))
      .limit(50);
  }

  async createVideo(
    creatorId: string,
    input: { title: string; description: string; anchor?: { productId: string; title: string } | undefined },
  ) {
    assertNoExternalLinks({
      'video title': input.title,
      'video description': input.description,
      'anchor title': input.anchor?.title,
    });
    await this.creators.getProfile(creatorId);
    let anchor: { productId: string; shopId: string; title: string } | null = null;
    if (input.anchor) {
      const prod = await this.sellableProductRef('anchor productId', input.anchor.productId);
      await this.creators.assertCanShareProducts(creatorId);
      anchor = { productId: prod.id, shopId: prod.shopId, title: input.anchor.title };
    }
    const id = newId('video');
    await inTransaction(this.p.db, async (tx) => {
      await tx.insert(videos).values({
        id,
        creatorAccountId: creatorId,
        title: input.title,
        description: input.description,
        anchorProductId: anchor?.productId ?? null,
        anchorShopId: anchor?.shopId ?? null,
        anchorTitle: anchor?.title ?? null,
        createdAt: this.p.clock.now(),
      });
      await recordEvent(tx, this.p.clock, 'video.published', id, {
        videoId: id,
        creatorAccountId: creatorId,
      });
    });
    return this.getVideo(id);
  }

  async getVideo(videoId: string) {
    const [v] = await this.p.db.select().from(videos).where(eq(videos.id, videoId));
    if (!v) throw notFound('VIDEO_NOT_FOUND', 'Video', videoId);
    return v;
  }

  /**
   * Checks that the venue offers every SKU and returns the attribution the order snapshots.
   * A live room sells only while live and only what is in its cart; a video only its anchor.
   */
  async attributionFor(
    venue: { type: VenueType; id?: string | undefined },
    skuIds: string[],
  ): Promise<Attribution> {
    if (venue.type === 'search') return { venueType: 'search', venueId: null, creatorAccountId: null };
    if (!venue.id)
      throw new AppError('VALIDATION_FAILED', `body.venue.id: required for venue type ${venue.type}`);
    const notSold = (what: string, missing: string[]) =>
      new AppError('VENUE_NOT_SELLING', `${what} does not sell ${missing.join(', ')}.`, { missing });
    if (venue.type === 'live_room') {
      const roomId = venue.id;
      const offers = await loadAll(
        this.roomOffers,
        skuIds.map((skuId) => ({ roomId, skuId })),
      );
      const room = offers[0];
      if (!room) throw notFound('LIVE_ROOM_NOT_FOUND', 'Live room', venue.id);
      if (room.status !== 'live') {
        throw new AppError('VENUE_NOT_SELLING', `Live room ${venue.id} is ${room.status}, not live.`);
      }
      const missing = skuIds.filter((_, i) => !offers[i]!.offered);
      if (missing.length) throw notSold(`Live room ${venue.id}`, missing);
      return { venueType: 'live_room', venueId: venue.id, creatorAccountId: room.creatorAccountId };
    }
    if (venue.type === 'video') {
      const v = await this.getVideo(venue.id);
      const anchored = v.anchorProductId
        ? await this.p.db
            .select({ id: skus.id })
            .from(skus)
            .where(and(eq(skus.productId, v.anchorProductId), inArray(skus.id, skuIds)))
        : [];
      const missing = skuIds.filter((id) => !anchored.some((a) => a.id === id));
      if (missing.length) throw notSold(`Video ${venue.id}`, missing);
      return { venueType: 'video', venueId: v.id, creatorAccountId: v.creatorAccountId };
    }
    throw new AppError('VENUE_NOT_SELLING', 'Showcase checkout arrives with creator showcases.');
  }

  /** Outbox handler for order.paid, a batch at a time: paid orders and GMV per live room, one statement. */
  async onOrdersPaid(
    events: DomainEvent<{ venueType: string; venueId: string | null; totalFen: number }>[],
    tx: Tx,
  ) {
    const byRoom = new Map<string, { orders: number; fen: number }>();
    for (const { payload: p } of events) {
      if (p.venueType !== 'live_room' || !p.venueId) continue;
      const r = byRoom.get(p.venueId) ?? { orders: 0, fen: 0 };
      r.orders += 1;
      r.fen += p.totalFen;
      byRoom.set(p.venueId, r);
    }
    if (byRoom.size === 0) return;
    const ids = [...byRoom.keys()].sort();
    const col = (f: (r: { orders: number; fen: number }) => number) =>
      ids.map((id) => f(byRoom.get(id)!)).join(',');
    await tx.execute(sql`
      update ${liveRooms} set paid_orders = ${liveRooms.paidOrders} + d.orders, gmv_fen = ${liveRooms.gmvFen} + d.fen
      from unnest(string_to_array(${ids.join(',')}, ','), string_to_array(${col((r) => r.orders)}, ',')::int[],
                  string_to_array(${col((r) => r.fen)}, ',')::bigint[]) as d(id, orders, fen)
      where ${liveRooms.id} = d.id`);
  }
}
