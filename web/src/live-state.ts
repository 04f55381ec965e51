import type { CartItem, Coupon, FlashSale, LiveRoom, Rain } from './api.js';
import type { ChannelItem } from './live-channel.js';

/**
 * The live room as the page shows it, kept by one reducer from the channel's items (snapshot,
 * events, counters, errors) and the REST reads they call for. Pure: side effects (reading the
 * room again, the promotions once a snapshot arrives) are asked for by bumping counters that
 * the page's effects watch.
 */

/** At most this many comments are kept; older ones scroll away. */
export const MAX_COMMENTS = 100;

export interface RoomComment {
  key: string;
  nickname: string;
  text: string;
}

export interface CouponDrop {
  couponId: string;
  title: string;
  amountOffFen: number;
  minSpendFen: number;
  remaining: number;
}

export interface RainNow {
  rainId: string;
  count: number;
  budgetFen: number;
  endsAt: string;
  ended: boolean;
}

export interface ChannelError {
  code: string;
  message: string;
  /** Distinguishes two equal refusals in a row (each is shown afresh). */
  seq: number;
}

export interface LiveState {
  room: LiveRoom | null;
  viewers: number | null;
  likes: number | null;
  comments: RoomComment[];
  flash: FlashSale[];
  coupons: CouponDrop[];
  dismissedCoupons: string[];
  rain: RainNow | null;
  endedRains: string[];
  error: ChannelError | null;
  authenticated: boolean;
  /** Bumped when the room must be read again over REST (a cart change, an unknown pinned item). */
  refetch: number;
  /** Bumped on every snapshot: the room's flash sales, rains and coupons are read over REST. */
  promotionsRefetch: number;
  /** Items applied while a REST read of the room is in flight, re-applied on its answer. */
  sinceFetch: ChannelItem[] | null;
}

export type LiveAction =
  | { type: 'items'; items: ChannelItem[] }
  | { type: 'connected' }
  | { type: 'fetchStart' }
  | { type: 'fetched'; room: LiveRoom }
  | { type: 'refresh' }
  | { type: 'promotions'; flash?: FlashSale[]; rains?: Rain[]; coupons?: Coupon[]; now: number }
  | { type: 'dismissCoupon'; couponId: string }
  | { type: 'clearError' };

export const initialLiveState = (): LiveState => ({
  room: null,
  viewers: null,
  likes: null,
  comments: [],
  flash: [],
  coupons: [],
  dismissedCoupons: [],
  rain: null,
  endedRains: [],
  error: null,
  authenticated: false,
  refetch: 1,
  promotionsRefetch: 0,
  sinceFetch: null,
});

/** Items that change the room itself: re-applied over a REST answer read before they arrived. */
const ROOM_PATCHES = new Set(['snapshot', 'pinned', 'price', 'status', 'counters']);

export function liveReducer(state: LiveState, action: LiveAction): LiveState {
  switch (action.type) {
    case 'items': {
      let s = state;
      for (const item of action.items) s = applyItem(s, item);
      return s;
    }
    case 'connected':
      return { ...state, authenticated: false };
    case 'fetchStart':
      return { ...state, sinceFetch: [] };
    case 'fetched': {
      const since = state.sinceFetch ?? [];
      // A snapshot that came meanwhile is at least as new as this answer.
      if (state.room && since.some((i) => i.type === 'snapshot')) return { ...state, sinceFetch: null };
      let room = action.room;
      for (const item of since) room = patchRoom(room, item).room;
      return { ...state, room, sinceFetch: null };
    }
    case 'refresh':
      return { ...state, refetch: state.refetch + 1 };
    case 'promotions':
      return mergePromotions(state, action);
    case 'dismissCoupon':
      return {
        ...state,
        coupons: state.coupons.filter((c) => c.couponId !== action.couponId),
        dismissedCoupons: [...state.dismissedCoupons.slice(-50), action.couponId],
      };
    case 'clearError':
      return state.error ? { ...state, error: null } : state;
  }
}

