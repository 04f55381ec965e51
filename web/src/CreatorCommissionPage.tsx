import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import {
  ApiError,
  api,
  COMMISSION_STATUSES,
  type Commission,
  type CommissionPage,
  type CreatorDeposit,
  currentMonth,
  type DepositLockResult,
  fenToYuanInput,
  formatFen,
  formatTime,
  newIdempotencyKey,
  parseYuan,
} from './api.js';
import { ErrorBanner, errorText, Layout, LoadError, LoginForm, useSession } from './components.js';
import { BalanceCards, StatementSection } from './finance.js';
import { useI18n } from './i18n.js';
import { type PayoutAccounts, usePayoutAccounts, WithdrawCard } from './payouts.js';

const PAGE_SIZE = 50;

/** 佣金: a creator's balances, deposit, withdrawals, commission by order and statement. */
export function CreatorCommissionPage() {
  const { t } = useI18n();
  const session = useSession();
  const isCreator = session?.roles.includes('creator') ?? false;

  return (
    <Layout wide>
      <div className="page-head">
        <h1 data-testid="page-title">{t('commissionTitle')}</h1>
      </div>

      {!session && <LoginForm title={t('loginTitle')} hint={t('creatorLoginHint')} />}
      {session && !isCreator && (
        <>
          <div className="alert" data-testid="not-creator">
            {t('creatorNotCreator')}
          </div>
          <LoginForm title={t('loginTitle')} hint={t('creatorLoginHint')} />
        </>
      )}
      {session && isCreator && <CreatorFinance key={session.login} />}
    </Layout>
  );
}

const BASE = '/api/creator/finance';

function CreatorFinance() {
  const { t } = useI18n();
  // `refresh` reloads everything (the refresh button); `moved` what money movements change.
  const [refresh, setRefresh] = useState(0);
  const [moved, setMoved] = useState(0);
  const [status, setStatus] = useState('');
  const [month, setMonth] = useState(currentMonth);
  const accounts = usePayoutAccounts(BASE);
  const onMoved = () => setMoved((v) => v + 1);
  const version = `${refresh}-${moved}`;

  return (
    <>
      <div className="finance-actions">
        <button
          type="button"
          className="btn btn-small"
          data-testid="finance-refresh"
          onClick={() => {
            setRefresh((v) => v + 1);
            void accounts.reload();
          }}
        >
          {t('refresh')}
        </button>
      </div>
      <BalanceCards key={`balances-${version}`} url={`${BASE}/balances`} />
      <div className="finance-grid">
        <DepositCard key={`deposit-${refresh}`} accounts={accounts} onChanged={onMoved} />
        <WithdrawCard key={`withdraw-${refresh}`} base={BASE} accounts={accounts} onWithdrawn={onMoved} />
      </div>
      <Commissions key={`commissions-${version}`} status={status} onStatusChange={setStatus} />
      <StatementSection
        key={`statement-${version}`}
        base={BASE}
        csvName="commission-statement"
        month={month}
        onMonthChange={setMonth}
      />
    </>
  );
}

/**
 * 保证金: this month's requirement (basic + the tier of last month's GMV) against what is
 * locked, the sharing permission it buys, paying in (lock) and asking for it back (withdraw).
 */
