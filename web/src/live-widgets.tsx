import { type FormEvent, useEffect, useLayoutEffect, useRef, useState } from 'react';
import {
  ApiError,
  api,
  type CartItem,
  type CouponClaim,
  type FlashReservation,
  type FlashSale,
  formatFen,
  type GrabbedEnvelope,
  newIdempotencyKey,
} from './api.js';
import { errorText } from './components.js';
import { fill, type Lang, useI18n } from './i18n.js';
import type { ChannelState } from './live-channel.js';
import type { ChannelError, CouponDrop, RainNow, RoomComment } from './live-state.js';

/** The current time, ticking every `ms` while `active`. */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
  return now;
}

/** Milliseconds → "mm:ss" (or "h:mm:ss"), never negative. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

function compact(n: number, lang: Lang): string {
  if (n < 10_000) return String(n);
  return lang === 'zh' ? `${(n / 10_000).toFixed(1)}万` : `${(n / 1000).toFixed(1)}k`;
}

/** An API refusal in the page's language when we know the code, else the server's message. */
function refusalText(err: unknown, prefix: string, tx: (p: string, v: string) => string, fallback: string) {
  if (err instanceof ApiError) {
    const known = tx(prefix, err.code);
    if (known !== err.code) return known;
  }
  return errorText(err, fallback);
}

function HeartIcon() {
  return (
    <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
      <path
        fill="currentColor"
        d="M12 21s-7.5-4.6-9.6-9.1C.9 8.6 2.9 4.5 6.8 4.5c2.1 0 3.6 1.2 4.4 2.5h1.6c.8-1.3 2.3-2.5 4.4-2.5 3.9 0 5.9 4.1 4.4 7.4C19.5 16.4 12 21 12 21z"
      />
    </svg>
  );
}

/** Viewers (在线人数), likes (点赞) and the connection's state, in the room header. */
export function RoomStats(props: {
  viewers: number | null;
  likes: number | null;
  channelState: ChannelState;
}) {
  const { t, tx, lang } = useI18n();
  return (
    <div className="room-stats">
      <span className="room-stat">
        <span className="room-stat-label">{t('viewers')}</span>{' '}
        <strong data-testid="viewer-count">{props.viewers ?? '–'}</strong>
      </span>
      <span className="room-stat">
        <span className="room-stat-label">{t('likes')}</span>{' '}
        <strong data-testid="like-count">{props.likes === null ? '–' : compact(props.likes, lang)}</strong>
      </span>
      {props.channelState !== 'open' && (
        <span className={`channel-state channel-${props.channelState}`} data-testid="channel-state">
          {tx('channel', props.channelState)}
        </span>
      )}
    </div>
  );
}

/** The like button: every tap floats a heart; taps are sent together by the channel. */
export function LikeButton(props: { onLike(): void }) {
  const { t } = useI18n();
  const [hearts, setHearts] = useState<{ id: number; x: number }[]>([]);
  const next = useRef(0);
  return (
    <button
      type="button"
      className="like-button"
      data-testid="like-button"
      aria-label={t('likeButton')}
      title={t('likeButton')}
      onClick={() => {
        props.onLike();
        const id = next.current++;
        setHearts((h) => [...h.slice(-12), { id, x: Math.round(Math.random() * 30 - 15) }]);
        window.setTimeout(() => setHearts((h) => h.filter((x) => x.id !== id)), 900);
      }}
    >
      <HeartIcon />
      {hearts.map((h) => (
        <span key={h.id} className="like-float" style={{ left: `calc(50% + ${h.x}px)` }} aria-hidden="true">
          ♥
        </span>
      ))}
    </button>
  );
}

/**
 * Comments, newest at the bottom (kept scrolled there unless the viewer scrolled up), and the
 * comment box for a logged-in buyer. Refusals from the channel are shown under the box.
 */