function applyItem(state: LiveState, item: ChannelItem): LiveState {
  const d = (item.data ?? {}) as Record<string, any>;
  let s = state;
  if (ROOM_PATCHES.has(item.type) && s.sinceFetch) s = { ...s, sinceFetch: [...s.sinceFetch, item] };
  switch (item.type) {
    case 'snapshot': {
      const { likes, viewers, ...room } = d;
      return {
        ...s,
        room: room as LiveRoom,
        likes: typeof likes === 'number' ? likes : s.likes,
        viewers: typeof viewers === 'number' ? viewers : s.viewers,
        promotionsRefetch: s.promotionsRefetch + 1,
      };
    }
    case 'pinned':
    case 'price':
    case 'status': {
      if (!s.room) return { ...s, refetch: s.refetch + 1 };
      const patched = patchRoom(s.room, item);
      return { ...s, room: patched.room, refetch: s.refetch + (patched.refetch ? 1 : 0) };
    }
    case 'counters': {
      const next: LiveState = {
        ...s,
        viewers: typeof d.viewers === 'number' ? d.viewers : s.viewers,
        likes: typeof d.likes === 'number' ? d.likes : s.likes,
        room: s.room ? patchRoom(s.room, item).room : s.room,
      };
      const flash = d.flash as Record<string, number> | undefined;
      if (flash && typeof flash === 'object') {
        next.flash = s.flash.map((f) =>
          typeof flash[f.id] === 'number' ? { ...f, remaining: flash[f.id]!, soldOut: flash[f.id]! <= 0 } : f,
        );
      }
      return next;
    }
    case 'cart':
      return { ...s, refetch: s.refetch + 1 };
    case 'comment': {
      if (typeof d.text !== 'string') return s;
      const key = typeof item.id === 'number' ? `c${item.id}` : `l${s.comments.length}-${Date.now()}`;
      if (s.comments.some((c) => c.key === key)) return s;
      const comment = { key, nickname: String(d.nickname ?? ''), text: d.text };
      return { ...s, comments: [...s.comments, comment].slice(-MAX_COMMENTS) };
    }
    case 'authenticated':
      return { ...s, authenticated: true };
    case 'error':
      return {
        ...s,
        error: {
          code: String(d.code ?? 'ERROR'),
          message: String(d.message ?? ''),
          seq: (s.error?.seq ?? 0) + 1,
        },
      };
    case 'flash_sale_scheduled': {
      const slot: FlashSale = {
        id: String(d.slotId),
        roomId: s.room?.id ?? '',
        cartItemId: '',
        productId: String(d.productId ?? ''),
        skuId: String(d.skuId ?? ''),
        priceFen: Number(d.priceFen),
        listPriceFen: Number(d.listPriceFen ?? d.priceFen),
        quantity: Number(d.quantity),
        perBuyerLimit: Number(d.perBuyerLimit ?? 1),
        startsAt: String(d.startsAt),
        endsAt: String(d.endsAt),
        status: 'scheduled',
        remaining: Number(d.quantity),
        soldOut: false,
      };
      return { ...s, flash: upsertSlot(s.flash, slot, (old) => ({ ...slot, remaining: old.remaining })) };
    }
    case 'flash_sale_open':
      return {
        ...s,
        flash: s.flash.map((f) =>
          f.id === d.slotId ? { ...f, status: 'open', endsAt: String(d.endsAt ?? f.endsAt) } : f,
        ),
      };
    case 'flash_sale_sold_out':
      return {
        ...s,
        flash: s.flash.map((f) => (f.id === d.slotId ? { ...f, remaining: 0, soldOut: true } : f)),
      };
    case 'flash_sale_ended':
      return { ...s, flash: s.flash.filter((f) => f.id !== d.slotId) };
    case 'coupon_dropped': {
      const drop: CouponDrop = {
        couponId: String(d.couponId),
        title: String(d.title ?? ''),
        amountOffFen: Number(d.amountOffFen),
        minSpendFen: Number(d.minSpendFen),
        remaining: Number(d.remaining),
      };
      // Dropped again: the host reminds the room, so it shows again even if dismissed.
      return {
        ...s,
        coupons: [drop, ...s.coupons.filter((c) => c.couponId !== drop.couponId)].slice(0, 3),
        dismissedCoupons: s.dismissedCoupons.filter((id) => id !== drop.couponId),
      };
    }
    case 'rain_started':
      if (s.endedRains.includes(String(d.rainId))) return s;
      return {
        ...s,
        rain: {
          rainId: String(d.rainId),
          count: Number(d.count),
          budgetFen: Number(d.budgetFen),
          endsAt: String(d.endsAt),
          ended: false,
        },
      };
    case 'rain_ended': {
      const rainId = String(d.rainId);
      return {
        ...s,
        endedRains: [...s.endedRains.slice(-20), rainId],
        rain: s.rain?.rainId === rainId ? { ...s.rain, ended: true } : s.rain,
      };
    }
    default:
      return s;
  }
}

