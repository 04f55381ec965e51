/**
 * bench:checkout — full HTTP checkouts per second (create order + pay, through the real
 * server over loopback) at 1, 16 and 64 concurrent buyers, against the bare SQL transaction
 * (reserve stock + insert order) measured by this script on the same database.
 * The last line printed is one JSON object.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { hashPassword } from '../src/modules/identity/password.js';
import { newId } from '../src/platform/ids.js';
import { benchApp, closedLoop, percentile, round, vacuumAnalyze } from './common.js';
import { CheckoutLoader } from './http-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
/**
 * Unmeasured checkouts before each level. They warm what a running server has warm (JIT,
 * prepared statements on every pooled connection, caches) and grow the tables; then ANALYZE
 * gives the planner the statistics autovacuum would keep current (this machine's PostgreSQL
 * runs with autovacuum off, and plans chosen while tables were nearly empty stay cached).
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
/** When set, the server thread's CPU profile of each measured checkout phase is written to `<path>.<level>.cpuprofile`. */
const PROFILE = process.env.BENCH_CPU_PROFILE;
const LEVELS = (process.env.BENCH_LEVELS ?? '1,16,64').split(',').map(Number);
const SKU_COUNT = 64;

const app = await benchApp();
const { services, platform } = app;
const db = platform.db;
await app.http.listen({ port: 0, host: '127.0.0.1' });
const address = app.http.server.address();
const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

// --- a selling world: one shop, SKU_COUNT products in a live room, 64 buyers with sessions
const tag = Date.now().toString(36);
const passwordHash = await hashPassword('bench-password');
const mk = (login: string, roles: ('buyer' | 'merchant' | 'creator' | 'operator')[]) =>
  services.identity.createAccount({ login: `${login}-${tag}`, passwordHash, displayName: login, roles });
const operator = await mk('op', ['operator']);
const merchant = await mk('merchant', ['merchant']);
const creator = await mk('creator', ['buyer', 'creator']);
const shop = await services.catalog.createShop(merchant.id, {
  name: `压测小店${tag}`,
  qualification: 'bench',
});
await services.catalog.reviewShop(operator.id, shop.id, 'approve');
const category = await services.catalog.ensureCategory(db, {
  slug: 'beauty',
  nameZh: '美妆个护',
  nameEn: 'Beauty',
});
await services.creators.setSharingPermission(operator.id, creator.id, true, 'bench');
const room = await services.venues.createLiveRoom(creator.id, { title: '压测直播间', description: '' });
const skuIds: string[] = [];
for (let i = 0; i < SKU_COUNT; i++) {
  const p = await services.catalog.createProduct(shop.id, {
    categoryId: category.id,
    title: `压测商品 ${i}`,
    description: '',
    commissionBps: 1500,
    skus: [{ name: '默认', priceFen: 1990 + i, stock: 5_000_000 }],
  });
  await services.catalog.reviewProduct(operator.id, p.id, 'approve');
  await services.venues.addCartItem(creator.id, room.id, p.id);
  skuIds.push(p.skus[0]!.id);
}
await services.venues.transitionLiveRoom(creator.id, room.id, 'live');
const buyers = await Promise.all(
  Array.from({ length: 64 }, async (_, i) => {
    const acc = await mk(`buyer${i}`, ['buyer']);
    return (await services.identity.issueSession(acc.id)).token;
  }),
);
await vacuumAnalyze(app);

let seq = 0;
const pick = () => skuIds[Math.floor(Math.random() * skuIds.length)]!;

/** The bare SQL the anchors' checkout amounts to: reserve stock with a conditional UPDATE and insert the order. */
async function bareSql() {
  const now = new Date().toISOString();
  await db.transaction(async (tx) => {
    const r = await tx.execute(
      sql`update skus set stock = stock - 1 where id = ${pick()} and stock >= 1 returning price_fen`,
    );
    const price = (Array.isArray(r) ? r[0] : (r as any).rows[0])?.price_fen ?? 1990;
    await tx.execute(sql`
      insert into orders (id, shop_id, buyer_account_id, status, total_fen, payable_fen, venue_type, venue_id, creator_account_id,
        recipient_id, recipient_name_mask, recipient_phone_mask, recipient_address_mask, created_at, pay_deadline)
      values (${newId('order')}, ${shop.id}, ${merchant.id}, 'pending_payment', ${price}, ${price}, 'live_room', ${room.id}, ${creator.id},
        'rcp_bench', '王*', '139****5678', '浙江省杭州市西湖区****', ${now}, ${now})`);
  });
}

const results: Record<string, unknown> = {};
// One load generator for every run, so the warm-up warms the client as well as the server.
const loader = new CheckoutLoader();
const checkoutLoad = (concurrency: number, seconds: number) =>
  loader.run({
    base: baseUrl,
    roomId: room.id,
    skuIds,
    tokens: buyers,
    concurrency,
    seconds,
    tag: `${tag}-${seq++}`,
  });

for (const c of LEVELS) {
  if (WARMUP_SECONDS > 0) {
    await checkoutLoad(c, WARMUP_SECONDS);
    await closedLoop(c, WARMUP_SECONDS / 2, () => bareSql());
    await vacuumAnalyze(app);
  }
  const base = await closedLoop(c, SECONDS / 2, () => bareSql());
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const profiler = PROFILE ? new Session() : null;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const load = await checkoutLoad(c, SECONDS);
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(`${PROFILE}.${c}.cpuprofile`, JSON.stringify(profile));
    profiler.disconnect();
  }
  // Where the time went: the server's event loop (main thread) busy share, and the CPU the
  // whole process (server + load generator thread) spent per checkout.
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  if (load.firstError) console.error(load.firstError);
  const sorted = load.latencies.sort((a, b) => a - b);
  const http = {
    perSecond: sorted.length / load.elapsed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: load.errors,
  };
  const row = {
    checkouts_per_s: round(http.perSecond),
    p50_ms: round(http.p50, 2),
    p99_ms: round(http.p99, 2),
    errors: http.errors,
    baseline_tps: round(base.perSecond),
    baseline_p50_ms: round(base.p50, 2),
    ratio: round(http.perSecond / base.perSecond, 3),
    server_loop_busy: round(elu.utilization, 2),
    process_cpu_ms_per_checkout: round((cpu.user + cpu.system) / 1000 / Math.max(1, sorted.length), 2),
  };
  results[String(c)] = row;
  console.log(`concurrency ${c}: ${JSON.stringify(row)}`);
}
await loader.close();
await platform.outbox.drain();
await app.close();
const at16 = results['16'] as { checkouts_per_s: number; baseline_tps: number; ratio: number };
console.log(
  JSON.stringify({
    bench: 'checkout',
    db: app.database.kind,
    seconds_per_level: SECONDS,
    skus: SKU_COUNT,
    levels: results,
    checkouts_per_s: at16.checkouts_per_s,
    baseline_tps: at16.baseline_tps,
    ratio: at16.ratio,
    warmup_seconds_per_level: WARMUP_SECONDS,
    target: 'ratio >= 0.5 at 16 buyers on PostgreSQL',
  }),
);
