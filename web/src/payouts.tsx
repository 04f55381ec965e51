import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import {
  ApiError,
  api,
  formatFen,
  formatTime,
  newIdempotencyKey,
  type Page,
  type Payout,
  type PayoutAccount,
  parseYuan,
} from './api.js';
import { ErrorBanner, errorText, LoadError } from './components.js';
import { useI18n } from './i18n.js';

/**
 * The payout accounts (提现账户) under `<base>/payout-accounts` (a shop's or the creator's),
 * shared by the withdrawal form and the deposit's withdrawal.
 */
export function usePayoutAccounts(base: string) {
  const [accounts, setAccounts] = useState<PayoutAccount[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const reload = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const r = await api<{ items: PayoutAccount[] }>('GET', `${base}/payout-accounts`, { signal });
        setAccounts(r.items);
        setError(null);
      } catch (err) {
        if ((err as Error).name !== 'AbortError') setError(err);
      }
    },
    [base],
  );

  useEffect(() => {
    const ctrl = new AbortController();
    void reload(ctrl.signal);
    return () => ctrl.abort();
  }, [reload]);

  return { accounts, error, reload, added: (a: PayoutAccount) => setAccounts((cur) => [...(cur ?? []), a]) };
}

export type PayoutAccounts = ReturnType<typeof usePayoutAccounts>;

export const accountLabel = (a: { bankName?: string; accountLast4?: string; id: string }) =>
  a.bankName ? `${a.bankName} **** ${a.accountLast4 ?? ''}` : a.id;