/** A room item applied to the room; `refetch` when the room must be read again to apply it. */
function patchRoom(room: LiveRoom, item: ChannelItem): { room: LiveRoom; refetch: boolean } {
  const d = (item.data ?? {}) as Record<string, any>;
  switch (item.type) {
    case 'snapshot': {
      const { likes: _likes, viewers: _viewers, ...next } = d;
      return { room: next as LiveRoom, refetch: false };
    }
    case 'pinned': {
      if (d.itemId === null || d.itemId === undefined)
        return { room: { ...room, pinned: null }, refetch: false };
      const item = room.cart.find((c) => c.itemId === d.itemId);
      if (!item) return { room, refetch: true };
      return { room: { ...room, pinned: item }, refetch: false };
    }
    case 'price':
      return {
        room: mapSkus(room, (sku) => (sku.id === d.skuId ? { ...sku, priceFen: Number(d.priceFen) } : sku)),
        refetch: false,
      };
    case 'status':
      return typeof d.status === 'string'
        ? { room: { ...room, status: d.status as LiveRoom['status'] }, refetch: false }
        : { room, refetch: false };
    case 'counters': {
      const stock = d.stock as Record<string, number> | undefined;
      if (!stock || typeof stock !== 'object' || Object.keys(stock).length === 0)
        return { room, refetch: false };
      return {
        room: mapSkus(room, (sku) =>
          typeof stock[sku.id] === 'number' && stock[sku.id] !== sku.stock
            ? { ...sku, stock: stock[sku.id]! }
            : sku,
        ),
        refetch: false,
      };
    }
    default:
      return { room, refetch: false };
  }
}

/** Changes SKUs in the cart and the pinned card alike; untouched items keep their identity. */
function mapSkus(room: LiveRoom, fn: (sku: CartItem['skus'][number]) => CartItem['skus'][number]): LiveRoom {
  const mapItem = (item: CartItem): CartItem => {
    const skus = item.skus.map(fn);
    return skus.every((s, i) => s === item.skus[i]) ? item : { ...item, skus };
  };
  const cart = room.cart.map(mapItem);
  const pinned = room.pinned
    ? (cart.find((c) => c.itemId === room.pinned!.itemId) ?? mapItem(room.pinned))
    : null;
  return { ...room, cart, pinned };
}

const STATUS_ORDER: Record<FlashSale['status'], number> = { scheduled: 0, open: 1, ended: 2 };

function upsertSlot(list: FlashSale[], slot: FlashSale, merge: (old: FlashSale) => FlashSale): FlashSale[] {
  const old = list.find((f) => f.id === slot.id);
  const next = old ? list.map((f) => (f.id === slot.id ? merge(f) : f)) : [...list, slot];
  return next.sort((a, b) => a.startsAt.localeCompare(b.startsAt) || a.id.localeCompare(b.id));
}

/** The REST reads after a snapshot, merged with whatever the channel said meanwhile. */
function mergePromotions(state: LiveState, a: Extract<LiveAction, { type: 'promotions' }>): LiveState {
  let s = state;
  if (a.flash) {
    let flash = s.flash;
    for (const slot of a.flash) {
      if (slot.status === 'ended') {
        flash = flash.filter((f) => f.id !== slot.id);
        continue;
      }
      flash = upsertSlot(flash, slot, (old) =>
        STATUS_ORDER[old.status] > STATUS_ORDER[slot.status] ? { ...slot, status: old.status } : slot,
      );
    }
    s = { ...s, flash };
  }
  if (a.rains && !s.rain) {
    const open = a.rains.find(
      (r) => r.status === 'open' && Date.parse(r.endsAt) > a.now && !s.endedRains.includes(r.id),
    );
    if (open) {
      s = {
        ...s,
        rain: {
          rainId: open.id,
          count: open.count,
          budgetFen: open.budgetFen,
          endsAt: open.endsAt,
          ended: false,
        },
      };
    }
  }
  if (a.coupons) {
    const known = new Set([...s.coupons.map((c) => c.couponId), ...s.dismissedCoupons]);
    const fresh = a.coupons
      .filter((c) => !known.has(c.id))
      .map((c) => ({
        couponId: c.id,
        title: c.title,
        amountOffFen: c.amountOffFen,
        minSpendFen: c.minSpendFen,
        remaining: c.remaining,
      }));
    if (fresh.length > 0) s = { ...s, coupons: [...s.coupons, ...fresh].slice(0, 3) };
  }
  return s;
}
