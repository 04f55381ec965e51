import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerPostings } from '../src/modules/ledger/schema.js';
import { couponClaims, coupons, redEnvelopeRains, redEnvelopes } from '../src/modules/promotions/schema.js';
import { DAY, HOUR, MINUTE } from '../src/platform/clock.js';
import { AppError } from '../src/platform/errors.js';
import { newId } from '../src/platform/ids.js';
import { tableCounts } from './db-snapshot.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext, unique } from './harness.js';
import { ChannelClient } from './live-client.js';

let t: TestContext;
let base: string;
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.http.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t.close());

type World = Awaited<ReturnType<typeof sellingWorld>>;

const drain = () => t.app.platform.outbox.drain();
const sweep = async () =>
  (await t.app.platform.jobs.runNow('promotions.rain-clock'))['promotions.rain-clock'];

function startRain(w: World, body: Record<string, unknown>, token = w.creator.token) {
  return t.request({ method: 'POST', url: `/api/live-rooms/${w.room.id}/rains`, token, payload: body });
}

async function rainIn(w: World, body: Record<string, unknown>, token?: string) {
  const res = await startRain(w, { durationSeconds: 60, ...body }, token);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; status: string; count: number; budgetFen: number; endsAt: string };
}

const grab = (token: string, rainId: string) =>
  t.request({ method: 'POST', url: `/api/rains/${rainId}/grab`, token });

