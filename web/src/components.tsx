import { type FormEvent, type ReactNode, useState, useSyncExternalStore } from 'react';
import { ApiError, getSession, login, logout, onSessionChange, type Session } from './api.js';
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
