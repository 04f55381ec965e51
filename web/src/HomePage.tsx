import { useEffect, useState } from 'react';
import { api, formatTime, type LiveRoomSummary } from './api.js';
import { ErrorBanner, errorText, Layout, Link } from './components.js';
import { useI18n } from './i18n.js';

export function HomePage() {
  const { t, lang } = useI18n();
  const [rooms, setRooms] = useState<LiveRoomSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    api<{ items: LiveRoomSummary[] }>('GET', '/api/live-rooms', { auth: false, signal: ctrl.signal })
      .then((r) => setRooms(r.items))
      .catch((err) => {
        if ((err as Error).name !== 'AbortError') setError(errorText(err, t('networkError')));
      });
    return () => ctrl.abort();
  }, [t]);

  return (
    <Layout>
      <section className="hero">
        <h1>{t('brand')}</h1>
        <p>{t('tagline')}</p>
      </section>

      <section className="section">
        <h2 className="section-title">
          <span className="live-dot" aria-hidden="true" />
          {t('homeLiveNow')}
        </h2>
        <ErrorBanner message={error} />
        {rooms === null && !error && <p className="muted">{t('loading')}</p>}
        {rooms?.length === 0 && (
          <p className="muted" data-testid="no-rooms">
            {t('homeNoRooms')}
          </p>
        )}
        <ul className="room-list" data-testid="room-list">
          {rooms?.map((r) => (
            <li key={r.id}>
              <Link to={`/live/${r.id}`} className="room-card" testId={`room-link-${r.id}`}>
                <span className="badge badge-live">{t('roomStatus_live')}</span>
                <span className="room-card-title">{r.title}</span>
                <span className="muted small">
                  {t('homeStartedAt')} {formatTime(r.startedAt, lang)}
                </span>
                <span className="room-card-cta">{t('homeEnterRoom')} →</span>
              </Link>
            </li>
          ))}
        </ul>
      </section>

      <section className="section tiles">
        <Link to="/merchant/orders" className="tile" testId="home-merchant-link">
          <strong>{t('homeMerchantTitle')}</strong>
          <span className="muted">{t('homeMerchantText')}</span>
        </Link>
        <Link to="/merchant/finance" className="tile" testId="home-finance-link">
          <strong>{t('homeFinanceTitle')}</strong>
          <span className="muted">{t('homeFinanceText')}</span>
        </Link>
        <Link to="/creator/commission" className="tile" testId="home-commission-link">
          <strong>{t('homeCommissionTitle')}</strong>
          <span className="muted">{t('homeCommissionText')}</span>
        </Link>
        <a href="/docs" className="tile" data-testid="home-docs-link">
          <strong>{t('homeDocsTitle')}</strong>
          <span className="muted">{t('homeDocsText')}</span>
        </a>
      </section>
    </Layout>
  );
}
