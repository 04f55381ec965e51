/**
 * bench:settlement (issue #4) — the settlement job over 1,000,000 completed orders waiting
 * (after-sales window passed, no open case), and the time to produce one shop's monthly
 * statement (summary + first page of entries, and the full CSV).
 *
 * The waiting orders are loaded in SQL straight into the ledger (the split booked as pending
 * postings, exactly as the `order.paid` handler books it: one payment journal per chunk),
 * spread over BENCH_SHOPS shops (200) and BENCH_CREATORS creators (1,000; every 4th order has
 * no creator). Then `LedgerService.settleDue()` — the job itself — runs to the end, and the
 * books are verified.
 *
 * PostgreSQL only (DATABASE_URL). A database whose name starts with `livecart_bench` is
 * dropped and created afresh first, so every run starts from the same state; any other
 * database just gets BENCH_ORDERS more rows. Knobs: BENCH_ORDERS (1,000,000), BENCH_CHUNK
 * (50,000 orders a loading transaction), SETTLEMENT_BATCH (the job's batch, 5,000).
 * The last line printed is one JSON object.
 */
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { shopAccount } from '../src/modules/ledger/accounts.js';
import { localMonth, startOfLocalDay } from '../src/platform/clock.js';
import { rowsOf } from '../src/platform/db.js';
import { inTransaction } from '../src/platform/tx.js';
import { benchApp, round } from './common.js';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    'bench:settlement needs PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/livecart_bench_settlement',
  );
  process.exit(2);
}
const dbName = new URL(url).pathname.slice(1);
if (dbName.startsWith('livecart_bench')) {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const pg = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  await pg.unsafe(`drop database if exists "${dbName}" with (force)`);
  await pg.unsafe(`create database "${dbName}"`);
  await pg.end();
}

const ORDERS = Number(process.env.BENCH_ORDERS ?? 1_000_000);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 50_000);
const SHOPS = Number(process.env.BENCH_SHOPS ?? 200);
const CREATORS = Number(process.env.BENCH_CREATORS ?? 1_000);
const TARGETS = { orders_settled_per_s: 5_000, statement_ms: 1_000 };

const app = await benchApp();
const { platform, services } = app;
const db = platform.db;
const log = (msg: string) => console.log(`[bench:settlement] ${msg}`);
const run = Date.now().toString(36);
const now = new Date();
const offset = platform.config.PLATFORM_UTC_OFFSET_MINUTES;
const monthStart = startOfLocalDay(`${localMonth(now, offset)}-01`, offset);