/** Adds a bank account; the provider keeps the number, the platform only its last four digits. */
function PayoutAccountForm(props: {
  base: string;
  onAdded: (a: PayoutAccount) => void;
  onCancel?: () => void;
}) {
  const { t } = useI18n();
  const [bankName, setBankName] = useState('');
  const [holderName, setHolderName] = useState('');
  const [accountNumber, setAccountNumber] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const a = await api<PayoutAccount>('POST', `${props.base}/payout-accounts`, {
        body: { bankName: bankName.trim(), holderName: holderName.trim(), accountNumber },
      });
      setAccountNumber('');
      props.onAdded(a);
    } catch (err) {
      setError(errorText(err, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="payout-account-form" onSubmit={submit} data-testid="payout-account-form">
      <div className="grid-2">
        <label className="field">
          <span>{t('payoutBank')}</span>
          <input
            data-testid="payout-bank"
            value={bankName}
            placeholder={t('payoutBankPlaceholder')}
            onChange={(e) => setBankName(e.target.value)}
            required
          />
        </label>
        <label className="field">
          <span>{t('payoutHolder')}</span>
          <input
            data-testid="payout-holder"
            autoComplete="name"
            value={holderName}
            onChange={(e) => setHolderName(e.target.value)}
            required
          />
        </label>
        <label className="field span-2">
          <span>{t('payoutNumber')}</span>
          <input
            data-testid="payout-number"
            inputMode="numeric"
            autoComplete="off"
            value={accountNumber}
            onChange={(e) => setAccountNumber(e.target.value.replace(/\D/g, ''))}
            required
          />
        </label>
      </div>
      <p className="muted small">{t('payoutNumberHint')}</p>
      <ErrorBanner message={error} testId="payout-account-error" />
      <div className="form-buttons">
        <button
          type="submit"
          className="btn btn-small btn-primary"
          data-testid="payout-account-save"
          disabled={busy}
        >
          {t('payoutAccountSave')}
        </button>
        {props.onCancel && (
          <button type="button" className="btn btn-small" onClick={props.onCancel} disabled={busy}>
            {t('cancel')}
          </button>
        )}
      </div>
    </form>
  );
}

/**
 * 提现: moves money from the available balance to a payout account. The request carries an
 * Idempotency-Key that is kept while the same withdrawal is retried after a lost answer.
 */
export function WithdrawCard(props: {
  base: string;
  accounts: PayoutAccounts;
  /** After a withdrawal was booked: the page reloads its balances and statement. */
  onWithdrawn: () => void;
}) {
  const { t } = useI18n();
  const { accounts } = props.accounts;
  const [adding, setAdding] = useState(false);
  const [accountId, setAccountId] = useState('');
  const [amount, setAmount] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<Payout | null>(null);
  const [listVersion, setListVersion] = useState(0);
  const attempt = useRef<{ fingerprint: string; key: string } | null>(null);
  const chosen = accounts?.find((a) => a.id === accountId) ?? accounts?.[0] ?? null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setDone(null);
    const amountFen = parseYuan(amount);
    if (amountFen === null) {
      setError(t('amountInvalid'));
      return;
    }
    if (!chosen) return;
    const fingerprint = `${amountFen}:${chosen.id}`;
    if (attempt.current?.fingerprint !== fingerprint)
      attempt.current = { fingerprint, key: newIdempotencyKey() };
    setBusy(true);
    try {
      const payout = await api<Payout>('POST', `${props.base}/withdrawals`, {
        body: { amountFen, payoutAccountId: chosen.id },
        idempotencyKey: attempt.current.key,
      });
      attempt.current = null;
      setDone(payout);
      setAmount('');
      setListVersion((v) => v + 1);
      props.onWithdrawn();
    } catch (err) {
      // A definite refusal ends the attempt; a lost answer keeps its key for the retry.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) attempt.current = null;
      setError(errorText(err, t('networkError')));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" data-testid="withdraw-card">
      <h2>{t('withdrawTitle')}</h2>
      <LoadError error={props.accounts.error} testId="payout-accounts-error" />
      {accounts === null && !props.accounts.error && <p className="muted">{t('loading')}</p>}
      {accounts && accounts.length === 0 && !adding && (
        <p className="muted small" data-testid="withdraw-no-account">
          {t('withdrawNoAccount')}
        </p>
      )}
      {accounts && (accounts.length === 0 || adding) && (
        <PayoutAccountForm
          base={props.base}
          onAdded={(a) => {
            props.accounts.added(a);
            setAccountId(a.id);
            setAdding(false);
          }}
          {...(accounts.length > 0 ? { onCancel: () => setAdding(false) } : {})}
        />
      )}
      {accounts && accounts.length > 0 && !adding && (
        <form className="withdraw-form" onSubmit={submit} data-testid="withdraw-form">
          <label className="field">
            <span>{t('withdrawAccount')}</span>
            <select
              data-testid="withdraw-account"
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
          <label className="field">
            <span>{t('withdrawAmount')}</span>
            <input
              data-testid="withdraw-amount"
              inputMode="decimal"
              autoComplete="off"
              placeholder="0.00"
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              required
            />
          </label>
          <div className="form-buttons">
            <button type="submit" className="btn btn-primary" data-testid="withdraw-submit" disabled={busy}>
              {busy ? t('submitting') : t('withdrawSubmit')}
            </button>
            <button
              type="button"
              className="btn btn-small"
              data-testid="payout-account-add"
              onClick={() => setAdding(true)}
            >
              {t('payoutAccountAdd')}
            </button>
          </div>
        </form>
      )}
      <ErrorBanner message={error} testId="withdraw-error" />
      {done && (
        <div className="alert alert-ok" data-testid="withdraw-ok">
          {t('withdrawOk')} {formatFen(done.amountFen)} → {accountLabel(done.payoutAccount)}
        </div>
      )}
      <Withdrawals key={listVersion} base={props.base} />
    </section>
  );
}

/** The latest payouts (withdrawals and deposits paid back), newest first. */
function Withdrawals(props: { base: string }) {
  const { t, tx, lang } = useI18n();
  const [items, setItems] = useState<Payout[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    api<Page<Payout>>('GET', `${props.base}/withdrawals?limit=10`, { signal: ctrl.signal })
      .then((p) => setItems(p.items))
      .catch((err) => {
        if ((err as Error).name !== 'AbortError') setError(err);
      });
    return () => ctrl.abort();
  }, [props.base]);

  return (
    <div className="withdrawals">
      <h3 className="statement-subtitle">{t('withdrawalsTitle')}</h3>
      <LoadError error={error} testId="withdrawals-error" />
      {items?.length === 0 && (
        <p className="muted small" data-testid="withdrawals-empty">
          {t('withdrawalsEmpty')}
        </p>
      )}
      {items && items.length > 0 && (
        <div className="table-scroll">
          <table className="table" data-testid="withdrawals">
            <thead>
              <tr>
                <th>{t('entryTime')}</th>
                <th>{t('entryKind')}</th>
                <th>{t('withdrawAccount')}</th>
                <th className="num">{t('entryAmount')}</th>
                <th>{t('orderStatus')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr key={p.id} data-testid={`withdrawal-${p.id}`}>
                  <td className="nowrap">{formatTime(p.createdAt, lang)}</td>
                  <td>{tx('purpose', p.purpose)}</td>
                  <td className="small">{accountLabel(p.payoutAccount)}</td>
                  <td className="num">{formatFen(p.amountFen)}</td>
                  <td>
                    <span className={`status payout-${p.status}`} data-testid="withdrawal-status">
                      {tx('payout', p.status)}
                    </span>
                    {p.failureReason && <div className="muted small">{p.failureReason}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
