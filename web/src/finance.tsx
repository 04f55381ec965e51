import { useEffect, useState } from 'react';
import {
  api,
  type Balances,
  downloadWithToken,
  formatFen,
  formatSignedFen,
  formatTime,
  monthRange,
  type Statement,
  type StatementEntry,
} from './api.js';
import { ErrorBanner, errorText, LoadError } from './components.js';
import { useI18n } from './i18n.js';

/** The statement shows at most this many entries per account (the API's page); the CSV has all. */
const ENTRIES_SHOWN = 500;

/**
 * The part of a ledger account name after its owner: `shop:<id>:pending` → `pending`,
 * `shop:<id>:deposit:<categoryId>` → `deposit:<categoryId>`, `creator:<id>:deposit` → `deposit`.
 */
export function bucketOf(account: string): string {
  return account.split(':').slice(2).join(':');
}

function AccountName(props: { account: string }) {
  const { tx } = useI18n();
  const [kind = '', ...rest] = bucketOf(props.account).split(':');
  const detail = rest.join(':');
  return (
    <>
      {tx('account', kind)}
      {detail && <span className="muted small mono"> {detail}</span>}
    </>
  );
}

/** Pending (待结算), available (可提现) and deposits (保证金); remount (a new `key`) to reload. */
export function BalanceCards(props: { url: string }) {
  const { t } = useI18n();
  const [balances, setBalances] = useState<Balances | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    setError(null);
    api<Balances>('GET', props.url, { signal: ctrl.signal })
      .then(setBalances)
      .catch((err) => {
        if ((err as Error).name !== 'AbortError') setError(err);
      });
    return () => ctrl.abort();
  }, [props.url]);

  const depositsFen = balances?.deposits.reduce((sum, d) => sum + d.balanceFen, 0) ?? 0;
  return (
    <section className="section">
      <LoadError error={error} testId="balances-error" />
      <div className="balance-grid" data-testid="balances">
        <div className="card balance-card balance-pending">
          <div className="field-label" data-testid="balance-pending-label">
            {t('balancePending')}
          </div>
          <div className="balance-amount" data-testid="balance-pending">
            {balances ? formatFen(balances.pendingFen) : '—'}
          </div>
          <div className="muted small">{t('balancePendingHint')}</div>
        </div>
        <div className="card balance-card balance-available">
          <div className="field-label" data-testid="balance-available-label">
            {t('balanceAvailable')}
          </div>
          <div className="balance-amount" data-testid="balance-available">
            {balances ? formatFen(balances.availableFen) : '—'}
          </div>
          <div className="muted small">{t('balanceAvailableHint')}</div>
        </div>
        <div className="card balance-card balance-deposit">
          <div className="field-label" data-testid="balance-deposit-label">
            {t('balanceDeposit')}
          </div>
          <div className="balance-amount" data-testid="balance-deposit">
            {balances ? formatFen(depositsFen) : '—'}
          </div>
          {balances && balances.deposits.length > 1 ? (
            <ul className="balance-deposits muted small">
              {balances.deposits.map((d) => (
                <li key={d.account}>
                  <AccountName account={d.account} /> {formatFen(d.balanceFen)}
                </li>
              ))}
            </ul>
          ) : (
            <div className="muted small">{t('balanceDepositHint')}</div>
          )}
        </div>
      </div>
    </section>
  );
}

/**
 * A month's statement from `<base>/statement`: per account opening + in − out = closing, and
 * the entries of every account by time; the CSV (`<base>/statement.csv`) for the same month
 * is fetched with the session token and saved from a blob.
 */
