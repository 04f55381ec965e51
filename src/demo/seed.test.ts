import { and, eq, inArray, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTextValues, tableCounts } from '../../test/db-snapshot.js';
import { startTestApp, type TestContext } from '../../test/harness.js';
import { products, shops } from '../modules/catalog/schema.js';
import { creatorProfiles } from '../modules/creators/schema.js';
import { orders } from '../modules/orders/schema.js';
import { liveRooms, videos } from '../modules/venues/schema.js';
import { DAY } from '../platform/clock.js';
import { idempotencyKeys } from '../platform/schema.js';
import { DEMO_PASSWORD, type DemoSummary, demoBuyers, seedDemo } from './seed.js';

// A smaller story than `npm start` seeds, to keep the suite fast; the steps are the same.
const OPTS = { buyers: 10, orders: 40 };

let t: TestContext;
let demo: DemoSummary;

async function settle() {
  await t.app.paymentProvider.settle();
  await t.app.platform.outbox.drain();
}

/** The demo's orders, found by their idempotency keys (the test database is shared with other files). */
async function demoOrders() {
  const keys = await t.app.platform.db
    .select({ response: idempotencyKeys.response })
    .from(idempotencyKeys)
    .where(and(like(idempotencyKeys.key, 'demo-order-%'), like(idempotencyKeys.scope, '%:create-order')));
  const ids = keys.map((k) => (k.response as { id: string }).id);
  return t.app.platform.db.select().from(orders).where(inArray(orders.id, ids));
}

beforeAll(async () => {
  t = await startTestApp();
  demo = await seedDemo(t.app, t.app.platform.log, OPTS);
  await settle();
});
afterAll(async () => {
  // Other test files share this database and count what their clock-driven sweeps change:
  // leave no demo order waiting on a sweep (delivered ones complete, unpaid ones lapse).
  t.clock.advance(30 * DAY);
  await t.app.platform.jobs.runNow();
  await settle();
  await t.close();
});

