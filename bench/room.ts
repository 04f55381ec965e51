/**
 * bench:room (issue #5) — 5,000 WebSocket viewers in one live room on one node: messages
 * delivered per second and the delay from publish to receipt (p50/p99) with 10 room events a
 * second (comments through the bus, as a viewer's comment goes), likes coalesced into
 * counters, and purchases in the room moving the pinned product's stock counter meanwhile.
 * Viewers and buyers run in worker threads. The last line printed is one JSON object.
 *
 * Knobs: BENCH_VIEWERS (5,000), BENCH_SECONDS (20), BENCH_EVENTS_PER_S (10), BENCH_LIKERS
 * (500 viewers like once a second), BENCH_BUYERS (4 concurrent buyers), LIVE_TICK_MS.
 * PostgreSQL when DATABASE_URL is set, else an in-memory PGlite.
 */
import { hashPassword } from '../src/modules/identity/password.js';
import { benchApp, percentile, round } from './common.js';
import { runCheckoutLoad } from './http-load.js';
import { runViewers } from './room-viewers.js';

const VIEWERS = Number(process.env.BENCH_VIEWERS ?? 5_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const EVENTS_PER_S = Number(process.env.BENCH_EVENTS_PER_S ?? 10);
const LIKERS = Number(process.env.BENCH_LIKERS ?? 500);
const BUYERS = Number(process.env.BENCH_BUYERS ?? 4);
const TARGET_P99_MS = 250;

const app = await benchApp();
const { services, platform } = app;
await app.http.listen({ port: 0, host: '127.0.0.1' });
const address = app.http.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

// --- one live room with one pinned product
const tag = Date.now().toString(36);
const passwordHash = await hashPassword('bench-password');
const mk = (login: string, roles: ('buyer' | 'merchant' | 'creator' | 'operator')[]) =>
  services.identity.createAccount({ login: `${login}-${tag}`, passwordHash, displayName: login, roles });
const operator = await mk('op', ['operator']);
const merchant = await mk('merchant', ['merchant']);
const creator = await mk('creator', ['buyer', 'creator']);
const shop = await services.catalog.createShop(merchant.id, {
  name: `直播压测小店${tag}`,
  qualification: 'bench',
});
await services.catalog.reviewShop(operator.id, shop.id, 'approve');
const category = await services.catalog.ensureCategory(platform.db, {
  slug: 'beauty',
  nameZh: '美妆个护',
  nameEn: 'Beauty',
});
await services.creators.setSharingPermission(operator.id, creator.id, true, 'bench');
const room = await services.venues.createLiveRoom(creator.id, { title: '万人直播间', description: '' });
const product = await services.catalog.createProduct(shop.id, {
  categoryId: category.id,
  title: '爆款补水面膜',
  description: '',
  commissionBps: 1500,
  skus: [{ name: '10片/盒', priceFen: 9900, stock: 5_000_000 }],
});
await services.catalog.reviewProduct(operator.id, product.id, 'approve');
const item = await services.venues.addCartItem(creator.id, room.id, product.id);
await services.venues.transitionLiveRoom(creator.id, room.id, 'live');
await services.venues.pinCartItem(creator.id, room.id, item.id);
await platform.outbox.drain();
const buyerTokens = await Promise.all(
  Array.from({ length: Math.max(1, BUYERS) }, async (_, i) => {
    const acc = await mk(`buyer${i}`, ['buyer']);
    return (await services.identity.issueSession(acc.id)).token;
  }),
);

// --- viewers join, then the room runs for SECONDS
const log = (m: string) => console.log(`[bench:room] ${m}`);
const viewers = runViewers({ base, roomId: room.id, viewers: VIEWERS, seconds: SECONDS, likers: LIKERS });
const connected = await viewers.ready;
log(`${connected} viewers connected; hub counts ${app.hub.viewerCount(room.id)}`);
await new Promise((r) => setTimeout(r, 1000));

const framesBefore = app.hub.framesSent;
viewers.start();
const buying =
  BUYERS > 0
    ? runCheckoutLoad({
        base,
        roomId: room.id,
        skuIds: [product.skus[0]!.id],
        tokens: buyerTokens,
        concurrency: BUYERS,
        seconds: SECONDS,
        tag,
      })
    : null;
let published = 0;
const started = Date.now();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    if (Date.now() - started >= SECONDS * 1000) {
      clearInterval(timer);
      return resolve();
    }
    published++;
    void app.bus.publishRoom(room.id, 'comment', { nickname: '观*', text: `第${published}条弹幕` });
  }, 1000 / EVENTS_PER_S);
});
const result = await viewers.result;
const purchases = buying ? await buying : null;
const framesSent = app.hub.framesSent - framesBefore;
await app.close();

// --- figures
const total = result.histogram.reduce((a, b) => a + b, 0);
const pct = (p: number) => {
  let seen = 0;
  const want = Math.ceil((p / 100) * total);
  for (let ms = 0; ms < result.histogram.length; ms++) {
    seen += result.histogram[ms]!;
    if (seen >= want) return ms;
  }
  return result.histogram.length - 1;
};
const out = {
  bench: 'room',
  db: app.database.kind,
  viewers: VIEWERS,
  connected,
  seconds: SECONDS,
  events_published: published,
  events_per_s: round(published / SECONDS, 1),
  tick_ms: platform.config.LIVE_TICK_MS,
  frames_sent: framesSent,
  frames_received: result.frames,
  messages_delivered: result.events + result.counters,
  messages_delivered_per_s: Math.round((result.events + result.counters) / SECONDS),
  events_delivered: result.events,
  events_expected: published * connected,
  counters_delivered: result.counters,
  delay_p50_ms: pct(50),
  delay_p99_ms: pct(99),
  delay_max_ms: pct(100),
  viewers_cut_off: result.closedEarly,
  purchases_per_s: purchases ? round(purchases.latencies.length / purchases.elapsed, 1) : 0,
  purchase_p50_ms: purchases
    ? round(
        percentile(
          [...purchases.latencies].sort((a, b) => a - b),
          50,
        ),
        1,
      )
    : 0,
  target_p99_ms: TARGET_P99_MS,
  met: pct(99) < TARGET_P99_MS,
};
console.log(JSON.stringify(out));
