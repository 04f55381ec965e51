import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import {
  ApiError,
  api,
  type CartItem,
  formatFen,
  type LiveRoom,
  newIdempotencyKey,
  type Order,
  type PaymentResult,
} from './api.js';
import { ErrorBanner, errorText, Layout, LoginForm, useSession } from './components.js';
import { type MessageKey, useI18n } from './i18n.js';

const POLL_MS = 4000;

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
  const [room, setRoom] = useState<LiveRoom | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [productId, setProductId] = useState<string | null>(null);
  const [skuId, setSkuId] = useState<string | null>(null);
  const [quantity, setQuantity] = useState(1);
  const [recipient, setRecipient] = useState<Recipient>(EMPTY_RECIPIENT);
  const [busy, setBusy] = useState(false);
  const [buyError, setBuyError] = useState<string | null>(null);
  const [result, setResult] = useState<BuyResult | null>(null);
  const attempt = useRef<Attempt | null>(null);

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const r = await api<LiveRoom>('GET', `/api/live-rooms/${encodeURIComponent(props.roomId)}`, {
          auth: false,
          ...(signal ? { signal } : {}),
        });
        setRoom(r);
        setLoadError(null);
      } catch (err) {
        if ((err as Error).name === 'AbortError') return;
        setLoadError(err instanceof ApiError ? err : new ApiError(0, 'NETWORK', ''));
      }
    },
    [props.roomId],
  );

  // Load now, then poll so stock and the pinned product stay current.
  useEffect(() => {
    const ctrl = new AbortController();
    void load(ctrl.signal);
    const timer = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') void load(ctrl.signal);
    }, POLL_MS);
    return () => {
      ctrl.abort();
      window.clearInterval(timer);
    };
  }, [load]);

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

  async function buy(e: FormEvent) {
    e.preventDefault();
    if (!room || !sku) {
      setBuyError(t('chooseSku'));
      return;
    }
    const body = {
      venue: { type: 'live_room', id: room.id },
      items: [{ skuId: sku.id, quantity }],
      recipient: {
        name: recipient.name.trim(),
        phone: recipient.phone.trim(),
        province: recipient.province.trim(),
        city: recipient.city.trim(),
        district: recipient.district.trim(),
        detail: recipient.detail.trim(),
      },
    };
    const fingerprint = JSON.stringify(body);
    if (attempt.current?.fingerprint !== fingerprint) {
      attempt.current = { fingerprint, orderKey: newIdempotencyKey(), payKeys: new Map() };
    }
    const current = attempt.current;
    setBusy(true);
    setBuyError(null);
    try {
      const order = await api<Order>('POST', '/api/orders', { body, idempotencyKey: current.orderKey });
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
      } else {
        // A definite failure from the provider: a retry is a new payment attempt.
        current.payKeys.delete(order.id);
      }
      void load();
    } catch (err) {
      setBuyError(errorText(err, t('networkError')));
      void load();
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
          <button type="button" className="btn" onClick={() => void load()}>
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
          </section>

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
                  <span className="price">{priceRange(room.pinned)}</span>
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
            <h2>{product ? product.title : t('chooseSku')}</h2>
            {product && (
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
                disabled={busy || !selling || !product}
              >
                {busy ? t('buying') : t('buyNow')}
              </button>
            ) : null}
          </form>

          {!session && <LoginForm title={t('loginToBuy')} />}
        </aside>
      </div>
    </Layout>
  );
}