export function CommentPanel(props: {
  comments: RoomComment[];
  loggedIn: boolean;
  authenticated: boolean;
  error: ChannelError | null;
  onSend(text: string): boolean;
  onClearError(): void;
  onLike(): void;
}) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [localError, setLocalError] = useState<string | null>(null);
  const list = useRef<HTMLOListElement | null>(null);
  const atBottom = useRef(true);

  useLayoutEffect(() => {
    const el = list.current;
    if (el && atBottom.current && props.comments.length > 0) el.scrollTop = el.scrollHeight;
  }, [props.comments]);

  function send(e: FormEvent) {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    props.onClearError();
    if (props.onSend(body)) {
      setText('');
      setLocalError(null);
      atBottom.current = true;
    } else {
      setLocalError(t('commentNotSent'));
    }
  }

  const shownError = props.error?.message || localError;
  return (
    <section className="card chat" data-testid="chat">
      <div className="chat-head">
        <h2>
          {t('commentsTitle')} <span className="muted small">({props.comments.length})</span>
        </h2>
        <LikeButton onLike={props.onLike} />
      </div>
      <ol
        className="comment-list"
        data-testid="comment-list"
        ref={list}
        role="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {props.comments.length === 0 && <li className="muted small comment-empty">{t('commentsEmpty')}</li>}
        {props.comments.map((c) => (
          <li key={c.key} className="comment" data-testid="comment">
            <span className="comment-nick">{c.nickname}</span>
            <span className="comment-text" data-testid="comment-text">
              {c.text}
            </span>
          </li>
        ))}
      </ol>
      {props.loggedIn ? (
        <form className="comment-form" onSubmit={send} data-testid="comment-form">
          <input
            data-testid="comment-input"
            aria-label={t('commentPlaceholder')}
            placeholder={props.authenticated ? t('commentPlaceholder') : t('commentConnecting')}
            maxLength={200}
            autoComplete="off"
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              if (localError) setLocalError(null);
            }}
          />
          <button
            type="submit"
            className="btn btn-primary btn-small"
            data-testid="comment-send"
            disabled={!props.authenticated || text.trim() === ''}
          >
            {t('commentSend')}
          </button>
        </form>
      ) : (
        <p className="muted small comment-login">{t('commentLogin')}</p>
      )}
      {shownError && (
        <div
          className="alert alert-error chat-error"
          role="alert"
          data-testid="chat-error"
          data-code={props.error?.code ?? 'LOCAL'}
          key={props.error?.seq ?? 'local'}
        >
          {shownError}
        </div>
      )}
    </section>
  );
}

/** A banner when the room is not live (ended, or not started yet). */
export function RoomBanner(props: { status: string }) {
  const { tx } = useI18n();
  if (props.status === 'live') return null;
  return (
    <div className={`room-banner room-banner-${props.status}`} data-testid="room-banner" role="status">
      {tx('roomBanner', props.status)}
    </div>
  );
}

/**
 * A flash sale (秒杀) of the room: flash price against the list price, units left, a countdown
 * to the start and then to the end, and 抢购, which reserves a unit to check out and pay.
 */
