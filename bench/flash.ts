/**
 * bench:flash — a flash sale of 10,000 units with 5,000 concurrent buyers through the HTTP API
 * (the real server over loopback; the buyers in a worker thread on keep-alive connections),
 * against the naive technique the anchors use, measured by this script on the same database
 * with the same concurrency: one transaction that decrements a single stock row with a
 * conditional UPDATE and inserts the order. PostgreSQL only (DATABASE_URL).
 * The last line printed is one JSON object.
 */
import { eq, sql } from 'drizzle-orm';
import { skus } from '../src/modules/catalog/schema.js';
import { flashSaleBuckets, flashSaleReservations } from '../src/modules/flashsales/schema.js';
import { rowsOf } from '../src/platform/db.js';
import { newId } from '../src/platform/ids.js';
import { benchApp, percentile, round, vacuumAnalyze } from './common.js';
import { runFlashLoad } from './flash-load.js';

if (!process.env.DATABASE_URL) {
  console.error(
    'bench:flash runs on PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/livecart_bench).',
  );
  process.exit(2);
}

const UNITS = Number(process.env.BENCH_UNITS ?? 10_000);
const BUYERS = Number(process.env.BENCH_BUYERS ?? 5_000);
const LIMIT = Number(process.env.BENCH_LIMIT ?? 5);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 120);
const SERIAL_UNITS = Number(process.env.BENCH_SERIAL_UNITS ?? 2_000);

const app = await benchApp();
const { services, platform } = app;
const db = platform.db;
const poolMax = platform.config.DB_POOL_MAX;
// A deep accept queue: 5,000 buyers connect at once (the kernel caps it at somaxconn).
await app.http.listen({ port: 0, host: '127.0.0.1', backlog: 8192 });
const address = app.http.server.address();
const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

// --- a selling world: one shop, one product in a live room, BUYERS buyers with sessions ---
const tag = Date.now().toString(36);
const mk = (login: string, roles: ('buyer' | 'merchant' | 'creator' | 'operator')[]) =>
  services.identity.createAccount({
    login: `${login}-${tag}`,
    passwordHash: 'bench',
    displayName: login,
    roles,
  });
const operator = await mk('op', ['operator']);
const merchant = await mk('merchant', ['merchant']);
const creator = await mk('creator', ['buyer', 'creator']);
const shop = await services.catalog.createShop(merchant.id, {
  name: `秒杀小店${tag}`,
  qualification: 'bench',
});
await services.catalog.reviewShop(operator.id, shop.id, 'approve');
const category = await services.catalog.ensureCategory(db, {
  slug: 'beauty',
  nameZh: '美妆个护',
  nameEn: 'Beauty',
});
await services.creators.setSharingPermission(operator.id, creator.id, true, 'bench');
const room = await services.venues.createLiveRoom(creator.id, { title: '秒杀压测直播间', description: '' });
const product = await services.catalog.createProduct(shop.id, {
  categoryId: category.id,
  title: '秒杀压测商品',
  description: '',
  commissionBps: 1500,
  skus: [
    { name: '秒杀', priceFen: 19_900, stock: UNITS },
    { name: '直降', priceFen: 19_900, stock: UNITS },
  ],
});
await services.catalog.reviewProduct(operator.id, product.id, 'approve');
const item = await services.venues.addCartItem(creator.id, room.id, product.id);
await services.venues.transitionLiveRoom(creator.id, room.id, 'live');
const flashSku = product.skus.find((s) => s.name === '秒杀')!.id;
const naiveSku = product.skus.find((s) => s.name === '直降')!.id;
const tokens: string[] = [];
for (let i = 0; i < BUYERS; i += 200) {
  tokens.push(
    ...(await Promise.all(
      Array.from({ length: Math.min(200, BUYERS - i) }, async (_, j) => {
        const acc = await mk(`buyer${i + j}`, ['buyer']);
        return (await services.identity.issueSession(acc.id)).token;
      }),
    )),
  );
}
await vacuumAnalyze(app);

// --- the naive technique: BUYERS concurrent buyers, each one transaction per purchase on the one stock row
async function naiveSale(concurrency: number) {
  let sold = 0;
  let last = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        try {
          const got = await db.transaction(async (tx) => {
            const r = rowsOf<{ price_fen: number }>(
              await tx.execute(
                sql`update skus set stock = stock - 1 where id = ${naiveSku} and stock >= 1 returning price_fen`,
              ),
            );
            if (r.length === 0) return false;
            const now = new Date().toISOString();
            await tx.execute(sql`
              insert into orders (id, shop_id, buyer_account_id, status, total_fen, payable_fen, venue_type, venue_id,
                creator_account_id, recipient_id, recipient_name_mask, recipient_phone_mask, recipient_address_mask,
                created_at, pay_deadline)
              values (${newId('order')}, ${shop.id}, ${merchant.id}, 'pending_payment', ${r[0]!.price_fen}, ${r[0]!.price_fen},
                'live_room', ${room.id}, ${creator.id}, 'rcp_bench', '王*', '139****5678', '浙江省杭州市西湖区****', ${now}, ${now})`);
            return true;
          });
          if (!got) return;
          sold++;
          last = performance.now();
        } catch (err) {
          if (errors++ === 0) console.error(err);
          return;
        }
      }
    }),
  );
  const seconds = (last - started) / 1000;
  return { sold, seconds, tps: sold / seconds, errors };
}