export function StatementSection(props: {
  base: string;
  csvName: string;
  /** `YYYY-MM`, local time (kept by the page, so a reload by `key` keeps it). */
  month: string;
  onMonthChange: (month: string) => void;
}) {
  const { t, tx, lang } = useI18n();
  const { month } = props;
  const [statement, setStatement] = useState<Statement | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const range = monthRange(month);
  const query = range ? new URLSearchParams(range).toString() : null;

  useEffect(() => {
    setStatement(null);
    setError(null);
    if (!query) return;
    const ctrl = new AbortController();
    setLoading(true);
    api<Statement>('GET', `${props.base}/statement?${query}`, { signal: ctrl.signal })
      .then((s) => {
        setStatement(s);
        setLoading(false);
      })
      .catch((err) => {
        if ((err as Error).name === 'AbortError') return;
        setError(err);
        setLoading(false);
      });
    return () => ctrl.abort();
  }, [props.base, query]);

  async function download() {
    if (!query) return;
    setDownloading(true);
    setDownloadError(null);
    try {
      await downloadWithToken(`${props.base}/statement.csv?${query}`, `${props.csvName}-${month}.csv`);
    } catch (err) {
      setDownloadError(errorText(err, t('networkError')));
    } finally {
      setDownloading(false);
    }
  }

  const entries: Array<StatementEntry & { account: string }> = (statement?.accounts ?? [])
    .flatMap((a) => a.entries.map((e) => ({ ...e, account: a.account })))
    .sort((x, y) => x.at.localeCompare(y.at) || x.id - y.id);
  const truncated = statement?.accounts.some((a) => a.entries.length >= ENTRIES_SHOWN) ?? false;

  return (
    <section className="card statement" data-testid="statement">
      <div className="statement-head">
        <h2>{t('statementTitle')}</h2>
        <div className="statement-controls">
          <label className="statement-month">
            <span className="muted small">{t('statementMonth')}</span>
            <input
              type="month"
              data-testid="statement-month"
              value={month}
              required
              onChange={(e) => props.onMonthChange(e.target.value)}
            />
          </label>
          <button
            type="button"
            className="btn btn-small btn-outline"
            data-testid="statement-download"
            disabled={!query || downloading}
            onClick={() => void download()}
          >
            {downloading ? t('statementDownloading') : t('statementDownload')}
          </button>
        </div>
      </div>
      <ErrorBanner message={downloadError} testId="statement-download-error" />
      <LoadError error={error} testId="statement-error" />
      {!query && <p className="muted">{t('statementChooseMonth')}</p>}
      {loading && !statement && <p className="muted">{t('loading')}</p>}

      {statement && (
        <>
          <div className="table-scroll">
            <table className="table" data-testid="statement-summary">
              <thead>
                <tr>
                  <th>{t('statementAccount')}</th>
                  <th className="num">{t('statementOpening')}</th>
                  <th className="num">{t('statementIn')}</th>
                  <th className="num">{t('statementOut')}</th>
                  <th className="num">{t('statementClosing')}</th>
                </tr>
              </thead>
              <tbody>
                {statement.accounts.map((a) => (
                  <tr key={a.account} data-testid={`statement-account-${bucketOf(a.account)}`}>
                    <td>
                      <AccountName account={a.account} />
                    </td>
                    <td className="num" data-testid="statement-opening">
                      {formatFen(a.opening)}
                    </td>
                    <td className="num" data-testid="statement-in">
                      {formatFen(a.in)}
                    </td>
                    <td className="num" data-testid="statement-out">
                      {formatFen(a.out)}
                    </td>
                    <td className="num" data-testid="statement-closing">
                      <strong>{formatFen(a.closing)}</strong>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>

          <h3 className="statement-subtitle">{t('statementEntries')}</h3>
          {entries.length === 0 ? (
            <p className="muted empty-state" data-testid="statement-empty">
              {t('statementEmpty')}
            </p>
          ) : (
            <div className="table-scroll">
              <table className="table" data-testid="statement-entries">
                <thead>
                  <tr>
                    <th>{t('entryTime')}</th>
                    <th>{t('statementAccount')}</th>
                    <th>{t('entryKind')}</th>
                    <th>{t('orderId')}</th>
                    <th className="num">{t('entryAmount')}</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((e) => (
                    <tr key={`${e.account}:${e.id}`} data-testid="statement-entry">
                      <td className="nowrap" data-testid="entry-time">
                        {formatTime(e.at, lang)}
                      </td>
                      <td data-testid="entry-account">
                        <AccountName account={e.account} />
                      </td>
                      <td data-testid="entry-kind" data-kind={e.kind}>
                        {tx('kind', e.kind)}
                      </td>
                      <td className="mono" data-testid="entry-order">
                        {e.orderId ?? '—'}
                      </td>
                      <td
                        className={e.amount < 0 ? 'num money-out' : 'num money-in'}
                        data-testid="entry-amount"
                      >
                        {formatSignedFen(e.amount)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {truncated && <p className="muted small">{t('statementTruncated')}</p>}
        </>
      )}
    </section>
  );
}