export function FlashSaleCard(props: {
  slot: FlashSale;
  product: CartItem | undefined;
  loggedIn: boolean;
  live: boolean;
  /** The buyer's unit of this sale, held until it is paid or expires. */
  hold: FlashReservation | undefined;
  onResume(): void;
  onReserved(reservation: FlashReservation, slot: FlashSale): void;
  onNeedLogin(): void;
}) {
  const { t, tx } = useI18n();
  const { slot } = props;
  const now = useNow(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // One key per purchase until a definite answer: a retry after a lost response gets the same hold.
  const key = useRef<string | null>(null);
  const starts = Date.parse(slot.startsAt);
  const ends = Date.parse(slot.endsAt);
  const before = now < starts;
  const over = now >= ends || slot.status === 'ended';
  const soldOut = slot.remaining <= 0;
  const sku = props.product?.skus.find((s) => s.id === slot.skuId);
  const holding = props.hold !== undefined && now < Date.parse(props.hold.expiresAt);

  async function grab() {
    if (!props.loggedIn) {
      setError(t('loginFirst'));
      props.onNeedLogin();
      return;
    }
    key.current ??= newIdempotencyKey();
    setBusy(true);
    setError(null);
    try {
      const r = await api<FlashReservation>('POST', `/api/flash-sales/${slot.id}/reservations`, {
        body: { quantity: 1 },
        idempotencyKey: key.current,
      });
      key.current = null;
      props.onReserved(r, slot);
    } catch (err) {
      if (err instanceof ApiError && err.status !== 0) key.current = null;
      setError(refusalText(err, 'flashErr', tx, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  let label = t('flashBuy');
  if (holding) label = t('flashPay');
  else if (busy) label = t('flashBuying');
  else if (over) label = t('flashEnded');
  else if (soldOut) label = t('flashSoldOut');
  else if (before) label = t('flashSoon');

  return (
    <section className="card flash-card" data-testid={`flash-sale-${slot.id}`}>
      <div className="flash-head">
        <span className="badge badge-flash">{t('flashTitle')}</span>
        <span className="flash-clock" data-testid="flash-countdown">
          {before ? t('flashStartsIn') : over ? t('flashEnded') : t('flashEndsIn')}{' '}
          {!over && <strong className="mono">{countdown((before ? starts : ends) - now)}</strong>}
        </span>
      </div>
      <div className="flash-body">
        <div>
          <h2 className="flash-title">{props.product?.title ?? ''}</h2>
          {sku && <p className="muted small">{sku.name}</p>}
          <div className="flash-prices">
            <span className="price" data-testid="flash-price">
              {formatFen(slot.priceFen)}
            </span>
            <s className="muted small">{formatFen(slot.listPriceFen)}</s>
          </div>
          <p className="muted small">
            <span data-testid="flash-remaining">
              {fill(t('flashLeft'), { n: Math.max(0, slot.remaining) })}
            </span>
            {' · '}
            {fill(t('flashLimit'), { n: slot.perBuyerLimit })}
          </p>
          <div className="flash-meter" aria-hidden="true">
            <span
              style={{ width: `${Math.min(100, (Math.max(0, slot.remaining) / slot.quantity) * 100)}%` }}
            />
          </div>
        </div>
        <button
          type="button"
          className="btn btn-primary flash-buy"
          data-testid="flash-buy"
          disabled={!holding && (busy || before || over || soldOut || !props.live)}
          onClick={() => (holding ? props.onResume() : void grab())}
        >
          {label}
        </button>
      </div>
      {error && (
        <div className="alert alert-error" role="alert" data-testid="flash-error">
          {error}
        </div>
      )}
    </section>
  );
}

/** Coupons dropped in the room (直播间发券), as toasts with 领取. */
export function CouponToasts(props: {
  coupons: CouponDrop[];
  loggedIn: boolean;
  onDismiss(couponId: string): void;
  onNeedLogin(): void;
}) {
  if (props.coupons.length === 0) return null;
  return (
    <div className="toasts" aria-live="polite">
      {props.coupons.map((c) => (
        <CouponToast key={c.couponId} coupon={c} {...props} />
      ))}
    </div>
  );
}

function CouponToast(props: {
  coupon: CouponDrop;
  loggedIn: boolean;
  onDismiss(couponId: string): void;
  onNeedLogin(): void;
}) {
  const { t, tx } = useI18n();
  const { coupon } = props;
  const [busy, setBusy] = useState(false);
  const [claimed, setClaimed] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function claim() {
    if (!props.loggedIn) {
      setError(t('loginFirst'));
      props.onNeedLogin();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api<CouponClaim>('POST', `/api/coupons/${coupon.couponId}/claim`);
      setClaimed(true);
    } catch (err) {
      setError(refusalText(err, 'couponErr', tx, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="toast coupon-toast" data-testid={`coupon-${coupon.couponId}`} role="status">
      <button
        type="button"
        className="toast-close"
        aria-label={t('close')}
        data-testid="coupon-close"
        onClick={() => props.onDismiss(coupon.couponId)}
      >
        ×
      </button>
      <div className="coupon-amount" data-testid="coupon-amount">
        {formatFen(coupon.amountOffFen)}
      </div>
      <div className="coupon-info">
        <div className="coupon-title">{t('couponTitle')}</div>
        <div className="small" data-testid="coupon-title">
          {coupon.title}
        </div>
        <div className="muted small">
          {fill(t('couponMinSpend'), { amount: formatFen(coupon.minSpendFen) })}
          {!claimed && ` · ${fill(t('couponRemaining'), { n: coupon.remaining })}`}
        </div>
        {error && (
          <div className="toast-error" role="alert" data-testid="coupon-error">
            {error}
          </div>
        )}
      </div>
      <button
        type="button"
        className="btn btn-primary btn-small"
        data-testid="coupon-claim"
        disabled={busy || claimed}
        onClick={() => void claim()}
      >
        {claimed ? t('couponClaimed') : busy ? t('couponClaiming') : t('couponClaim')}
      </button>
    </div>
  );
}

/** The falling envelopes' places: decorative, the same every time. */
const RAIN_DROPS = Array.from({ length: 14 }, (_, i) => ({
  key: `drop-${i}`,
  left: (i * 37) % 100,
  delay: (i % 7) * 0.35,
}));

/**
 * A red-envelope rain (红包雨) over the page: envelopes fall, 抢红包 grabs one (it becomes a
 * coupon), and the overlay goes when the rain ends — or stays to show what was won. Keyed by
 * the rain's id, so a new rain starts afresh.
 */
export function RainOverlay(props: { rain: RainNow | null; loggedIn: boolean; onNeedLogin(): void }) {
  const { t, tx } = useI18n();
  const { rain } = props;
  const [closed, setClosed] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [won, setWon] = useState<GrabbedEnvelope | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useNow(rain !== null && !rain.ended);

  if (!rain) return null;
  const endsAt = Date.parse(rain.endsAt);
  const over = rain.ended || now >= endsAt;
  const mine = won?.rainId === rain.rainId ? won : null;
  if (over && !mine) return null;
  if (closed === rain.rainId) {
    if (over) return null;
    return (
      <button type="button" className="rain-chip" data-testid="rain-reopen" onClick={() => setClosed(null)}>
        {t('rainReopen')} · {countdown(endsAt - now)}
      </button>
    );
  }

  async function grab() {
    if (!props.loggedIn) {
      setClosed(rain!.rainId);
      props.onNeedLogin();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setWon(await api<GrabbedEnvelope>('POST', `/api/rains/${rain!.rainId}/grab`));
    } catch (err) {
      setError(refusalText(err, 'rainErr', tx, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="rain-overlay" data-testid="rain-overlay" role="dialog" aria-label={t('rainTitle')}>
      <div className="rain-drops" aria-hidden="true">
        {RAIN_DROPS.map((d) => (
          <span
            key={d.key}
            className="rain-drop"
            style={{ left: `${d.left}%`, animationDelay: `${d.delay}s` }}
          />
        ))}
      </div>
      <div className="rain-card">
        <button
          type="button"
          className="toast-close"
          aria-label={t('close')}
          data-testid="rain-close"
          onClick={() => setClosed(rain.rainId)}
        >
          ×
        </button>
        <h2>{t('rainTitle')}</h2>
        <p className="small">
          {fill(t('rainCount'), { n: rain.count })}
          {!over && (
            <>
              {' · '}
              <span data-testid="rain-countdown">
                {fill(t('rainEndsIn'), { time: countdown(endsAt - now) })}
              </span>
            </>
          )}
        </p>
        {mine ? (
          <div className="rain-won" data-testid="rain-won">
            <div>{t('rainWon')}</div>
            <div className="rain-amount" data-testid="rain-amount">
              {formatFen(mine.amountFen)}
            </div>
            <p className="small">{fill(t('rainWonNote'), { amount: formatFen(mine.minSpendFen) })}</p>
          </div>
        ) : (
          <button
            type="button"
            className="rain-grab"
            data-testid="rain-grab"
            disabled={busy}
            onClick={() => void grab()}
          >
            {busy ? t('rainGrabbing') : props.loggedIn ? t('rainGrab') : t('rainLogin')}
          </button>
        )}
        {error && (
          <div className="rain-error" role="alert" data-testid="rain-error">
            {error}
          </div>
        )}
      </div>
    </div>
  );
}