console.log(
  `naive: ${BUYERS} concurrent buyers on one stock row of ${UNITS} (pool of ${poolMax} connections)…`,
);
const naive = await naiveSale(BUYERS);
console.log(`naive: ${naive.sold} sold in ${naive.seconds.toFixed(2)} s → ${round(naive.tps)} per s`);
// For context: the same row with one buyer at a time (no lock queue), the best a single row does.
await services.catalog.adjustStock(shop.id, naiveSku, SERIAL_UNITS);
const serial = await naiveSale(1);
console.log(`naive, one buyer at a time: ${serial.sold} sold → ${round(serial.tps)} per s`);

// --- the flash sale through HTTP
const now = new Date();
const slot = await services.flashSales.scheduleByCreator(creator.id, room.id, {
  cartItemId: item.id,
  skuId: flashSku,
  startsAt: now,
  endsAt: new Date(now.getTime() + 3_600_000),
  priceFen: 9_900,
  quantity: UNITS,
  perBuyerLimit: LIMIT,
});
const before = { ...services.flashSales.stats };
console.log(`flash: ${BUYERS} buyers, ${UNITS} units in ${slot.bucketCount} buckets, limit ${LIMIT}…`);
const load = await runFlashLoad({ base: baseUrl, slotId: slot.id, tokens, tag, maxSeconds: MAX_SECONDS });
if (load.firstError) console.error(load.firstError);
await services.flashSales.settle();
const batches = services.flashSales.stats.batches - before.batches;
const batched = services.flashSales.stats.requests - before.requests;

// --- what the database says: reserved units against the slot's quantity, buyers over the limit
const [held] = rowsOf<{ units: number; over: number }>(
  await db.execute(sql`
    select coalesce(sum(units), 0)::int as units, count(*) filter (where units > ${LIMIT})::int as over
    from (select buyer_account_id, sum(quantity) as units from ${flashSaleReservations}
          where slot_id = ${slot.id} and status in ('reserved', 'ordered') group by buyer_account_id) b`),
);
const [left] = await db
  .select({
    n: sql<number>`coalesce(sum(${flashSaleBuckets.remaining}), 0)::int`,
    low: sql<number>`min(${flashSaleBuckets.remaining})::int`,
  })
  .from(flashSaleBuckets)
  .where(eq(flashSaleBuckets.slotId, slot.id));
const [naiveLeft] = await db.select({ stock: skus.stock }).from(skus).where(eq(skus.id, naiveSku));
const reservedUnits = Number(held!.units);
const oversold = Math.max(0, reservedUnits - UNITS) + (Number(left!.low) < 0 ? 1 : 0);
await platform.outbox.drain();
await app.close();

const sorted = load.latencies.sort((a, b) => a - b);
const purchasesPerSecond = load.purchases / load.sellSeconds;
console.log(
  JSON.stringify({
    bench: 'flash',
    db: app.database.kind,
    units: UNITS,
    buyers: BUYERS,
    per_buyer_limit: LIMIT,
    purchases: load.purchases,
    purchases_per_s: round(purchasesPerSecond),
    sell_out_s: round(load.sellSeconds, 2),
    p50_ms: round(percentile(sorted, 50), 1),
    p99_ms: round(percentile(sorted, 99), 1),
    sold_out_answers: load.soldOut,
    limit_answers: load.limit,
    http_errors: load.errors,
    batches,
    avg_batch: round(batched / Math.max(1, batches), 1),
    reserved_units: reservedUnits,
    units_left: Number(left!.n),
    buyers_over_limit: Number(held!.over),
    oversold,
    naive_tps: round(naive.tps),
    naive_sold: naive.sold,
    naive_serial_tps: round(serial.tps),
    naive_stock_left: naiveLeft?.stock ?? null,
    naive_note: `same ${BUYERS} concurrent buyers as direct SQL transactions, limited by the pool of ${poolMax} connections (the server's own pool size)`,
    ratio: round(purchasesPerSecond / naive.tps, 2),
    ratio_vs_serial: round(purchasesPerSecond / serial.tps, 2),
    target: 'ratio >= 3, oversold = 0',
  }),
);
