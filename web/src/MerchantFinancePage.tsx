import { useState } from 'react';
import { currentMonth } from './api.js';
import { MerchantShell } from './components.js';
import { BalanceCards, StatementSection } from './finance.js';
import { useI18n } from './i18n.js';
import { usePayoutAccounts, WithdrawCard } from './payouts.js';

/**
 * 资金: the shop's balances, withdrawals (提现) and monthly statement. Reading needs the shop's
 * finance.read permission; withdrawing, finance.withdraw (the API refuses it otherwise).
 */
export function MerchantFinancePage() {
  const { t } = useI18n();
  return (
    <MerchantShell title={t('financeTitle')}>
      {(shopId) => <ShopFinance key={shopId} shopId={shopId} />}
    </MerchantShell>
  );
}

function ShopFinance(props: { shopId: string }) {
  const { t } = useI18n();
  // `refresh` reloads everything (the refresh button); `moved` what a withdrawal changes.
  const [refresh, setRefresh] = useState(0);
  const [moved, setMoved] = useState(0);
  const [month, setMonth] = useState(currentMonth);
  const base = `/api/shops/${props.shopId}/finance`;
  const accounts = usePayoutAccounts(base);
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
      <BalanceCards key={`balances-${version}`} url={`${base}/balances`} />
      <WithdrawCard
        key={`withdraw-${refresh}`}
        base={base}
        accounts={accounts}
        onWithdrawn={() => setMoved((v) => v + 1)}
      />
      <StatementSection
        key={`statement-${version}`}
        base={base}
        csvName={`statement-${props.shopId}`}
        month={month}
        onMonthChange={setMonth}
      />
    </>
  );
}