describe('demo seed', () => {
  it('returns the live room, the shared password and the demo logins, all of which exist', async () => {
    expect(demo.password).toBe(DEMO_PASSWORD);
    expect(demo.logins.map((l) => l.login)).toEqual([
      'operator',
      'merchant1',
      'staff1',
      'creator1',
      'buyer1',
    ]);
    for (const { login } of demo.logins)
      expect(await t.app.services.identity.findByLogin(login)).not.toBeNull();
    const session = await t.app.services.identity.login('merchant1', DEMO_PASSWORD);
    expect(session.account.roles).toContain('merchant');
    await t.app.services.identity.logout(session.token);
  });

  it('builds approved shops with reviewed products, staff, and creators holding sharing permission', async () => {
    const { identity, catalog } = t.app.services;
    const merchant1 = (await identity.findByLogin('merchant1'))!;
    const shopId = (await identity.getAccount(merchant1.id)).shops.find((s) => s.role === 'owner')!.shopId;
    const staff = (await identity.findByLogin('staff1'))!;
    expect(await identity.shopPermissions(staff.id, shopId)).toEqual(['orders.read', 'orders.ship']);

    const demoShopIds: string[] = [];
    for (const n of [1, 2, 3, 4]) {
      const acc = (await identity.findByLogin(`merchant${n}`))!;
      demoShopIds.push((await identity.getAccount(acc.id)).shops.find((s) => s.role === 'owner')!.shopId);
    }
    const shopRows = await t.app.platform.db.select().from(shops).where(inArray(shops.id, demoShopIds));
    expect(shopRows.map((s) => s.status)).toEqual(['active', 'active', 'active', 'active']);

    const rows = await t.app.platform.db.select().from(products).where(inArray(products.shopId, demoShopIds));
    expect(rows).toHaveLength(40);
    const byStatus = (s: string) => rows.filter((r) => r.reviewStatus === s);
    expect(byStatus('pending')).toHaveLength(2);
    expect(byStatus('rejected')).toHaveLength(1);
    expect(byStatus('rejected')[0]!.reviewReason).toMatch(/水印/);
    expect(byStatus('approved')).toHaveLength(37);
    for (const p of (await catalog.listShopProducts(shopId)).slice(0, 10)) {
      expect(p.skus.length).toBeGreaterThanOrEqual(1);
      expect(p.skus.length).toBeLessThanOrEqual(3);
      for (const s of p.skus) expect(Number.isInteger(s.priceFen) && s.priceFen > 0).toBe(true);
    }

    const creatorIds: string[] = [];
    for (const n of [1, 2, 3, 4, 5]) creatorIds.push((await identity.findByLogin(`creator${n}`))!.id);
    const profiles = await t.app.platform.db
      .select()
      .from(creatorProfiles)
      .where(inArray(creatorProfiles.accountId, creatorIds));
    expect(profiles.map((p) => p.sharingPermission)).toEqual(Array(5).fill('granted'));
    expect(new Set(profiles.map((p) => p.nickname)).size).toBe(5);
  });

  it("puts creator1's room live with a cart and a pinned product; two rooms ended, two scheduled; videos carry anchors", async () => {
    const room = await t.app.services.venues.getRoomForViewer(demo.liveRoomId);
    expect(room.status).toBe('live');
    expect(room.cart.length).toBeGreaterThanOrEqual(6);
    expect(room.cart.length).toBeLessThanOrEqual(8);
    expect(room.pinned).not.toBeNull();
    expect(room.creator.accountId).toBe((await t.app.services.identity.findByLogin('creator1'))!.id);
    expect(room.paidOrders).toBeGreaterThan(0);

    const creatorIds: string[] = [];
    for (const n of [1, 2, 3, 4, 5])
      creatorIds.push((await t.app.services.identity.findByLogin(`creator${n}`))!.id);
    const rooms = await t.app.platform.db
      .select()
      .from(liveRooms)
      .where(inArray(liveRooms.creatorAccountId, creatorIds));
    expect(rooms.map((r) => r.status).sort()).toEqual(['ended', 'ended', 'live', 'scheduled', 'scheduled']);
    const vids = await t.app.platform.db
      .select()
      .from(videos)
      .where(inArray(videos.creatorAccountId, creatorIds));
    expect(vids.length).toBeGreaterThanOrEqual(2);
    for (const v of vids) expect(v.anchorProductId).toMatch(/^prd_/);
  });

  it('places orders from every venue, in every state, spread over two weeks', async () => {
    const rows = await demoOrders();
    expect(rows.length).toBeGreaterThanOrEqual(35);
    const statuses = new Set(rows.map((o) => o.status));
    for (const s of ['pending_payment', 'paid', 'shipped', 'cancelled']) expect(statuses).toContain(s);
    expect(statuses.has('delivered') || statuses.has('completed')).toBe(true);
    expect(new Set(rows.map((o) => o.venueType))).toEqual(new Set(['live_room', 'video', 'search']));
    const live = rows.filter((o) => o.venueType === 'live_room');
    expect(live.length).toBeGreaterThan(rows.length / 2);

    const now = t.clock.now().getTime();
    const ages = rows.map((o) => now - o.createdAt.getTime());
    expect(Math.max(...ages)).toBeGreaterThan(7 * DAY);
    expect(Math.max(...ages)).toBeLessThanOrEqual(14 * DAY);
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(0);
    for (const o of rows.filter((r) => r.trackingNo)) {
      expect(o.trackingNo).toMatch(/^[A-Z]{2,3}[A-HJ-NP-Z]{4}\d{6}$/);
      expect(o.shippedAt!.getTime()).toBeGreaterThan(o.paidAt!.getTime());
    }
    const buyer1 = (await t.app.services.identity.findByLogin('buyer1'))!;
    expect(rows.filter((o) => o.buyerAccountId === buyer1.id).length).toBeGreaterThan(0);
  });

  it('adds nothing when run again, by its quick check or by walking every step', async () => {
    const before = await tableCounts(t.app.platform.db);
    const started = Date.now();
    const again = await seedDemo(t.app, t.app.platform.log, OPTS);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(again).toEqual(demo);
    const forced = await seedDemo(t.app, t.app.platform.log, { ...OPTS, force: true });
    await settle();
    expect(forced).toEqual(demo);
    expect(await tableCounts(t.app.platform.db)).toEqual(before);
    // The demo's clock is put back: the services read the injected clock again.
    expect(t.app.platform.clock).toBe(t.clock);
  });

  it('stores no buyer name, phone or street address in plain text, and logs none', async () => {
    const buyers = demoBuyers(OPTS.buyers);
    const recipients = buyers.flatMap((b) => b.recipients);
    const values = await allTextValues(t.app.platform.db);
    expect(values.length).toBeGreaterThan(1000);
    // A mainland mobile number not glued to other letters or digits. (Identifiers such as a
    // UUID's last group of 12 hex digits can spell an 11-digit run by chance; they are not phones.)
    // Virtual numbers (170/171 ranges, printed on waybills) are meant to be seen.
    const phoneLike = /(?<![0-9A-Za-z-])1(?!7[01])[3-9]\d{9}(?!\d)/;
    expect(values.filter((v) => phoneLike.test(v))).toEqual([]);
    const secrets = [
      ...recipients.map((r) => r.phone),
      ...recipients.map((r) => r.name),
      ...recipients.map((r) => r.detail),
    ];
    const leaks = values.flatMap((v) =>
      secrets.filter((s) => v.includes(s)).map((s) => ({ s, v: v.slice(0, 80) })),
    );
    expect(leaks).toEqual([]);

    const logs = t.logLines.join('\n');
    expect(logs).toContain('demo data seeded');
    for (const s of secrets) expect(logs).not.toContain(s);

    // The masks are what the shop sees.
    const [one] = await demoOrders();
    expect(one!.recipientPhoneMask).toMatch(/^1\d{2}\*{4}\d{4}$/);
    expect(one!.recipientNameMask).toMatch(/^.\*+$/);
  });

  it('places some orders with shop and platform coupons, the discounts taken off what is paid', async () => {
    const rows = await demoOrders();
    const discounted = rows.filter((o) => o.shopDiscountFen + o.platformDiscountFen > 0);
    expect(discounted.length).toBeGreaterThan(0);
    for (const o of rows) expect(o.payableFen).toBe(o.totalFen - o.shopDiscountFen - o.platformDiscountFen);
    const { items } = await t.app.services.promotions.listCoupons({ issuer: 'platform' }, { limit: 100 });
    expect(items.map((c) => c.title)).toContain('双11平台券 满199减20');
  });

  it('counts what it sold: the live room keeps its paid orders and GMV', async () => {
    const rows = await demoOrders();
    const paidLive = rows.filter((o) => o.venueId === demo.liveRoomId && o.paidAt !== null);
    const [room] = await t.app.platform.db.select().from(liveRooms).where(eq(liveRooms.id, demo.liveRoomId));
    expect(room!.paidOrders).toBe(paidLive.length);
    expect(room!.gmvFen).toBe(paidLive.reduce((s, o) => s + o.totalFen, 0));
    expect(paidLive.length).toBeGreaterThan(0);
  });
});
