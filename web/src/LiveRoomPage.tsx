import { type FormEvent, useEffect, useRef, useState } from 'react';
import {
  api,
  type CartItem,
  type FlashReservation,
  type FlashSale,
  formatFen,
  newIdempotencyKey,
  type Order,
  type PaymentResult,
} from './api.js';
import { ErrorBanner, errorText, Layout, LoginForm, useSession } from './components.js';
import { type MessageKey, useI18n } from './i18n.js';
import {
  CommentPanel,
  CouponToasts,
  countdown,
  FlashSaleCard,
  RainOverlay,
  RoomBanner,
  RoomStats,
  useNow,
} from './live-widgets.js';
import { useLiveRoom } from './useLiveRoom.js';

interface Recipient {
  name: string;
  phone: string;
  province: string;
  city: string;
  district: string;
  detail: string;
}
const EMPTY_RECIPIENT: Recipient = { name: '', phone: '', province: '', city: '', district: '', detail: '' };
const RECIPIENT_FIELDS: Array<{
  field: keyof Recipient;
  label: MessageKey;
  autoComplete: string;
  wide?: boolean;
}> = [
  { field: 'name', label: 'recipientName', autoComplete: 'name' },
  { field: 'phone', label: 'recipientPhone', autoComplete: 'tel-national' },
  { field: 'province', label: 'recipientProvince', autoComplete: 'address-level1' },
  { field: 'city', label: 'recipientCity', autoComplete: 'address-level2' },
  { field: 'district', label: 'recipientDistrict', autoComplete: 'address-level3' },
  { field: 'detail', label: 'recipientDetail', autoComplete: 'street-address', wide: true },
];

interface BuyResult {
  order: Order;
  payment: PaymentResult | null;
}

/** A flash-sale unit held for the buyer (抢到了): checked out at the flash price before it expires. */
interface HeldFlash {
  reservation: FlashReservation;
  slot: FlashSale;
}

/**
 * Idempotency bookkeeping for one submission: the same order request keeps its key across
 * retries (a replay answers the same order), and each order's payment keeps its own key
 * until the provider gives a definite answer.
 */
interface Attempt {
  fingerprint: string;
  orderKey: string;
  payKeys: Map<string, string>;
}

function priceRange(item: CartItem): string {
  const prices = item.skus.map((s) => s.priceFen);
  if (prices.length === 0) return '';
  const lo = Math.min(...prices);
  const hi = Math.max(...prices);
  return lo === hi ? formatFen(lo) : `${formatFen(lo)} – ${formatFen(hi)}`;
}

const totalStock = (item: CartItem) => item.skus.reduce((n, s) => n + s.stock, 0);

function CartIcon() {
  return (
    <svg
      viewBox="0 0 24 24"
      width="16"
      height="16"
      fill="none"
      stroke="currentColor"
      strokeWidth="2.2"
      aria-hidden="true"
    >
      <path
        d="M3 4h2l2.2 10.2a1.5 1.5 0 0 0 1.5 1.2h8.6a1.5 1.5 0 0 0 1.5-1.1L21 8H6.2"
        strokeLinejoin="round"
      />
      <circle cx="9.5" cy="19.5" r="1.5" fill="currentColor" stroke="none" />
      <circle cx="17" cy="19.5" r="1.5" fill="currentColor" stroke="none" />
    </svg>
  );
}

function LockIcon() {
  return (
    <svg
      viewBox="0 0 24 24"
      width="14"
      height="14"
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
      aria-hidden="true"
    >
      <rect x="5" y="11" width="14" height="10" rx="2" />
      <path d="M8 11V8a4 4 0 0 1 8 0v3" />
    </svg>
  );
}