// --- load: completed orders whose settlement is due, paid over the last 30 days ---------------
let t0 = performance.now();
for (let lo = 1; lo <= ORDERS; lo += CHUNK) {
  const hi = Math.min(ORDERS, lo + CHUNK - 1);
  const jid = `jnl_bench_${run}_${lo}`;
  await inTransaction(db, async (tx) => {
    await tx.execute(sql`insert into ledger_journals (id, kind, ref, memo, created_at)
      values (${jid}, 'payment', ${jid}, 'bench load', ${now.toISOString()})`);
    // The orders and their payment postings, as bookOrderPayment writes them (cash and fee
    // summed per chunk), in one statement.
    await tx.execute(sql`
      with m as (
        insert into ledger_order_money (order_id, shop_id, creator_account_id, paid_fen, subsidy_fen,
          shop_share_fen, commission_fen, fee_fen, paid_at, delivered_at, completed_at, settle_after, commission_status)
        select o.order_id, o.shop_id, o.creator, o.paid, 0, o.paid - o.commission - o.fee, o.commission, o.fee,
          o.paid_at, o.paid_at + interval '2 days', o.paid_at + interval '3 days',
          ${now.toISOString()}::timestamptz - interval '1 minute', 'pending'
        from (
          select 'ord_b' || ${run} || '_' || g as order_id,
                 'shp_b' || ${run} || '_' || (g % ${SHOPS}) as shop_id,
                 case when g % 4 = 0 then null else 'acc_b' || ${run} || '_' || (g % ${CREATORS}) end as creator,
                 p as paid,
                 case when g % 4 = 0 then 0 else p * 2000 / 10000 end as commission,
                 p * 200 / 10000 as fee,
                 ${now.toISOString()}::timestamptz - (g % 30) * interval '1 day' - interval '1 hour' as paid_at
          from (select g, 1000 + (g * 7919) % 90000 as p from generate_series(${lo}::bigint, ${hi}::bigint) g) s
        ) o
        returning *
      )
      insert into ledger_postings (journal_id, account, amount, order_id, created_at)
      select ${jid}, 'shop:' || shop_id || ':pending', -shop_share_fen, order_id, paid_at from m
      union all
      select ${jid}, 'creator:' || creator_account_id || ':pending', -commission_fen, order_id, paid_at
        from m where creator_account_id is not null
      union all
      select ${jid}, 'platform:clearing', sum(paid_fen), null, ${now.toISOString()}::timestamptz from m
      union all
      select ${jid}, 'platform:fee_pending', -sum(fee_fen), null, ${now.toISOString()}::timestamptz from m`);
  });
  if ((hi / CHUNK) % 5 === 0 || hi === ORDERS)
    log(`loaded ${hi} orders (${round((performance.now() - t0) / 1000)} s)`);
}
await db.execute(sql`vacuum analyze ledger_order_money`);
await db.execute(sql`analyze`);

// --- the settlement job ------------------------------------------------------------------------
t0 = performance.now();
const settled = await services.ledger.settleDue();
const settleSeconds = (performance.now() - t0) / 1000;
log(`settled ${settled} orders in ${round(settleSeconds, 2)} s`);
const [left] = rowsOf<{ n: number }>(
  await db.execute(sql`select count(*)::int as n from ledger_order_money
                       where order_id like ${`ord_b${run}\\_%`} and shop_settled_at is null`),
);

// --- one shop's monthly statement --------------------------------------------------------------
const shopId = `shp_b${run}_7`;
const accounts = [shopAccount(shopId, 'pending'), shopAccount(shopId, 'available')];
const monthEnd = new Date(now.getTime() + 60_000);
const stTimes: number[] = [];
const csvTimes: number[] = [];
let entries = 0;
let csvLines = 0;
for (let i = 0; i < 5; i++) {
  let s = performance.now();
  const st = await services.ledger.statement(accounts, monthStart, monthEnd);
  stTimes.push(performance.now() - s);
  entries = st.accounts.reduce((n, a) => n + a.entries.length, 0);
  s = performance.now();
  let lines = 0;
  for await (const chunk of services.ledger.statementCsv(accounts, monthStart, monthEnd)) {
    lines += chunk.split('\n').length - 1;
  }
  csvTimes.push(performance.now() - s);
  csvLines = lines;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

t0 = performance.now();
const verify = await services.ledger.verify();
const verifySeconds = (performance.now() - t0) / 1000;
await app.close();

const result = {
  bench: 'settlement',
  db: app.database.kind,
  orders_waiting: ORDERS,
  orders_settled: settled,
  orders_left_unsettled: left?.n ?? -1,
  settle_seconds: round(settleSeconds, 2),
  orders_settled_per_s: Math.round(settled / settleSeconds),
  settlement_batch: platform.config.SETTLEMENT_BATCH,
  statement_ms: round(median(stTimes), 1),
  statement_entries_returned: entries,
  statement_csv_ms: round(median(csvTimes), 1),
  statement_csv_lines: csvLines,
  books_ok: verify.ok,
  verify_seconds: round(verifySeconds, 2),
  targets: TARGETS,
  met: {
    orders_settled_per_s: settled / settleSeconds >= TARGETS.orders_settled_per_s,
    statement_ms: median(stTimes) < TARGETS.statement_ms && median(csvTimes) < TARGETS.statement_ms,
  },
};
console.log(JSON.stringify(result));
