import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, formatFen, formatTime, type Order, type Page } from './api.js';
import { ErrorBanner, errorText, MerchantShell } from './components.js';
import { useI18n } from './i18n.js';

const STATUSES = ['pending_payment', 'paid', 'shipped', 'delivered', 'completed', 'cancelled'] as const;
const CARRIERS = ['SF', 'YTO', 'ZTO', 'STO', 'YD', 'JD', 'EMS', 'JT'] as const;
const PAGE_SIZE = 50;

export function MerchantOrdersPage() {
  const { t } = useI18n();
  return (
    <MerchantShell title={t('merchantTitle')}>
      {(shopId) => <ShopOrders key={shopId} shopId={shopId} />}
    </MerchantShell>
  );
}

function ShopOrders(props: { shopId: string }) {
  const { t, tx, lang } = useI18n();
  const [status, setStatus] = useState<string>('');
  const [orders, setOrders] = useState<Order[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);

  const fetchPage = useCallback(
    async (after: string | null, append: boolean) => {
      const gen = ++generation.current;
      setLoading(true);
      setError(null);
      const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (status) q.set('status', status);
      if (after) q.set('cursor', after);
      try {
        const page = await api<Page<Order>>('GET', `/api/shops/${props.shopId}/orders?${q}`);
        if (gen !== generation.current) return;
        setOrders((cur) => (append ? [...cur, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setLoaded(true);
      } catch (err) {
        if (gen === generation.current) setError(errorText(err, t('networkError')));
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [props.shopId, status, t],
  );

  useEffect(() => {
    setOrders([]);
    setCursor(null);
    setLoaded(false);
    void fetchPage(null, false);
  }, [fetchPage]);

  const replaceOrder = (o: Order) =>
    setOrders((cur) =>
      status && o.status !== status
        ? cur.filter((x) => x.id !== o.id)
        : cur.map((x) => (x.id === o.id ? o : x)),
    );

  return (
    <section>
      <div className="tabs" role="tablist" data-testid="status-tabs">
        {['', ...STATUSES].map((s) => (
          <button
            type="button"
            role="tab"
            key={s || 'all'}
            aria-selected={s === status}
            className={s === status ? 'tab is-active' : 'tab'}
            data-testid={`status-tab-${s || 'all'}`}
            onClick={() => setStatus(s)}
          >
            {s ? tx('status', s) : t('filterAll')}
          </button>
        ))}
      </div>

      <ErrorBanner message={error} />
      {loaded && orders.length === 0 && (
        <p className="muted empty-state" data-testid="orders-empty">
          {t('ordersEmpty')}
        </p>
      )}

      <ul className="order-list" data-testid="order-list">
        {orders.map((o) => (
          <li key={o.id} className="card order-card" data-testid={`order-${o.id}`}>
            <div className="order-head">
              <span className="order-head-id">
                <span className="mono small" data-testid="order-id">
                  {o.id}
                </span>
                <span className="muted small" data-testid="order-time">
                  {t('orderTime')} {formatTime(o.createdAt, lang)}
                </span>
              </span>
              <span className={`status status-${o.status}`} data-testid="order-status">
                {tx('status', o.status)}
              </span>
            </div>
            <div className="order-grid">
              <div>
                <div className="field-label">{t('orderLines')}</div>
                <ul className="order-lines">
                  {o.lines.map((l) => (
                    <li key={l.id}>
                      <span>
                        {l.title}
                        {l.skuName ? <span className="muted"> · {l.skuName}</span> : null}
                      </span>
                      <span className="muted"> × {l.quantity}</span>
                    </li>
                  ))}
                </ul>
                <div className="order-total">
                  {t('total')} <strong data-testid="order-total">{formatFen(o.totalFen)}</strong>
                </div>
              </div>
              <div>
                <div className="field-label">{t('recipient')}</div>
                <div data-testid="order-recipient">
                  <span data-testid="order-recipient-name">{o.recipient.name}</span>
                  {'  '}
                  <span className="mono" data-testid="order-recipient-phone">
                    {o.recipient.phone}
                  </span>
                  <div className="muted small" data-testid="order-recipient-address">
                    {o.recipient.address}
                  </div>
                </div>
              </div>
              <div>
                <div className="field-label">{t('attribution')}</div>
                <div data-testid="order-attribution">
                  <span className="chip">{tx('venue', o.attribution.venueType)}</span>
                  {o.attribution.creatorAccountId && (
                    <div className="muted small">
                      {t('creator')} <span className="mono">{o.attribution.creatorAccountId}</span>
                    </div>
                  )}
                </div>
                {o.shipment && (
                  <div className="small order-shipment" data-testid="order-shipment">
                    {t('shipment')} {tx('carrier', o.shipment.carrier)}{' '}
                    <span className="mono">{o.shipment.trackingNo}</span>
                  </div>
                )}
              </div>
            </div>
            {o.status === 'paid' && <ShipForm shopId={props.shopId} order={o} onShipped={replaceOrder} />}
          </li>
        ))}
      </ul>

      <div className="load-more">
        {cursor ? (
          <button
            type="button"
            className="btn"
            data-testid="load-more"
            disabled={loading}
            onClick={() => void fetchPage(cursor, true)}
          >
            {loading ? t('loading') : t('loadMore')}
          </button>
        ) : (
          loaded && orders.length > 0 && <span className="muted small">{t('noMore')}</span>
        )}
        {loading && !loaded && <span className="muted">{t('loading')}</span>}
      </div>
    </section>
  );
}

function ShipForm(props: { shopId: string; order: Order; onShipped: (o: Order) => void }) {
  const { t, tx } = useI18n();
  const [open, setOpen] = useState(false);
  const [carrier, setCarrier] = useState<string>('SF');
  const [trackingNo, setTrackingNo] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (!open) {
    return (
      <div className="order-actions">
        <button
          type="button"
          className="btn btn-primary btn-small"
          data-testid="ship-open"
          onClick={() => setOpen(true)}
        >
          {t('ship')}
        </button>
      </div>
    );
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // The answer also carries the privacy waybill (masked label + carrier-only payload) to print.
      const shipped = await api<{ order: Order }>(
        'POST',
        `/api/shops/${props.shopId}/orders/${props.order.id}/ship`,
        { body: { carrier, trackingNo: trackingNo.trim() } },
      );
      props.onShipped(shipped.order);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : errorText(err, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="ship-form" onSubmit={submit} data-testid="ship-form">
      <label className="field">
        <span>{t('carrier')}</span>
        <select data-testid="ship-carrier" value={carrier} onChange={(e) => setCarrier(e.target.value)}>
          {CARRIERS.map((c) => (
            <option key={c} value={c}>
              {tx('carrier', c)} ({c})
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t('trackingNo')}</span>
        <input
          data-testid="ship-tracking"
          value={trackingNo}
          autoCapitalize="characters"
          spellCheck={false}
          onChange={(e) => setTrackingNo(e.target.value.toUpperCase().replace(/\s/g, ''))}
          required
        />
      </label>
      <div className="ship-buttons">
        <button type="submit" className="btn btn-primary" data-testid="ship-submit" disabled={busy}>
          {busy ? t('shipping') : t('shipSubmit')}
        </button>
        <button type="button" className="btn" onClick={() => setOpen(false)} disabled={busy}>
          {t('cancel')}
        </button>
      </div>
      <ErrorBanner message={error} testId="ship-error" />
    </form>
  );
}