function DepositCard(props: { accounts: PayoutAccounts; onChanged: () => void }) {
  const { t, tx, lang } = useI18n();
  const [deposit, setDeposit] = useState<CreatorDeposit | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [amount, setAmount] = useState('');
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [accountId, setAccountId] = useState('');
  const lockAttempt = useRef<{ fingerprint: string; key: string } | null>(null);
  const accounts = props.accounts.accounts;
  const chosen = accounts?.find((a) => a.id === accountId) ?? accounts?.[0] ?? null;

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      const d = await api<CreatorDeposit>('GET', `${BASE}/deposit`, { signal });
      setDeposit(d);
      setError(null);
      setAmount((cur) => cur || (d.shortfallFen > 0 ? fenToYuanInput(d.shortfallFen) : ''));
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(err);
    }
  }, []);

  useEffect(() => {
    const ctrl = new AbortController();
    void load(ctrl.signal);
    return () => ctrl.abort();
  }, [load]);

  async function lock(e: FormEvent) {
    e.preventDefault();
    setActionError(null);
    setMessage(null);
    const amountFen = parseYuan(amount);
    if (amountFen === null) {
      setActionError(t('amountInvalid'));
      return;
    }
    const fingerprint = String(amountFen);
    if (lockAttempt.current?.fingerprint !== fingerprint) {
      lockAttempt.current = { fingerprint, key: newIdempotencyKey() };
    }
    setBusy(true);
    try {
      const r = await api<DepositLockResult>('POST', `${BASE}/deposit/lock`, {
        body: { amountFen },
        idempotencyKey: lockAttempt.current.key,
      });
      lockAttempt.current = null;
      const failed = r.payment.status === 'failed';
      if (!failed) setAmount('');
      // The deposit is read again first, so the message and the new figures show together.
      await load();
      if (failed) {
        setActionError(`${t('depositLockFailed')}${r.payment.failureReason ?? ''}`);
      } else {
        setMessage(
          r.payment.status === 'succeeded'
            ? `${t('depositLockOk')} ${formatFen(r.payment.amountFen)}`
            : t('depositLockPending'),
        );
      }
      props.onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) lockAttempt.current = null;
      setActionError(errorText(err, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  async function withdraw() {
    if (!chosen) return;
    setActionError(null);
    setMessage(null);
    setBusy(true);
    try {
      await api<CreatorDeposit>('POST', `${BASE}/deposit/withdrawal`, {
        body: { payoutAccountId: chosen.id },
      });
      setConfirming(false);
      await load();
      setMessage(t('depositWithdrawOk'));
      props.onChanged();
    } catch (err) {
      setActionError(errorText(err, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" data-testid="deposit-card">
      <div className="card-head">
        <h2>{t('depositTitle')}</h2>
        {deposit && (
          <span className={`status deposit-${deposit.status}`} data-testid="deposit-status">
            {tx('depositStatus', deposit.status)}
          </span>
        )}
      </div>
      <LoadError error={error} testId="deposit-error" />
      {!deposit && !error && <p className="muted">{t('loading')}</p>}
      {deposit && (
        <>
          {deposit.frozen && (
            <div className="alert alert-error" data-testid="deposit-frozen">
              {t('depositFrozen')}
              {deposit.frozen.reason}
            </div>
          )}
          <dl className="kv deposit-kv">
            <dt>{t('depositRequired')}</dt>
            <dd>
              <strong data-testid="deposit-required">{formatFen(deposit.requiredFen)}</strong>
              {deposit.requirement && (
                <div className="muted small" data-testid="deposit-rule">
                  {t('depositBase')} {formatFen(deposit.requirement.baseFen)} + {t('depositVariable')}{' '}
                  {formatFen(deposit.requirement.variableFen)} ({t('depositLastMonthGmv')}{' '}
                  {formatFen(deposit.requirement.lastMonthGmvFen)})
                </div>
              )}
            </dd>
            <dt>{t('depositLocked')}</dt>
            <dd>
              <strong data-testid="deposit-locked">{formatFen(deposit.balanceFen)}</strong>
            </dd>
            {deposit.shortfallFen > 0 && deposit.status === 'open' && (
              <>
                <dt>{t('depositShortfall')}</dt>
                <dd className="money-out" data-testid="deposit-shortfall">
                  {formatFen(deposit.shortfallFen)}
                </dd>
              </>
            )}
            <dt>{t('depositSharing')}</dt>
            <dd>
              <span className={`chip sharing-${deposit.sharingPermission}`} data-testid="deposit-sharing">
                {tx('sharing', deposit.sharingPermission)}
              </span>
            </dd>
            {deposit.withdrawal?.reviewEndsAt && (
              <>
                <dt>{t('depositReviewEnds')}</dt>
                <dd data-testid="deposit-review-ends">{formatTime(deposit.withdrawal.reviewEndsAt, lang)}</dd>
              </>
            )}
          </dl>

          {deposit.status === 'open' && (
            <form className="deposit-lock" onSubmit={lock} data-testid="deposit-lock-form">
              <label className="field">
                <span>{t('depositLockAmount')}</span>
                <input
                  data-testid="deposit-amount"
                  inputMode="decimal"
                  autoComplete="off"
                  placeholder="0.00"
                  value={amount}
                  onChange={(e) => setAmount(e.target.value)}
                  required
                />
              </label>
              <div className="form-buttons">
                <button type="submit" className="btn btn-primary" data-testid="deposit-lock" disabled={busy}>
                  {busy ? t('submitting') : t('depositLockSubmit')}
                </button>
                {deposit.balanceFen > 0 && !confirming && (
                  <button
                    type="button"
                    className="btn"
                    data-testid="deposit-withdraw"
                    disabled={busy}
                    onClick={() => setConfirming(true)}
                  >
                    {t('depositWithdraw')}
                  </button>
                )}
              </div>
            </form>
          )}

          {confirming && deposit.status === 'open' && (
            <div className="deposit-withdraw" data-testid="deposit-withdraw-confirm">
              <p className="alert">{t('depositWithdrawNote')}</p>
              {accounts && accounts.length > 0 ? (
                <>
                  <label className="field">
                    <span>{t('withdrawAccount')}</span>
                    <select
                      data-testid="deposit-withdraw-account"
                      value={chosen?.id ?? ''}
                      onChange={(e) => setAccountId(e.target.value)}
                    >
                      {accounts.map((a) => (
                        <option key={a.id} value={a.id}>
                          {a.bankName} {a.accountMask} · {a.holderName}
                        </option>
                      ))}
                    </select>
                  </label>
                  <div className="form-buttons">
                    <button
                      type="button"
                      className="btn btn-primary"
                      data-testid="deposit-withdraw-submit"
                      disabled={busy}
                      onClick={() => void withdraw()}
                    >
                      {t('depositWithdrawConfirm')}
                    </button>
                    <button
                      type="button"
                      className="btn"
                      disabled={busy}
                      onClick={() => setConfirming(false)}
                    >
                      {t('cancel')}
                    </button>
                  </div>
                </>
              ) : (
                <p className="muted small">{t('withdrawNoAccount')}</p>
              )}
            </div>
          )}

          <ErrorBanner message={actionError} testId="deposit-action-error" />
          {message && (
            <div className="alert alert-ok" data-testid="deposit-ok">
              {message}
            </div>
          )}

          {deposit.deductions.length > 0 && (
            <>
              <h3 className="statement-subtitle">{t('depositDeductions')}</h3>
              <ul className="deduction-list small" data-testid="deposit-deductions">
                {deposit.deductions.map((d) => (
                  <li key={d.id}>
                    <span className="muted">{formatTime(d.createdAt, lang)}</span> {tx('deduction', d.kind)}{' '}
                    <strong>{formatFen(d.amountFen)}</strong> ·{' '}
                    {d.kind === 'penalty' ? d.reason : (d.note ?? '')}
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </section>
  );
}

/** Commission by order, newest first, filtered by status (kept by the page across reloads). */
function Commissions(props: { status: string; onStatusChange: (status: string) => void }) {
  const { t, tx, lang } = useI18n();
  const { status } = props;
  const [items, setItems] = useState<Commission[]>([]);
  const [frozen, setFrozen] = useState<CommissionPage['frozen']>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<unknown>(null);
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
        const page = await api<CommissionPage>('GET', `/api/creator/commissions?${q}`);
        if (gen !== generation.current) return;
        setItems((cur) => (append ? [...cur, ...page.items] : page.items));
        setFrozen(page.frozen);
        setCursor(page.nextCursor);
        setLoaded(true);
      } catch (err) {
        if (gen === generation.current) setError(err);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [status],
  );

  useEffect(() => {
    setItems([]);
    setCursor(null);
    setLoaded(false);
    void fetchPage(null, false);
  }, [fetchPage]);

  return (
    <section className="section" data-testid="commissions">
      {frozen && (
        <div className="alert alert-error" role="alert" data-testid="commission-frozen">
          <strong>{t('commissionFrozenTitle')}</strong> {t('commissionFrozenText')}
          <span data-testid="commission-frozen-reason">{frozen.reason}</span>
          <span className="small">
            {' '}
            · {t('commissionFrozenSince')} {formatTime(frozen.since, lang)}
          </span>
        </div>
      )}

      <div className="tabs" role="tablist" data-testid="commission-tabs">
        {['', ...COMMISSION_STATUSES].map((s) => (
          <button
            type="button"
            role="tab"
            key={s || 'all'}
            aria-selected={s === status}
            className={s === status ? 'tab is-active' : 'tab'}
            data-testid={`commission-tab-${s || 'all'}`}
            onClick={() => props.onStatusChange(s)}
          >
            {s ? tx('commission', s) : t('filterAll')}
          </button>
        ))}
      </div>

      <LoadError error={error} testId="commissions-error" />
      {loaded && items.length === 0 && (
        <p className="card muted empty-state" data-testid="commissions-empty">
          {t('commissionsEmpty')}
        </p>
      )}

      {items.length > 0 && (
        <div className="card table-scroll">
          <table className="table" data-testid="commission-list">
            <thead>
              <tr>
                <th>{t('orderId')}</th>
                <th>{t('commissionPaidAt')}</th>
                <th className="num">{t('commissionOrderPaid')}</th>
                <th className="num">{t('commissionAmount')}</th>
                <th>{t('orderStatus')}</th>
                <th>{t('commissionSettledAt')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.orderId} data-testid={`commission-${c.orderId}`}>
                  <td className="mono" data-testid="commission-order">
                    {c.orderId}
                  </td>
                  <td className="nowrap">{formatTime(c.paidAt, lang)}</td>
                  <td className="num">{formatFen(c.paidFen)}</td>
                  <td className="num">
                    <strong data-testid="commission-amount">{formatFen(c.netCommissionFen)}</strong>
                    {c.commissionReversedFen > 0 && (
                      <div className="muted small">
                        {t('commissionReversed')} {formatFen(c.commissionReversedFen)}
                      </div>
                    )}
                  </td>
                  <td>
                    <span className={`status commission-${c.status}`} data-testid="commission-status">
                      {tx('commission', c.status)}
                    </span>
                  </td>
                  <td className="nowrap small" data-testid="commission-settled">
                    {c.settledAt ? (
                      formatTime(c.settledAt, lang)
                    ) : c.settleAfter ? (
                      <span className="muted">
                        {t('commissionSettleAfter')} {formatTime(c.settleAfter, lang)}
                      </span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="load-more">
        {cursor ? (
          <button
            type="button"
            className="btn"
            data-testid="commissions-load-more"
            disabled={loading}
            onClick={() => void fetchPage(cursor, true)}
          >
            {loading ? t('loading') : t('loadMore')}
          </button>
        ) : (
          loaded && items.length > 0 && <span className="muted small">{t('noMore')}</span>
        )}
        {loading && !loaded && <span className="muted">{t('loading')}</span>}
      </div>
    </section>
  );
}
