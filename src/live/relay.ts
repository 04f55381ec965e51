import type { VenueService } from '../modules/venues/service.js';
import type { Bus } from '../platform/bus.js';
import type { Tx } from '../platform/db.js';
import type { DomainEvent, OutboxDispatcher } from '../platform/outbox.js';

type RoomNews = { roomId: string; type: string; data: Record<string, unknown> };
type Mapper = (e: DomainEvent<any>, tx: Tx) => Promise<RoomNews[]> | RoomNews[];

/**
 * Facts committed through the outbox become room events on the bus: whichever node handles
 * the outbox row publishes, every node's viewers receive. One subscription for all topics, so
 * a room's events are published in commit (outbox id) order. Events stay thin (ids and the
 * changed values). Other modules announce room news as outbox events `room.<type>` with a
 * `roomId` in the payload (a flash sale opening, a coupon drop, a red-envelope rain); the message id is the outbox event's, so a redelivered row publishes once.
 */
export function relayRoomEvents(outbox: OutboxDispatcher, bus: Bus, venues: VenueService): void {
  const mappers = new Map<string, Mapper>();
  for (const status of ['live', 'ended'] as const) {
    mappers.set(`live_room.${status}`, (e) => [
      { roomId: e.payload.roomId, type: 'status', data: { status } },
    ]);
  }
  mappers.set('live_room.pinned', async (e, tx) => {
    const item = e.payload.itemId ? await venues.pinnedItem(tx, e.payload.itemId) : null;
    return [
      {
        roomId: e.payload.roomId,
        type: 'pinned',
        data: item ?? { itemId: null, productId: null, skuIds: [] },
      },
    ];
  });
  for (const change of ['added', 'removed'] as const) {
    mappers.set(`live_room.cart_item_${change}`, (e) => [
      { roomId: e.payload.roomId, type: 'cart', data: { itemId: e.payload.itemId, change } },
    ]);
  }
  mappers.set('sku.price_changed', async (e, tx) => {
    const rooms = await venues.liveRoomsCarrying(tx, e.payload.productId);
    const { skuId, productId, priceFen } = e.payload;
    return rooms.map((roomId) => ({ roomId, type: 'price', data: { skuId, productId, priceFen } }));
  });

  outbox.subscribe('live.room-relay', '*', async (e, tx) => {
    // Stock moves with every order from a room: a signal, read back and coalesced per tick.
    if ((e.topic === 'order.created' || e.topic === 'order.paid') && e.payload.venueType === 'live_room') {
      bus.publishSignal('stock', { roomId: e.payload.venueId });
      return;
    }
    // Modules announce room news directly as `room.<type>` events whose payload holds roomId.
    if (e.topic.startsWith('room.')) {
      const { roomId, ...data } = e.payload as { roomId: string };
      await bus.publishRoom(roomId, e.topic.slice('room.'.length), data, `${e.id}:${roomId}`);
      return;
    }
    const map = mappers.get(e.topic);
    if (!map) return;
    for (const n of await map(e, tx)) await bus.publishRoom(n.roomId, n.type, n.data, `${e.id}:${n.roomId}`);
  });
}
