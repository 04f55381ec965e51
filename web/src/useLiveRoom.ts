import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { ApiError, api, type Coupon, type FlashSale, type LiveRoom, type Rain } from './api.js';
import { type ChannelState, LiveChannel } from './live-channel.js';
import { initialLiveState, type LiveState, liveReducer } from './live-state.js';

/** While the channel is down, the room is read over REST this often instead. */
const FALLBACK_POLL_MS = 10_000;

/** What a test may do to the page's channel (the browser tests drop the socket with it). */
export interface ChannelTestHook {
  close(holdMs?: number): void;
  readonly lastEventId: number | null;
  readonly stats: { opens: number; resumed: number; snapshots: number };
}

declare global {
  interface Window {
    __livecartChannel?: ChannelTestHook;
  }
}

export interface LiveRoomHandle {
  state: LiveState;
  channelState: ChannelState;
  loadError: ApiError | null;
  /** Reads the room again over REST (after a purchase, or the retry button). */
  refresh(): void;
  like(): void;
  /** Sends a comment; false when the channel cannot take it now. */
  comment(text: string): boolean;
  dismissCoupon(couponId: string): void;
  clearError(): void;
}

/**
 * The live room on its channel: the snapshot, then events in order, counters, comments; REST
 * reads only where the channel says to (a cart change, a pinned item not in the cart) and for
 * the promotions a snapshot does not carry.
 */
export function useLiveRoom(roomId: string, token: string | null): LiveRoomHandle {
  const [state, dispatch] = useReducer(liveReducer, undefined, initialLiveState);
  const [channelState, setChannelState] = useState<ChannelState>('connecting');
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const channel = useRef<LiveChannel | null>(null);
  const tokenRef = useRef(token);
  tokenRef.current = token;

  useEffect(() => {
    const ch = new LiveChannel({
      roomId,
      token: tokenRef.current,
      onItems: (items) => dispatch({ type: 'items', items }),
      onState: (s) => {
        setChannelState(s);
        if (s === 'open') dispatch({ type: 'connected' });
      },
    });
    channel.current = ch;
    const hook: ChannelTestHook = {
      close: (holdMs) => ch.drop(holdMs),
      get lastEventId() {
        return ch.resumeId;
      },
      stats: ch.stats,
    };
    window.__livecartChannel = hook;
    ch.start();
    return () => {
      ch.dispose();
      if (channel.current === ch) channel.current = null;
      if (window.__livecartChannel === hook) delete window.__livecartChannel;
    };
  }, [roomId]);

  useEffect(() => {
    channel.current?.setToken(token);
  }, [token]);

  // The room over REST: first paint (and a missing room's 404), then whenever the channel asks.
  useEffect(() => {
    if (state.refetch === 0) return;
    const ctrl = new AbortController();
    dispatch({ type: 'fetchStart' });
    api<LiveRoom>('GET', `/api/live-rooms/${encodeURIComponent(roomId)}`, {
      auth: false,
      signal: ctrl.signal,
    })
      .then((room) => {
        dispatch({ type: 'fetched', room });
        setLoadError(null);
      })
      .catch((err: unknown) => {
        if ((err as Error).name === 'AbortError') return;
        setLoadError(err instanceof ApiError ? err : new ApiError(0, 'NETWORK', ''));
      });
    return () => ctrl.abort();
  }, [roomId, state.refetch]);

  // After every snapshot: the flash sales, rain and coupons of the room, which it does not carry.
  useEffect(() => {
    if (state.promotionsRefetch === 0) return;
    const ctrl = new AbortController();
    const base = `/api/live-rooms/${encodeURIComponent(roomId)}`;
    const get = <T>(url: string) =>
      api<{ items: T[] }>('GET', url, { auth: false, signal: ctrl.signal }).then(
        (r) => r.items,
        () => undefined,
      );
    void Promise.all([
      get<FlashSale>(`${base}/flash-sales`),
      get<Rain>(`${base}/rains`),
      get<Coupon>(`/api/coupons?liveRoomId=${encodeURIComponent(roomId)}`),
    ]).then(([flash, rains, coupons]) => {
      if (ctrl.signal.aborted) return;
      dispatch({
        type: 'promotions',
        now: Date.now(),
        ...(flash ? { flash } : {}),
        ...(rains ? { rains } : {}),
        ...(coupons ? { coupons } : {}),
      });
    });
    return () => ctrl.abort();
  }, [roomId, state.promotionsRefetch]);

  // The channel is down: keep the room roughly current over REST until it is back.
  const down = channelState !== 'open' && state.room !== null;
  useEffect(() => {
    if (!down) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') dispatch({ type: 'refresh' });
    }, FALLBACK_POLL_MS);
    return () => window.clearInterval(timer);
  }, [down]);

  const refresh = useCallback(() => dispatch({ type: 'refresh' }), []);
  const like = useCallback(() => channel.current?.like(1), []);
  const comment = useCallback((text: string) => channel.current?.comment(text) ?? false, []);
  const dismissCoupon = useCallback((couponId: string) => dispatch({ type: 'dismissCoupon', couponId }), []);
  const clearError = useCallback(() => dispatch({ type: 'clearError' }), []);
  return { state, channelState, loadError, refresh, like, comment, dismissCoupon, clearError };
}
