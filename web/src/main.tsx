import { StrictMode, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { CreatorCommissionPage } from './CreatorCommissionPage.js';
import { Layout, Link } from './components.js';
import { HomePage } from './HomePage.js';
import { I18nContext, initialLang, type Lang, makeI18n, saveLang, useI18n } from './i18n.js';
import { LiveRoomPage } from './LiveRoomPage.js';
import { MerchantFinancePage } from './MerchantFinancePage.js';
import { MerchantOrdersPage } from './MerchantOrdersPage.js';
import './styles.css';

function usePathname(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return path;
}

function Route(props: { path: string }) {
  const path = props.path.replace(/\/+$/, '') || '/';
  if (path === '/') return <HomePage />;
  const live = /^\/live\/([^/]+)$/.exec(path);
  if (live) return <LiveRoomPage key={live[1]} roomId={decodeURIComponent(live[1]!)} />;
  if (path === '/merchant/orders' || path === '/merchant') return <MerchantOrdersPage />;
  if (path === '/merchant/finance') return <MerchantFinancePage />;
  if (path === '/creator/commission' || path === '/creator') return <CreatorCommissionPage />;
  return <NotFound />;
}

function NotFound() {
  const { t } = useI18n();
  return (
    <Layout>
      <div className="card empty-state">
        <h1>404</h1>
        <p data-testid="not-found">{t('notFoundTitle')}</p>
        <Link to="/" className="btn btn-primary">
          {t('backHome')}
        </Link>
      </div>
    </Layout>
  );
}

function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const path = usePathname();
  const i18n = useMemo(
    () =>
      makeI18n(lang, (next) => {
        saveLang(next);
        setLangState(next);
      }),
    [lang],
  );
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  return (
    <I18nContext.Provider value={i18n}>
      <Route path={path} />
    </I18nContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