export function LiveRoomPage(props: { roomId: string }) {
  const { t, tx } = useI18n();
  const session = useSession();
  const live = useLiveRoom(props.roomId, session?.token ?? null);
  const { room } = live.state;
  const loadError = live.loadError;
  // Flash-sale units held per slot, and the one the checkout form is paying for.
  const [holds, setHolds] = useState<Record<string, HeldFlash>>({});
  const [activeSlot, setActiveSlot] = useState<string | null>(null);
  const held = activeSlot ? (holds[activeSlot] ?? null) : null;
  const [productId, setProductId] = useState<string | null>(null);
  const [skuId, setSkuId] = useState<string | null>(null);
  const [quantity, setQuantity] = useState(1);
  const [recipient, setRecipient] = useState<Recipient>(EMPTY_RECIPIENT);
  const [busy, setBusy] = useState(false);
  const [buyError, setBuyError] = useState<string | null>(null);
  const [result, setResult] = useState<BuyResult | null>(null);
  const attempt = useRef<Attempt | null>(null);

  // Default to the pinned product (讲解中); keep the buyer's choice while it stays in the cart.
  useEffect(() => {
    if (!room) return;
    const stillThere = productId && room.cart.some((c) => c.productId === productId);
    if (!stillThere) {
      setProductId(room.pinned?.productId ?? room.cart[0]?.productId ?? null);
      setSkuId(null);
    }
  }, [room, productId]);

  const product = room?.cart.find((c) => c.productId === productId) ?? null;
  const sku = product?.skus.find((s) => s.id === skuId) ?? null;
  const maxQty = Math.max(1, Math.min(999, sku?.stock ?? 999));
  const heldProduct = held ? (room?.cart.find((c) => c.productId === held.slot.productId) ?? null) : null;
  const heldSku = heldProduct?.skus.find((s) => s.id === held?.slot.skuId) ?? null;
  const now = useNow(Object.keys(holds).length > 0);
  const heldExpired = held !== null && now >= Date.parse(held.reservation.expiresAt);
  useEffect(() => {
    if (quantity > maxQty) setQuantity(maxQty);
  }, [quantity, maxQty]);

  function chooseProduct(id: string) {
    if (id !== productId) {
      setProductId(id);
      setSkuId(null);
      setQuantity(1);
    }
    document.getElementById('checkout')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  function showLogin() {
    document.getElementById('login')?.scrollIntoView({ behavior: 'smooth', block: 'center' });
  }

  function onReserved(reservation: FlashReservation, slot: FlashSale) {
    setHolds((h) => ({ ...h, [slot.id]: { reservation, slot } }));
    setActiveSlot(slot.id);
    setBuyError(null);
    setResult(null);
    document.getElementById('checkout')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  async function buy(e: FormEvent) {
    e.preventDefault();
    const flash = held && !heldExpired ? held : null;
    if (!room || (!sku && !flash)) {
      setBuyError(t('chooseSku'));
      return;
    }
    const address = {
      name: recipient.name.trim(),
      phone: recipient.phone.trim(),
      province: recipient.province.trim(),
      city: recipient.city.trim(),
      district: recipient.district.trim(),
      detail: recipient.detail.trim(),
    };
    // A held flash-sale unit is checked out through its reservation, at the flash price.
    const url = flash ? `/api/flash-sales/reservations/${flash.reservation.id}/checkout` : '/api/orders';
    const body = flash
      ? { recipient: address }
      : {
          venue: { type: 'live_room', id: room.id },
          items: [{ skuId: sku!.id, quantity }],
          recipient: address,
        };
    const fingerprint = JSON.stringify({ url, body });
    if (attempt.current?.fingerprint !== fingerprint) {
      attempt.current = { fingerprint, orderKey: newIdempotencyKey(), payKeys: new Map() };
    }
    const current = attempt.current;
    setBusy(true);
    setBuyError(null);
    try {
      const order = await api<Order>('POST', url, { body, idempotencyKey: current.orderKey });
      setResult({ order, payment: null });
      let payKey = current.payKeys.get(order.id);
      if (!payKey) {
        payKey = newIdempotencyKey();
        current.payKeys.set(order.id, payKey);
      }
      const payment = await api<PaymentResult>('POST', `/api/orders/${order.id}/pay`, {
        idempotencyKey: payKey,
      });
      setResult({ order, payment });
      if (payment.orderStatus === 'paid') {
        // Done: the next purchase is a new submission, and the address leaves the page's memory.
        attempt.current = null;
        setRecipient(EMPTY_RECIPIENT);
        setQuantity(1);
        if (flash) {
          setHolds(({ [flash.slot.id]: _paid, ...rest }) => rest);
          setActiveSlot(null);
        }
      } else {
        // A definite failure from the provider: a retry is a new payment attempt.
        current.payKeys.delete(order.id);
      }
      live.refresh();
    } catch (err) {
      setBuyError(errorText(err, t('networkError')));
      live.refresh();
    } finally {
      setBusy(false);
    }
  }

  if (loadError && !room) {
    return (
      <Layout>
        <div className="card empty-state">
          <ErrorBanner
            message={loadError.status === 404 ? t('roomNotFound') : loadError.message || t('networkError')}
          />
          <button type="button" className="btn" onClick={() => live.refresh()}>
            {t('retry')}
          </button>
        </div>
      </Layout>
    );
  }
  if (!room) {
    return (
      <Layout>
        <p className="muted">{t('loading')}</p>
      </Layout>
    );
  }

  const selling = room.status === 'live';
  const orderStatus = result ? (result.payment?.orderStatus ?? result.order.status) : null;

  return (
    <Layout wide>
      <div className="live-layout">
        <div className="live-main">
          <section className="room-header" data-testid="room-header">
            <div className="room-header-top">
              <span className={`badge badge-${room.status}`} data-testid="room-status">
                {tx('roomStatus', room.status)}
              </span>
              <span className="muted small">
                {t('roomPaidOrders')} {room.paidOrders}
              </span>
            </div>
            <h1 data-testid="room-title">{room.title}</h1>
            <div className="room-host">
              <span className="avatar" aria-hidden="true">
                {room.creator.nickname.slice(0, 1).toUpperCase()}
              </span>
              <span>
                {t('roomHost')} <strong data-testid="room-creator">{room.creator.nickname}</strong>
              </span>
            </div>
            {room.description && <p className="room-desc">{room.description}</p>}
            <RoomStats
              viewers={live.state.viewers}
              likes={live.state.likes}
              channelState={live.channelState}
            />
          </section>
          <RoomBanner status={room.status} />

          {live.state.flash.map((slot) => (
            <FlashSaleCard
              key={slot.id}
              slot={slot}
              product={room.cart.find((c) => c.productId === slot.productId)}
              loggedIn={session !== null}
              live={selling}
              hold={holds[slot.id]?.reservation}
              onResume={() => {
                setActiveSlot(slot.id);
                document.getElementById('checkout')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
              }}
              onReserved={onReserved}
              onNeedLogin={showLogin}
            />
          ))}

          {room.pinned && (
            <section className="pinned card" data-testid="pinned-product">
              <span className="badge badge-pinned">{t('pinned')}</span>
              <div className="pinned-body">
                <div>
                  <h2 data-testid="pinned-title">{room.pinned.title}</h2>
                  <p className="muted small">
                    {t('shop')} · {room.pinned.shopName}
                  </p>
                  {room.pinned.description && <p className="small">{room.pinned.description}</p>}
                </div>
                <div className="pinned-side">
                  <div className="pinned-price-row">
                    <span className="price" data-testid="pinned-price">
                      {priceRange(room.pinned)}
                    </span>
                    <span className="muted small" data-testid="pinned-stock">
                      {totalStock(room.pinned) === 0
                        ? t('soldOut')
                        : `${t('stock')} ${totalStock(room.pinned)}`}
                    </span>
                  </div>
                  <button
                    type="button"
                    className="btn btn-primary"
                    data-testid="pinned-buy"
                    disabled={!selling || totalStock(room.pinned) === 0}
                    onClick={() => chooseProduct(room.pinned!.productId)}
                  >
                    {totalStock(room.pinned) === 0 ? t('soldOut') : t('buyNow')}
                  </button>
                </div>
              </div>
            </section>
          )}

          <CommentPanel
            comments={live.state.comments}
            loggedIn={session !== null}
            authenticated={live.state.authenticated && live.channelState === 'open'}
            error={live.state.error}
            onSend={live.comment}
            onClearError={live.clearError}
            onLike={live.like}
          />

          <section className="card cart" data-testid="cart">
            <h2 className="cart-title">
              <span className="cart-icon" aria-hidden="true">
                <CartIcon />
              </span>
              {t('cartTitle')} <span className="muted small">({room.cart.length})</span>
            </h2>
            {room.cart.length === 0 && <p className="muted">{t('cartEmpty')}</p>}
            <ol className="cart-list">
              {room.cart.map((item, i) => {
                const isPinned = room.pinned?.itemId === item.itemId;
                const isSelected = item.productId === productId;
                const stock = totalStock(item);
                return (
                  <li
                    key={item.itemId}
                    className={`cart-item${isPinned ? ' is-pinned' : ''}${isSelected ? ' is-selected' : ''}`}
                    data-testid={`cart-item-${item.productId}`}
                  >
                    <span className="cart-pos">{i + 1}</span>
                    <div className="cart-info">
                      <div className="cart-item-title">
                        {isPinned && <span className="badge badge-pinned badge-small">{t('pinned')}</span>}
                        <span data-testid="cart-item-title">{item.title}</span>
                      </div>
                      <div className="muted small">
                        {t('shop')} · {item.shopName}
                      </div>
                      <div className="cart-meta">
                        <span className="price">{priceRange(item)}</span>
                        <span className="muted small" data-testid={`cart-stock-${item.productId}`}>
                          {stock === 0 ? t('soldOut') : `${t('stock')} ${stock}`}
                        </span>
                      </div>
                    </div>
                    <button
                      type="button"
                      className={isSelected ? 'btn btn-small btn-outline' : 'btn btn-small'}
                      data-testid={`choose-product-${item.productId}`}
                      onClick={() => chooseProduct(item.productId)}
                    >
                      {isSelected ? t('selected') : t('select')}
                    </button>
                  </li>
                );
              })}
            </ol>
          </section>
        </div>

        <aside className="live-side" id="checkout">
          {result && (
            <section
              className={`card result${orderStatus === 'paid' ? ' result-ok' : ''}`}
              data-testid="order-result"
              aria-live="polite"
            >
              <h2>{orderStatus === 'paid' ? t('orderPaid') : t('orderPlaced')}</h2>
              <dl className="kv">
                <dt>{t('orderId')}</dt>
                <dd data-testid="order-id" className="mono">
                  {result.order.id}
                </dd>
                <dt>{t('orderStatus')}</dt>
                <dd>
                  <span className={`status status-${orderStatus}`} data-testid="order-status">
                    {tx('status', orderStatus ?? '')}
                  </span>
                </dd>
                <dt>{t('orderTotal')}</dt>
                <dd data-testid="order-total">{formatFen(result.order.totalFen)}</dd>
                <dt>{t('maskedRecipient')}</dt>
                <dd data-testid="order-recipient">
                  <span data-testid="order-recipient-name">{result.order.recipient.name}</span>{' '}
                  <span data-testid="order-recipient-phone">{result.order.recipient.phone}</span>
                  <br />
                  <span data-testid="order-recipient-address">{result.order.recipient.address}</span>
                </dd>
              </dl>
            </section>
          )}

          <form className="card checkout" onSubmit={buy} data-testid="checkout-form" noValidate>
            {held && (
              <div className="flash-held" data-testid="flash-held">
                <span className="badge badge-flash">{t('flashCheckoutTitle')}</span>
                <h2>{heldProduct?.title ?? ''}</h2>
                <p className="small">
                  {heldSku ? `${heldSku.name} · ` : ''}
                  {formatFen(held.reservation.unitPriceFen)} × {held.reservation.quantity}
                </p>
                {heldExpired ? (
                  <p className="alert alert-error">{t('flashExpired')}</p>
                ) : (
                  <>
                    <p className="small">{t('flashReserved')}</p>
                    <p className="small">
                      {t('flashPayWithin')}{' '}
                      <strong className="mono" data-testid="flash-hold-countdown">
                        {countdown(Date.parse(held.reservation.expiresAt) - now)}
                      </strong>
                    </p>
                  </>
                )}
                <p className="qty-total">
                  {t('total')}{' '}
                  <strong data-testid="line-total">{formatFen(held.reservation.totalFen)}</strong>
                </p>
                <button
                  type="button"
                  className="link-button small"
                  data-testid="flash-leave"
                  onClick={() => setActiveSlot(null)}
                >
                  {t('flashLeave')}
                </button>
              </div>
            )}
            {!held && <h2>{product ? product.title : t('chooseSku')}</h2>}
            {!held && product && (
              <>
                <div className="field-label">{t('sku')}</div>
                <div className="sku-options">
                  {product.skus.map((s) => (
                    <button
                      type="button"
                      key={s.id}
                      aria-pressed={s.id === skuId}
                      className={`sku-option${s.id === skuId ? ' is-active' : ''}`}
                      data-testid={`sku-option-${s.id}`}
                      disabled={s.stock === 0}
                      onClick={() => setSkuId(s.id)}
                    >
                      <span className="sku-name">{s.name}</span>
                      <span className="sku-price">{formatFen(s.priceFen)}</span>
                      <span className="sku-stock" data-testid={`sku-stock-${s.id}`}>
                        {s.stock === 0 ? t('soldOut') : `${t('stock')} ${s.stock}`}
                      </span>
                    </button>
                  ))}
                </div>

                <div className="qty-row">
                  <span className="field-label">{t('quantity')}</span>
                  <div className="stepper">
                    <button
                      type="button"
                      aria-label={t('decrease')}
                      data-testid="qty-decrease"
                      disabled={quantity <= 1}
                      onClick={() => setQuantity((q) => Math.max(1, q - 1))}
                    >
                      −
                    </button>
                    <input
                      data-testid="quantity"
                      inputMode="numeric"
                      aria-label={t('quantity')}
                      value={quantity}
                      onChange={(e) => {
                        const n = Number.parseInt(e.target.value.replace(/\D/g, ''), 10);
                        setQuantity(Number.isFinite(n) ? Math.min(maxQty, Math.max(1, n)) : 1);
                      }}
                    />
                    <button
                      type="button"
                      aria-label={t('increase')}
                      data-testid="qty-increase"
                      disabled={quantity >= maxQty}
                      onClick={() => setQuantity((q) => Math.min(maxQty, q + 1))}
                    >
                      +
                    </button>
                  </div>
                  <span className="qty-total">
                    {t('total')}{' '}
                    {sku ? (
                      <strong data-testid="line-total">{formatFen(sku.priceFen * quantity)}</strong>
                    ) : (
                      <span className="muted" data-testid="line-total">
                        —
                      </span>
                    )}
                  </span>
                </div>
              </>
            )}

            <fieldset className="recipient">
              <legend>{t('recipientTitle')}</legend>
              <div className="grid-2">
                {RECIPIENT_FIELDS.map((f) => (
                  <label key={f.field} className={f.wide ? 'field span-2' : 'field'}>
                    <span>{t(f.label)}</span>
                    <input
                      data-testid={`recipient-${f.field}`}
                      autoComplete={f.autoComplete}
                      inputMode={f.field === 'phone' ? 'tel' : undefined}
                      value={recipient[f.field]}
                      onChange={(e) => setRecipient((r) => ({ ...r, [f.field]: e.target.value }))}
                    />
                  </label>
                ))}
              </div>
              <p className="muted small privacy-note">
                <LockIcon />
                {t('privacyNote')}
              </p>
            </fieldset>

            <ErrorBanner message={buyError} testId="buy-error" />
            {!selling && <p className="alert">{t('roomNotLive')}</p>}
            {session ? (
              <button
                type="submit"
                className="btn btn-primary btn-block btn-buy"
                data-testid="buy-button"
                disabled={busy || !selling || (held ? heldExpired : !product)}
              >
                {busy ? t('buying') : t('buyNow')}
              </button>
            ) : null}
          </form>

          {!session && (
            <div id="login">
              <LoginForm title={t('loginToBuy')} />
            </div>
          )}
        </aside>
      </div>
      <CouponToasts
        coupons={live.state.coupons}
        loggedIn={session !== null}
        onDismiss={live.dismissCoupon}
        onNeedLogin={showLogin}
      />
      <RainOverlay
        key={live.state.rain?.rainId ?? 'no-rain'}
        rain={live.state.rain}
        loggedIn={session !== null}
        onNeedLogin={showLogin}
      />
    </Layout>
  );
}
