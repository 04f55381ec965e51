import { type FormEvent, type ReactNode, useEffect, useState, useSyncExternalStore } from 'react';
import { ApiError, api, getSession, login, logout, type Me, onSessionChange, type Session } from './api.js';
import { useI18n } from './i18n.js';

let cachedRaw: string | null = null;
let cachedSession: Session | null = null;
function sessionSnapshot(): Session | null {
  const next = getSession();
  const raw = next ? JSON.stringify(next) : null;
  if (raw !== cachedRaw) {
    cachedRaw = raw;
    cachedSession = next;
  }
  return cachedSession;
}

/** The logged-in session (token in localStorage), re-rendering when it changes. */
export function useSession(): Session | null {
  return useSyncExternalStore(onSessionChange, sessionSnapshot, () => null);
}

/** Client-side navigation without a router library. */
export function navigate(to: string): void {
  if (to === window.location.pathname + window.location.search) return;
  window.history.pushState(null, '', to);
  window.dispatchEvent(new PopStateEvent('popstate'));
  window.scrollTo(0, 0);
}

export function Link(props: { to: string; className?: string; children: ReactNode; testId?: string }) {
  return (
    <a
      href={props.to}
      className={props.className}
      data-testid={props.testId}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

export function errorText(err: unknown, fallback: string): string {
  if (err instanceof ApiError) return err.message || fallback;
  if (err instanceof Error && err.message) return err.message;
  return fallback;
}

export function ErrorBanner(props: { message: string | null; testId?: string }) {
  if (!props.message) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid={props.testId ?? 'error'}>
      {props.message}
    </div>
  );
}

/** A failed load, kept as the error itself so its fallback text follows the language. */
export function LoadError(props: { error: unknown; testId?: string }) {
  const { t } = useI18n();
  if (!props.error) return null;
  return <ErrorBanner message={errorText(props.error, t('networkError'))} testId={props.testId ?? 'error'} />;
}

export function Layout(props: { children: ReactNode; wide?: boolean }) {
  const { t, lang, setLang } = useI18n();
  const session = useSession();
  return (
    <div className="app">
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/" className="brand" testId="nav-home">
            <span className="brand-mark" aria-hidden="true">
              抖
            </span>
            <span>{t('brand')}</span>
          </Link>
          <nav className="topnav">
            <Link to="/merchant/orders" testId="nav-merchant">
              {t('navMerchantOrders')}
            </Link>
            {(!session || session.roles.includes('merchant')) && (
              <Link to="/merchant/finance" testId="nav-merchant-finance">
                {t('navFinance')}
              </Link>
            )}
            {(!session || session.roles.includes('creator')) && (
              <Link to="/creator/commission" testId="nav-creator-commission">
                {t('navCommission')}
              </Link>
            )}
            <a href="/docs" data-testid="nav-docs">
              {t('navDocs')}
            </a>
            {session && (
              <button
                type="button"
                className="link-button"
                data-testid="logout"
                onClick={() => void logout()}
              >
                {t('logout')}
              </button>
            )}
            <button
              type="button"
              className="lang-toggle"
              data-testid="lang-toggle"
              title={t('langToggleTitle')}
              onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}
            >
              {t('langToggle')}
            </button>
          </nav>
        </div>
      </header>
      <main className={props.wide ? 'content content-wide' : 'content'}>{props.children}</main>
    </div>
  );
}

export function LoginForm(props: { title: string; hint?: string; onLoggedIn?: (s: Session) => void }) {
  const { t } = useI18n();
  const [loginName, setLoginName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await login(loginName.trim(), password);
      setPassword('');
      props.onLoggedIn?.(s);
    } catch (err) {
      setError(errorText(err, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card login-card" onSubmit={submit} data-testid="login-form">
      <h2>{props.title}</h2>
      {props.hint && <p className="muted">{props.hint}</p>}
      <label className="field">
        <span>{t('loginAccount')}</span>
        <input
          data-testid="login-name"
          autoComplete="username"
          value={loginName}
          onChange={(e) => setLoginName(e.target.value)}
          required
        />
      </label>
      <label className="field">
        <span>{t('loginPassword')}</span>
        <input
          data-testid="login-password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
      </label>
      <ErrorBanner message={error} testId="login-error" />
      <button type="submit" className="btn btn-primary btn-block" data-testid="login-submit" disabled={busy}>
        {busy ? t('loggingIn') : t('loginSubmit')}
      </button>
    </form>
  );
}

/**
 * A merchant console page: the title, the shop picker, and the login / no-shop states; the
 * page's body is rendered for the chosen shop.
 */
export function MerchantShell(props: { title: string; children: (shopId: string) => ReactNode }) {
  const { t } = useI18n();
  const session = useSession();
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<unknown>(null);
  const [shopId, setShopId] = useState<string | null>(null);

  useEffect(() => {
    setMe(null);
    setMeError(null);
    if (!session) return;
    const ctrl = new AbortController();
    api<Me>('GET', '/api/me', { signal: ctrl.signal })
      .then((m) => {
        setMe(m);
        setShopId((cur) =>
          cur && m.shops.some((s) => s.shopId === cur) ? cur : (m.shops[0]?.shopId ?? null),
        );
      })
      .catch((err) => {
        if ((err as Error).name !== 'AbortError') setMeError(err);
      });
    return () => ctrl.abort();
  }, [session]);

  return (
    <Layout wide>
      <div className="page-head">
        <h1 data-testid="page-title">{props.title}</h1>
        {me && me.shops.length > 0 && (
          <div className="shop-picker">
            <label className="muted small" htmlFor="shop-select">
              {t('merchantShop')}
            </label>
            {me.shops.length > 1 ? (
              <select
                id="shop-select"
                data-testid="shop-select"
                value={shopId ?? ''}
                onChange={(e) => setShopId(e.target.value)}
              >
                {me.shops.map((s) => (
                  <option key={s.shopId} value={s.shopId}>
                    {s.name} ({s.role})
                  </option>
                ))}
              </select>
            ) : (
              <span className="small" data-testid="shop-id" title={shopId ?? ''}>
                {me.shops.find((s) => s.shopId === shopId)?.name}
              </span>
            )}
          </div>
        )}
      </div>

      {!session && <LoginForm title={t('loginTitle')} hint={t('merchantLoginHint')} />}
      {session && <LoadError error={meError} />}
      {session && !me && !meError && <p className="muted">{t('loading')}</p>}
      {session && me && me.shops.length === 0 && (
        <>
          <div className="alert" data-testid="no-shop">
            {t('merchantNoShop')}
          </div>
          <LoginForm title={t('loginTitle')} hint={t('merchantLoginHint')} />
        </>
      )}
      {session && me && shopId && props.children(shopId)}
    </Layout>
  );
}
