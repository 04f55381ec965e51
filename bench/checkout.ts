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
import { benchApp, closedLoop, databaseCpu, percentile, round, vacuumAnalyze } from './common.js';
import { CheckoutLoader } from './http-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
/**
 * Unmeasured checkouts before each level. They warm what a running server has warm (JIT,
 * prepared statements on every pooled connection, caches) and grow the tables; then ANALYZE
 * gives the planner the statistics autovacuum would keep current (this machine's PostgreSQL
 * runs with autovacuum off, and plans chosen while tables were nearly empty stay cached).
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
/**
 * Checkouts before the first level, so the levels measure the server as it runs for hours, with
 * its code compiled. V8 tiers the checkout code up over tens of seconds (the group commits run
 * ~100 times a second): in a 60-second run at 16 buyers its optimising compiler used 1.4 s of
 * CPU in the first 5 seconds, 0.3 s in the third and under 0.1 s from the seventh on. After
 * only the per-level warm-up it took ~10% of this 2-core machine's CPU during the measurement.
 */
const JIT_WARMUP_SECONDS = Number(process.env.BENCH_JIT_WARMUP_SECONDS ?? 20);
/** When set, the server thread's CPU profile of each measured checkout slice is written to `<path>.<level>.<round>.cpuprofile`. */
const PROFILE = process.env.BENCH_CPU_PROFILE;
const LEVELS = (process.env.BENCH_LEVELS ?? '1,16,64').split(',').map(Number);
/** Turns the bare transactions and the checkouts take at each level (see the level loop). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
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

if (JIT_WARMUP_SECONDS > 0) await checkoutLoad(16, JIT_WARMUP_SECONDS);
for (const c of LEVELS) {
  if (WARMUP_SECONDS > 0) {
    await checkoutLoad(c, WARMUP_SECONDS);
    await closedLoop(c, WARMUP_SECONDS / 2, () => bareSql());
    await vacuumAnalyze(app);
  }
  // The bare transactions and the checkouts take turns, ROUNDS times, so both see the same
  // machine: on these shared machines the CPU's speed drifts by tens of percent within a
  // minute, and phases measured one after the other compared different machines.
  const baseLatencies: number[] = [];
  let baseSeconds = 0;
  const latencies: number[] = [];
  let checkoutSeconds = 0;
  let errors = 0;
  let firstError: string | null = null;
  let busy = 0;
  let cpuMicros = 0;
  // CPU per operation, split between this process (server and load generator) and the
  // PostgreSQL backends (when the database runs on this machine), for both sides of the ratio.
  let baseCpuMicros = 0;
  let basePgMs = 0;
  let pgMs = 0;
  const pgCpu = await databaseCpu(app);
  const profiler = PROFILE ? new Session() : null;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
  }
  for (let round = 0; round < ROUNDS; round++) {
    const basePg0 = await pgCpu?.snapshot();
    const baseCpu0 = process.cpuUsage();
    const base = await closedLoop(c, SECONDS / 2 / ROUNDS, () => bareSql());
    const baseCpu = process.cpuUsage(baseCpu0);
    baseCpuMicros += baseCpu.user + baseCpu.system;
    if (basePg0) basePgMs += await pgCpu!.since(basePg0);
    baseLatencies.push(...base.latencies);
    baseSeconds += base.elapsed;
    const pg0 = await pgCpu?.snapshot();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    if (profiler) await profiler.post('Profiler.start');
    const load = await checkoutLoad(c, SECONDS / ROUNDS);
    // The events of these checkouts (ledger, counters) are delivered within the slice's time,
    // not in the next bare-transaction slice.
    const drained = performance.now();
    await platform.outbox.drain();
    checkoutSeconds += load.elapsed + (performance.now() - drained) / 1000;
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(`${PROFILE}.${c}.${round}.cpuprofile`, JSON.stringify(profile));
    }
    // Where the time went: the server's event loop (main thread) busy time, and the CPU the
    // whole process (server + load generator thread) spent.
    busy += performance.eventLoopUtilization(elu0).active;
    const cpu = process.cpuUsage(cpu0);
    cpuMicros += cpu.user + cpu.system;
    if (pg0) pgMs += await pgCpu!.since(pg0);
    latencies.push(...load.latencies);
    errors += load.errors;
    firstError ??= load.firstError;
  }
  profiler?.disconnect();
  if (firstError) console.error(firstError);
  const sorted = latencies.sort((a, b) => a - b);
  const baseSorted = baseLatencies.sort((a, b) => a - b);
  const http = {
    perSecond: sorted.length / checkoutSeconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors,
  };
  const base = { perSecond: baseSorted.length / baseSeconds, p50: percentile(baseSorted, 50) };
  const row = {
    checkouts_per_s: round(http.perSecond),
    p50_ms: round(http.p50, 2),
    p99_ms: round(http.p99, 2),
    errors: http.errors,
    baseline_tps: round(base.perSecond),
    baseline_p50_ms: round(base.p50, 2),
    ratio: round(http.perSecond / base.perSecond, 3),
    server_loop_busy: round(busy / (checkoutSeconds * 1000), 2),
    process_cpu_ms_per_checkout: round(cpuMicros / 1000 / Math.max(1, sorted.length), 2),
    baseline_process_cpu_ms_per_tx: round(baseCpuMicros / 1000 / Math.max(1, baseSorted.length), 2),
    db_cpu_ms_per_checkout: pgCpu ? round(pgMs / Math.max(1, sorted.length), 2) : null,
    baseline_db_cpu_ms_per_tx: pgCpu ? round(basePgMs / Math.max(1, baseSorted.length), 2) : null,
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
    jit_warmup_seconds: JIT_WARMUP_SECONDS,
    target: 'ratio >= 0.5 at 16 buyers on PostgreSQL',
  }),
);