async function envelopesOf(rainId: string) {
  return t.app.platform.db.select().from(redEnvelopes).where(eq(redEnvelopes.rainId, rainId));
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

/** Many buyer accounts with sessions, inserted in bulk (20,000 sign-ups through HTTP take minutes). */
async function bulkBuyers(n: number): Promise<{ id: string; token: string }[]> {
  const now = t.clock.now();
  const prefix = unique('viewer');
  const out = Array.from({ length: n }, () => ({
    id: newId('account'),
    token: `lc_${randomBytes(24).toString('base64url')}`,
  }));
  // Two statements; the ids, logins and token hashes travel as comma-separated text.
  const ids = out.map((b) => b.id).join(',');
  await t.app.platform.db.execute(sql`
    insert into accounts (id, login, password_hash, display_name, roles, created_at)
    select u.id, ${prefix} || '_' || u.n, 'disabled', '观众', array['buyer'], ${now.toISOString()}::timestamptz
    from unnest(string_to_array(${ids}, ',')) with ordinality as u(id, n)`);
  await t.app.platform.db.execute(sql`
    insert into sessions (token_hash, account_id, created_at, expires_at)
    select u.h, u.id, ${now.toISOString()}::timestamptz, ${new Date(now.getTime() + DAY).toISOString()}::timestamptz
    from unnest(string_to_array(${out.map((b) => tokenHash(b.token)).join(',')}, ','),
      string_to_array(${ids}, ',')) as u(h, id)`);
  return out;
}

describe('red-envelope rain', () => {
  it('splits the budget into envelopes summing exactly to it and announces the rain on the room channel', async () => {
    const w = await sellingWorld(t);
    await drain();
    const viewer = await ChannelClient.open(base, w.room.id);
    await viewer.next((i) => i.type === 'snapshot');

    const rain = await rainIn(w, { budgetFen: 88_888, count: 500, durationSeconds: 30 });
    expect(rain).toMatchObject({ status: 'open', count: 500, budgetFen: 88_888, grabbed: 0, remaining: 500 });
    expect(rain.id).toMatch(/^rain_/);
    const envelopes = await envelopesOf(rain.id);
    expect(envelopes).toHaveLength(500);
    expect(envelopes.reduce((s, e) => s + e.amountFen, 0)).toBe(88_888);
    expect(Math.min(...envelopes.map((e) => e.amountFen))).toBeGreaterThanOrEqual(1);
    expect(new Set(envelopes.map((e) => e.amountFen)).size).toBeGreaterThan(10);

    await drain();
    const started = await viewer.next((i) => i.type === 'rain_started');
    expect(started.data).toEqual({ rainId: rain.id, count: 500, budgetFen: 88_888, endsAt: rain.endsAt });

    const listed = await t.request({ method: 'GET', url: `/api/live-rooms/${w.room.id}/rains` });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items[0]).toMatchObject({ id: rain.id, status: 'open', remaining: 500 });
    // The amounts of envelopes not yet grabbed are nobody's business.
    expect(listed.body).not.toContain('amountFen');
    await viewer.close();
  });

  it('gives a buyer one envelope per rain: 20 concurrent grabs by the same buyer get one', async () => {
    const w = await sellingWorld(t);
    const rain = await rainIn(w, { budgetFen: 10_000, count: 100 });
    const buyer = await t.account(['buyer']);
    const results = await Promise.all(Array.from({ length: 20 }, () => grab(buyer.token, rain.id)));
    const won = results.filter((r) => r.statusCode === 201);
    expect(won).toHaveLength(1);
    for (const r of results.filter((x) => x.statusCode !== 201)) {
      expect(r.statusCode).toBe(409);
      expect(r.json().code).toBe('RAIN_ALREADY_GRABBED');
    }
    const mine = (await envelopesOf(rain.id)).filter((e) => e.buyerAccountId === buyer.id);
    expect(mine).toHaveLength(1);
    expect(won[0]!.json()).toMatchObject({
      rainId: rain.id,
      amountFen: mine[0]!.amountFen,
      couponClaimId: mine[0]!.couponClaimId,
      minSpendFen: mine[0]!.amountFen + 1,
    });
    // The envelope is a platform coupon among the buyer's coupons, valid for 7 days.
    const claims = await t.request({ method: 'GET', url: '/api/me/coupons', token: buyer.token });
    expect(claims.json().items).toHaveLength(1);
    expect(claims.json().items[0]).toMatchObject({
      id: mine[0]!.couponClaimId,
      status: 'unused',
      coupon: {
        issuer: 'platform',
        shopId: null,
        amountOffFen: mine[0]!.amountFen,
        minSpendFen: mine[0]!.amountFen + 1,
        validUntil: new Date(t.clock.now().getTime() + 7 * DAY).toISOString(),
      },
    });
    // Envelope coupons are not listed among the platform's issued coupons.
    const issued = await t.request({
      method: 'GET',
      url: '/api/admin/coupons?limit=100',
      token: w.operator.token,
    });
    expect(issued.body).not.toContain(claims.json().items[0].couponId);
  });

  it('refuses grabs before the start and after the end; the clock announces both', async () => {
    const w = await sellingWorld(t);
    await drain();
    const viewer = await ChannelClient.open(base, w.room.id);
    await viewer.next((i) => i.type === 'snapshot');
    const startsAt = new Date(t.clock.now().getTime() + 5 * MINUTE);
    const rain = await rainIn(w, {
      budgetFen: 500,
      count: 5,
      startsAt: startsAt.toISOString(),
      durationSeconds: 20,
    });
    expect(rain.status).toBe('scheduled');
    const [a, b] = [await t.account(['buyer']), await t.account(['buyer'])];

    const early = await grab(a.token, rain.id);
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({
      code: 'RAIN_NOT_OPEN',
      message: expect.stringContaining('starts at'),
    });

    t.clock.set(startsAt);
    expect(await sweep()).toBeGreaterThanOrEqual(1);
    await drain();
    const started = await viewer.next((i) => i.type === 'rain_started');
    expect(started.data).toMatchObject({ rainId: rain.id, count: 5, budgetFen: 500 });
    const got = await grab(a.token, rain.id);
    expect(got.statusCode, got.body).toBe(201);

    t.clock.advance(20_000);
    const late = await grab(b.token, rain.id);
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({
      code: 'RAIN_NOT_OPEN',
      message: expect.stringContaining('ended at'),
    });
    await sweep();
    await drain();
    const ended = await viewer.next((i) => i.type === 'rain_ended');
    expect(ended.data).toEqual({ rainId: rain.id, grabbed: 1, paidOutFen: got.json().amountFen });
    expect(ended.id!).toBeGreaterThan(started.id!);
    const [row] = await t.app.platform.db
      .select()
      .from(redEnvelopeRains)
      .where(eq(redEnvelopeRains.id, rain.id));
    expect(row).toMatchObject({ status: 'ended', grabbedCount: 1, paidOutFen: got.json().amountFen });
    // Nobody got the envelopes left when the window closed.
    expect((await envelopesOf(rain.id)).filter((e) => e.buyerAccountId).length).toBe(1);
    const missing = await grab(b.token, 'rain_00000000000000000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('RAIN_NOT_FOUND');
    await viewer.close();
  });

  it('pays out exactly its budget: a rain of 10,000 envelopes grabbed by 20,000 viewers at once', async () => {
    const w = await sellingWorld(t);
    await drain();
    const viewer = await ChannelClient.open(base, w.room.id);
    await viewer.next((i) => i.type === 'snapshot');
    const budgetFen = 1_000_000;
    // A 10,000-yuan rain is a platform campaign: an operator starts it.
    const rain = await rainIn(w, { budgetFen, count: 10_000, durationSeconds: 120 }, w.operator.token);
    const buyers = await bulkBuyers(20_000);

    // On PostgreSQL every grab goes through HTTP (app.http.inject). PGlite runs one statement
    // at a time, and the session lookup HTTP adds per new viewer (~2 ms each) would add ~40 s,
    // so there the grabs call the service that the route calls. Either way in concurrent waves.
    const viaHttp = t.app.platform.dbKind === 'postgres';
    type Result = { buyer: string; status: number; code?: string; amountFen?: number };
    const grabAs = async (b: { id: string; token: string }): Promise<Result> => {
      if (viaHttp) {
        const r = await grab(b.token, rain.id);
        const body = r.json();
        return { buyer: b.id, status: r.statusCode, code: body.code, amountFen: body.amountFen };
      }
      try {
        const got = await t.app.services.roomPromotions.grab(b.id, rain.id);
        return { buyer: b.id, status: 201, amountFen: got.amountFen };
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        return { buyer: b.id, status: err.status, code: err.code };
      }
    };
    const results: Result[] = [];
    for (let i = 0; i < buyers.length; i += 2_000) {
      results.push(...(await Promise.all(buyers.slice(i, i + 2_000).map(grabAs))));
    }
    const won = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    expect(won).toHaveLength(10_000);
    expect(new Set(won.map((r) => r.buyer)).size).toBe(10_000);
    expect(won.reduce((s, r) => s + r.amountFen!, 0)).toBe(budgetFen);
    expect(refused).toHaveLength(10_000);
    expect(refused.every((r) => r.status === 409 && r.code === 'RAIN_EMPTY')).toBe(true);

    // The database agrees: every envelope taken once, by distinct buyers, coupons worth the budget.
    const [env] = await t.app.platform.db
      .select({
        n: sql<number>`count(*)::int`,
        buyers: sql<number>`count(distinct ${redEnvelopes.buyerAccountId})::int`,
        fen: sql<number>`sum(${redEnvelopes.amountFen})::int`,
      })
      .from(redEnvelopes)
      .where(and(eq(redEnvelopes.rainId, rain.id), isNotNull(redEnvelopes.buyerAccountId)));
    expect(env).toEqual({ n: 10_000, buyers: 10_000, fen: budgetFen });
    const [issued] = await t.app.platform.db
      .select({
        n: sql<number>`count(*)::int`,
        buyers: sql<number>`count(distinct ${couponClaims.buyerAccountId})::int`,
        fen: sql<number>`sum(${coupons.amountOffFen})::int`,
      })
      .from(coupons)
      .innerJoin(couponClaims, eq(couponClaims.couponId, coupons.id))
      .where(eq(coupons.rainId, rain.id));
    expect(issued).toEqual({ n: 10_000, buyers: 10_000, fen: budgetFen });

    // The first viewer to find it empty closed the rain; the room hears the total, once.
    const [closed] = await t.app.platform.db
      .select()
      .from(redEnvelopeRains)
      .where(eq(redEnvelopeRains.id, rain.id));
    expect(closed).toMatchObject({ status: 'ended', grabbedCount: 10_000, paidOutFen: budgetFen });
    await sweep();
    await drain();
    const ended = await viewer.next((i) => i.type === 'rain_ended', 10_000);
    expect(ended.data).toEqual({ rainId: rain.id, grabbed: 10_000, paidOutFen: budgetFen });
    expect(viewer.items.filter((i) => i.type === 'rain_ended')).toHaveLength(1);
    await viewer.close();
  }, 120_000);

  it('takes a grabbed envelope at checkout: the payable drops by its amount and the ledger books a platform subsidy', async () => {
    const w = await sellingWorld(t, { priceFen: 9900 });
    const rain = await rainIn(w, { budgetFen: 900, count: 3 });
    const buyer = await t.account(['buyer']);
    const got = await grab(buyer.token, rain.id);
    expect(got.statusCode, got.body).toBe(201);
    const { amountFen, couponClaimId } = got.json();

    const order = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient(),
      couponClaimIds: [couponClaimId],
    });
    expect(order.statusCode, order.body).toBe(201);
    expect(order.json()).toMatchObject({
      totalFen: 9900,
      shopDiscountFen: 0,
      platformDiscountFen: amountFen,
      payableFen: 9900 - amountFen,
    });
    const paid = await pay(t, buyer.token, order.json().id);
    expect(paid.json()).toMatchObject({ orderStatus: 'paid', amountFen: 9900 - amountFen });
    await t.app.paymentProvider.settle();
    await drain();

    const money = await t.app.services.ledger.orderMoneyOf(t.app.platform.db, order.json().id);
    expect(money).toMatchObject({ paidFen: 9900 - amountFen, subsidyFen: amountFen });
    const funding = await t.app.platform.db
      .select({ amount: ledgerPostings.amount })
      .from(ledgerPostings)
      .where(
        and(
          eq(ledgerPostings.orderId, order.json().id),
          eq(ledgerPostings.account, 'platform:coupon_funding'),
        ),
      );
    expect(funding.map((p) => Number(p.amount))).toEqual([amountFen]);
    // Single use: the same envelope cannot pay for a second order.
    const again = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient(),
      couponClaimIds: [couponClaimId],
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('COUPON_ALREADY_USED');
  });

  it("refuses a rain from someone who is not the room's creator, too small or too large a budget, or in an ended room, writing nothing", async () => {
    const w = await sellingWorld(t);
    const other = await t.account(['buyer', 'creator']);
    // Deliver what earlier steps recorded, so the outbox's own bookkeeping stays still.
    await drain();
    const before = await tableCounts(t.app.platform.db);
    const cases: [Record<string, unknown>, string | undefined, number, string][] = [
      [{ budgetFen: 100, count: 10, durationSeconds: 30 }, other.token, 403, 'FORBIDDEN'],
      [{ budgetFen: 9, count: 10, durationSeconds: 30 }, undefined, 400, 'VALIDATION_FAILED'],
      // Above what a creator may spend of the platform's money on one rain.
      [{ budgetFen: 100_001, count: 10, durationSeconds: 30 }, undefined, 400, 'VALIDATION_FAILED'],
      [{ budgetFen: 100, count: 10, durationSeconds: 5 }, undefined, 400, 'VALIDATION_FAILED'],
      [{ budgetFen: 100, count: 10, durationSeconds: 121 }, undefined, 400, 'VALIDATION_FAILED'],
      [
        {
          budgetFen: 100,
          count: 10,
          durationSeconds: 30,
          startsAt: new Date(t.clock.now().getTime() - HOUR),
        },
        undefined,
        400,
        'VALIDATION_FAILED',
      ],
    ];
    for (const [body, token, status, code] of cases) {
      const res = await startRain(w, body, token);
      expect(res.statusCode, `${JSON.stringify(body)} → ${res.body}`).toBe(status);
      expect(res.json().code).toBe(code);
    }
    const tooSmall = await startRain(w, { budgetFen: 9, count: 10, durationSeconds: 30 });
    expect(tooSmall.json().message).toContain('body.count');
    expect(await tableCounts(t.app.platform.db)).toEqual(before);

    const end = await t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${w.room.id}/end`,
      token: w.creator.token,
    });
    expect(end.statusCode, end.body).toBe(200);
    await drain();
    const afterEnd = await tableCounts(t.app.platform.db);
    const ended = await startRain(w, { budgetFen: 100, count: 10, durationSeconds: 30 });
    expect(ended.statusCode).toBe(409);
    expect(ended.json().code).toBe('INVALID_STATE');
    expect(await tableCounts(t.app.platform.db)).toEqual(afterEnd);

    // An operator may start a rain in any live room.
    const w2 = await sellingWorld(t);
    const byOperator = await startRain(
      w2,
      { budgetFen: 100, count: 10, durationSeconds: 30 },
      w2.operator.token,
    );
    expect(byOperator.statusCode, byOperator.body).toBe(201);
  });
});

describe('coupon drops in a live room', () => {
  const terms = (over: Record<string, unknown> = {}) => ({
    title: unique('直播间专享'),
    amountOffFen: 500,
    minSpendFen: 5000,
    validFrom: new Date(t.clock.now().getTime() - MINUTE).toISOString(),
    validUntil: new Date(t.clock.now().getTime() + DAY).toISOString(),
    totalQuantity: 50,
    ...over,
  });
  const drop = (w: World, couponId: string, token: string) =>
    t.request({
      method: 'POST',
      url: `/api/live-rooms/${w.room.id}/coupon-drops`,
      token,
      payload: { couponId },
    });

  it('lets the creator or the merchant drop a shop coupon and an operator a platform coupon; viewers see it and claim it', async () => {
    const w = await sellingWorld(t);
    await drain();
    const viewer = await ChannelClient.open(base, w.room.id);
    await viewer.next((i) => i.type === 'snapshot');
    const shopCpn = (
      await t.request({
        method: 'POST',
        url: `/api/shops/${w.shop.id}/coupons`,
        token: w.merchant.token,
        payload: terms(),
      })
    ).json();

    const byCreator = await drop(w, shopCpn.id, w.creator.token);
    expect(byCreator.statusCode, byCreator.body).toBe(200);
    expect(byCreator.json()).toMatchObject({ id: shopCpn.id, liveRoomId: w.room.id, remaining: 50 });
    await drain();
    const dropped = await viewer.next((i) => i.type === 'coupon_dropped');
    expect(dropped.data).toEqual({
      couponId: shopCpn.id,
      title: shopCpn.title,
      amountOffFen: 500,
      minSpendFen: 5000,
      remaining: 50,
    });

    const buyer = await t.account(['buyer']);
    const claimable = await t.request({ method: 'GET', url: `/api/coupons?liveRoomId=${w.room.id}` });
    expect(claimable.json().items.map((c: { id: string }) => c.id)).toContain(shopCpn.id);
    const claimed = await t.request({
      method: 'POST',
      url: `/api/coupons/${shopCpn.id}/claim`,
      token: buyer.token,
    });
    expect(claimed.statusCode).toBe(201);

    // The merchant drops it again: the room hears the new remaining count.
    const byMerchant = await drop(w, shopCpn.id, w.merchant.token);
    expect(byMerchant.statusCode, byMerchant.body).toBe(200);
    await drain();
    await viewer.next((i) => i.type === 'coupon_dropped' && i.data.remaining === 49);

    const platCpn = (
      await t.request({
        method: 'POST',
        url: '/api/admin/coupons',
        token: w.operator.token,
        payload: terms(),
      })
    ).json();
    const refusedCreator = await drop(w, platCpn.id, w.creator.token);
    expect(refusedCreator.statusCode).toBe(403);
    const byOperator = await drop(w, platCpn.id, w.operator.token);
    expect(byOperator.statusCode, byOperator.body).toBe(200);
    await drain();
    await viewer.next((i) => i.type === 'coupon_dropped' && i.data.couponId === platCpn.id);
    await viewer.close();
  });

  it("refuses a shop coupon whose shop has nothing in the room's cart, another shop's merchant, and a stopped coupon, changing nothing", async () => {
    const w = await sellingWorld(t);
    const elsewhere = await sellingWorld(t);
    const foreign = (
      await t.request({
        method: 'POST',
        url: `/api/shops/${elsewhere.shop.id}/coupons`,
        token: elsewhere.merchant.token,
        payload: terms(),
      })
    ).json();
    const own = (
      await t.request({
        method: 'POST',
        url: `/api/shops/${w.shop.id}/coupons`,
        token: w.merchant.token,
        payload: terms(),
      })
    ).json();
    await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/coupons/${own.id}/stop`,
      token: w.merchant.token,
    });
    // Deliver what earlier steps recorded, so the outbox's own bookkeeping stays still.
    await drain();
    const before = await tableCounts(t.app.platform.db);

    const notInCart = await drop(w, foreign.id, w.creator.token);
    expect(notInCart.statusCode).toBe(409);
    expect(notInCart.json()).toMatchObject({
      code: 'INVALID_STATE',
      message: expect.stringContaining('cart'),
    });
    const otherMerchant = await drop(w, own.id, elsewhere.merchant.token);
    expect(otherMerchant.statusCode).toBe(404);
    expect(otherMerchant.json().code).toBe('COUPON_NOT_FOUND');
    const stopped = await drop(w, own.id, w.creator.token);
    expect(stopped.statusCode).toBe(409);
    expect(stopped.json().code).toBe('COUPON_NOT_CLAIMABLE');
    const missing = await drop(w, 'cpn_00000000000000000000000000', w.creator.token);
    expect(missing.statusCode).toBe(404);

    expect(await tableCounts(t.app.platform.db)).toEqual(before);
    const [row] = await t.app.platform.db.select().from(coupons).where(eq(coupons.id, foreign.id));
    expect(row!.liveRoomId).toBeNull();
  });
});
