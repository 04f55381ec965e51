/**
 * A server process for the ledger crash test (test/ledger-crash.test.ts), which SIGKILLs it
 * mid-run. It builds the real app on DATABASE_URL or an on-disk PGLITE_DIR and does one of:
 * - load N: books N paid orders through LedgerService.bookOrderPayment and completes them
 *   (delivered, receipt confirmed) 8 days ago, so their settlement is due;
 * - settle: runs the settlement job (small batches: SETTLEMENT_BATCH) and logs each batch;
 * - refund: refunds 30 % of every other order, refund id fixed per order, logging each;
 * - verify: prints the books' verification and per-order settlement counts as JSON.
 * Progress lines go to stdout as JSON so the test can kill it at a chosen point.
 */
import { sql } from 'drizzle-orm';
import { buildApp } from '../../src/app.js';
import { DAY } from '../../src/platform/clock.js';
import { loadConfig } from '../../src/platform/config.js';
import { rowsOf } from '../../src/platform/db.js';
import { ephemeralMasterKey } from '../../src/platform/keys.js';
import { createLogger } from '../../src/platform/logger.js';
import { inTransaction } from '../../src/platform/tx.js';

const [mode, arg] = process.argv.slice(2);
const tag = process.env.CRASH_TAG!;
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const config = loadConfig(process.env, { JOB_INTERVAL_MS: 0, SEED_DEMO: false, LOG_LEVEL: 'debug' });
const logger = createLogger('debug', {
  write: (line: string) => {
    if (line.includes('settlement batch')) say({ batch: JSON.parse(line).settled });
  },
});
const app = await buildApp({ config, logger, masterKey: ephemeralMasterKey(), background: false });
const { ledger } = app.services;
const db = app.platform.db;
const orderId = (i: number) => `ord_${tag}_${String(i).padStart(6, '0')}`;

if (mode === 'load') {
  const n = Number(arg);
  const paidAt = new Date(Date.now() - 12 * DAY);
  for (let i = 0; i < n; i++) {
    const id = orderId(i);
    const paid = 1000 + ((i * 7919) % 50_000);
    await inTransaction(db, async (tx) => {
      await ledger.bookOrderPayment(tx, {
        orderId: id,
        shopId: `shp_${tag}_${i % 7}`,
        paidAt: paidAt.toISOString(),
        payableFen: paid,
        platformDiscountFen: i % 5 === 0 ? 300 : 0,
        creatorAccountId: i % 3 === 0 ? null : `acc_${tag}_${i % 11}`,
        lines: [
          {
            lineId: `${id}_l1`,
            categoryId: `cat_${tag}`,
            paidFen: paid,
            platformDiscountFen: i % 5 === 0 ? 300 : 0,
            commissionBps: 1500,
          },
        ],
      });
      const event = (at: Date) => ({
        id: `evt_${id}`,
        topic: '',
        aggregateId: id,
        payload: { orderId: id },
        createdAt: at,
      });
      await ledger.noteOrderProgress(tx, event(new Date(paidAt.getTime() + 2 * DAY)), 'delivered');
      await ledger.noteOrderProgress(tx, event(new Date(paidAt.getTime() + 3 * DAY)), 'completed');
    });
  }
  say({ loaded: n });
} else if (mode === 'settle') {
  say({ settled: await ledger.settleDue() });
} else if (mode === 'refund') {
  const n = Number(arg);
  for (let i = 0; i < n; i += 2) {
    const id = orderId(i);
    const m = await ledger.orderMoneyOf(db, id);
    await inTransaction(db, (tx) =>
      ledger.bookRefund(tx, {
        refundId: `rfd_${id}`,
        orderId: id,
        amountFen: Math.floor((m!.paidFen * 3) / 10),
      }),
    );
    say({ refunded: id });
  }
  say({ refundsDone: true });
} else if (mode === 'verify') {
  const books = await ledger.verify();
  const [orders] = rowsOf<{
    total: number;
    unsettled: number;
    multi: number;
    wrong_refund: number;
    bad_split: number;
  }>(
    await db.execute(sql`
      with mine as (select * from ledger_order_money where order_id like ${`ord\\_${tag}\\_%`}),
      settlements as (
        select p.order_id, count(*) as n from ledger_postings p join ledger_journals j on j.id = p.journal_id
        where j.kind = 'settlement' and p.order_id like ${`ord\\_${tag}\\_%`} and p.account like 'shop:%:available'
        group by p.order_id)
      select
        (select count(*)::int from mine) as total,
        (select count(*)::int from mine where shop_settled_at is null) as unsettled,
        (select count(*)::int from settlements where n <> 1) as multi,
        (select count(*)::int from mine m where m.refunded_fen <> case
            when substring(m.order_id from '(\\d+)$')::int % 2 = 0 then m.paid_fen * 3 / 10 else 0 end) as wrong_refund,
        (select count(*)::int from mine m where
            m.shop_share_fen - m.shop_share_reversed_fen + m.commission_fen - m.commission_reversed_fen
            + m.fee_fen - m.fee_reversed_fen <> m.paid_fen + m.subsidy_fen - m.refunded_fen - m.subsidy_reversed_fen) as bad_split`),
  );
  say({ books, orders });
}
await app.close();
