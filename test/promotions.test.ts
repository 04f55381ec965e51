import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skuSales, skus } from '../src/modules/catalog/schema.js';
import { orderLines, orders } from '../src/modules/orders/schema.js';
import { payments } from '../src/modules/payments/schema.js';
import { couponClaims, coupons } from '../src/modules/promotions/schema.js';
import { HOUR, MINUTE } from '../src/platform/clock.js';
import { outboxEvents } from '../src/platform/schema.js';
import {
  cartProduct,
  checkout,
  pay,
  recipient,
  sellingWorld,
  startTestApp,
  type TestContext,
  unique,
} from './harness.js';

let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

type World = Awaited<ReturnType<typeof sellingWorld>>;

/** Coupon terms valid from now for a day, unless overridden. */
function terms(over: Record<string, unknown> = {}) {
  const now = t.clock.now().getTime();
  return {
    title: unique('满减券'),
    amountOffFen: 1000,
    minSpendFen: 5000,
    validFrom: new Date(now - MINUTE).toISOString(),
    validUntil: new Date(now + 24 * HOUR).toISOString(),
    totalQuantity: 100,
    ...over,
  };
}

async function shopCoupon(w: World, over: Record<string, unknown> = {}) {
  const res = await t.request({
    method: 'POST',
    url: `/api/shops/${w.shop.id}/coupons`,
    token: w.merchant.token,
    payload: terms(over),
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

async function platformCoupon(w: World, over: Record<string, unknown> = {}) {
  const res = await t.request({
    method: 'POST',
    url: '/api/admin/coupons',
    token: w.operator.token,
    payload: terms(over),
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

function claim(token: string, couponId: string) {
  return t.request({ method: 'POST', url: `/api/coupons/${couponId}/claim`, token });
}

async function claimId(token: string, couponId: string): Promise<string> {
  const res = await claim(token, couponId);
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

/** A second product of the world's shop, in another category, with two SKUs, in the live room's cart. */
async function secondProduct(w: World) {
  const category = await t.app.services.catalog.ensureCategory(t.app.platform.db, {
    slug: 'food',
    nameZh: '食品饮料',
    nameEn: 'Food',
  });
  const product = await cartProduct(t, w, {
    categoryId: category.id,
    title: '云南普洱熟茶 357克',
    description: '产地直发',
    commissionBps: 1000,
    skus: [
      { name: '单饼', priceFen: 3300, stock: 50 },
      { name: '两饼', priceFen: 6500, stock: 50 },
    ],
  });
  return { product, category, skus: product.skus };
}

const body = (w: World, quantity: number, couponClaimIds?: string[]) => ({
  venue: { type: 'live_room', id: w.room.id },
  items: [{ skuId: w.sku.id, quantity }],
  recipient: recipient(),
  ...(couponClaimIds ? { couponClaimIds } : {}),
});

async function stockOf(skuId: string) {
  const [row] = await t.app.platform.db.select().from(skus).where(eq(skus.id, skuId));
  return row!.stock;
}

async function claimRow(id: string) {
  const [row] = await t.app.platform.db.select().from(couponClaims).where(eq(couponClaims.id, id));
  return row!;
}

describe('coupons', () => {
  it('checks out with a shop and a platform coupon: payable, line allocation, payment and the order.paid event', async () => {
    const w = await sellingWorld(t, { stock: 20, priceFen: 9900, commissionBps: 2000 });
    const tea = await secondProduct(w);
    const buyer = await t.account(['buyer']);
    const shopCpn = await shopCoupon(w, { title: '满200减20', amountOffFen: 2000, minSpendFen: 20000 });
    const platCpn = await platformCoupon(w, {
      title: '平台满100减15',
      amountOffFen: 1500,
      minSpendFen: 10000,
    });
    expect(shopCpn).toMatchObject({ issuer: 'shop', shopId: w.shop.id, status: 'active', perBuyerLimit: 1 });
    expect(shopCpn.id).toMatch(/^cpn_/);
    expect(platCpn).toMatchObject({ issuer: 'platform', shopId: null });

    const shopClaim = await claimId(buyer.token, shopCpn.id);
    const platClaim = await claimId(buyer.token, platCpn.id);
    expect(shopClaim).toMatch(/^cpc_/);

    const res = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [
        { skuId: w.sku.id, quantity: 2 },
        { skuId: tea.skus[0]!.id, quantity: 1 },
      ],
      recipient: recipient(),
      couponClaimIds: [shopClaim, platClaim],
    });
    expect(res.statusCode, res.body).toBe(201);
    const order = res.json();
    // Goods 2 × 99.00 + 33.00 = 231.00; 20.00 and 15.00 off, pro rata with the largest remainder.
    expect(order).toMatchObject({
      totalFen: 23100,
      shopDiscountFen: 2000,
      platformDiscountFen: 1500,
      payableFen: 19600,
    });
    expect(order.lines).toMatchObject([
      {
        skuId: w.sku.id,
        categoryId: w.category.id,
        lineTotalFen: 19800,
        shopDiscountFen: 1714,
        platformDiscountFen: 1286,
        paidFen: 16800,
      },
      {
        skuId: tea.skus[0]!.id,
        categoryId: tea.category.id,
        lineTotalFen: 3300,
        shopDiscountFen: 286,
        platformDiscountFen: 214,
        paidFen: 2800,
      },
    ]);
    for (const id of [shopClaim, platClaim])
      expect(await claimRow(id)).toMatchObject({ status: 'used', orderId: order.id });

    const paid = await pay(t, buyer.token, order.id);
    expect(paid.statusCode).toBe(200);
    expect(paid.json()).toMatchObject({ orderStatus: 'paid', amountFen: 19600 });
    const [payment] = await t.app.platform.db.select().from(payments).where(eq(payments.orderId, order.id));
    expect(payment!.amountFen).toBe(19600);

    const [event] = await t.app.platform.db
      .select()
      .from(outboxEvents)
      .where(and(eq(outboxEvents.aggregateId, order.id), eq(outboxEvents.topic, 'order.paid')));
    const [row] = await t.app.platform.db.select().from(orders).where(eq(orders.id, order.id));
    const lines = order.lines as { id: string; productId: string }[];
    expect(event!.payload).toStrictEqual({
      orderId: order.id,
      shopId: w.shop.id,
      paymentId: payment!.id,
      paidAt: row!.paidAt!.toISOString(),
      totalFen: 23100,
      payableFen: 19600,
      shopDiscountFen: 2000,
      platformDiscountFen: 1500,
      venueType: 'live_room',
      venueId: w.room.id,
      creatorAccountId: w.creator.id,
      lines: [
        {
          lineId: lines[0]!.id,
          skuId: w.sku.id,
          productId: w.product.id,
          categoryId: w.category.id,
          quantity: 2,
          lineTotalFen: 19800,
          shopDiscountFen: 1714,
          platformDiscountFen: 1286,
          paidFen: 16800,
          commissionBps: 2000,
        },
        {
          lineId: lines[1]!.id,
          skuId: tea.skus[0]!.id,
          productId: tea.product.id,
          categoryId: tea.category.id,
          quantity: 1,
          lineTotalFen: 3300,
          shopDiscountFen: 286,
          platformDiscountFen: 214,
          paidFen: 2800,
          commissionBps: 1000,
        },
      ],
    });

    // Existing consumers still read skuId / quantity from the event.
    await t.app.paymentProvider.settle();
    await t.app.platform.outbox.drain();
    const [sold] = await t.app.platform.db.select().from(skuSales).where(eq(skuSales.skuId, w.sku.id));
    expect(sold!.sold).toBe(2);

    const mine = await t.request({ method: 'GET', url: '/api/me/coupons?status=used', token: buyer.token });
    expect(mine.statusCode).toBe(200);
    expect(
      mine
        .json()
        .items.map((c: { id: string }) => c.id)
        .sort(),
    ).toEqual([shopClaim, platClaim].sort());
    expect(mine.json().items[0]).toMatchObject({ status: 'used', orderId: order.id });
  });

  it('hands out exactly the quantity: 50 buyers claiming 10 coupons at once get 10 claims', async () => {
    const w = await sellingWorld(t);
    const cpn = await shopCoupon(w, { totalQuantity: 10 });
    const buyers = await Promise.all(Array.from({ length: 50 }, () => t.account(['buyer'])));
    const results = await Promise.all(buyers.map((b) => claim(b.token, cpn.id)));
    const tally: Record<string, number> = {};
    for (const r of results) {
      const k = r.statusCode === 201 ? 'claimed' : r.json().code;
      tally[k] = (tally[k] ?? 0) + 1;
    }
    expect(tally).toEqual({ claimed: 10, COUPON_SOLD_OUT: 40 });
    const [row] = await t.app.platform.db.select().from(coupons).where(eq(coupons.id, cpn.id));
    expect(row!.claimedCount).toBe(10);
    const claims = await t.app.platform.db
      .select()
      .from(couponClaims)
      .where(eq(couponClaims.couponId, cpn.id));
    expect(claims).toHaveLength(10);
  });

  it('lets a buyer hold one claim: claiming again, even concurrently, answers the same claim with 200', async () => {
    const w = await sellingWorld(t);
    const cpn = await shopCoupon(w, { totalQuantity: 5 });
    const buyer = await t.account(['buyer']);
    const results = await Promise.all(Array.from({ length: 6 }, () => claim(buyer.token, cpn.id)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1);
    const again = await claim(buyer.token, cpn.id);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: results[0]!.json().id, status: 'unused', couponId: cpn.id });
    const [row] = await t.app.platform.db.select().from(coupons).where(eq(coupons.id, cpn.id));
    expect(row!.claimedCount).toBe(1);
  });

  it('gives the coupon back when the unpaid order is cancelled by the buyer or by the payment timeout', async () => {
    const w = await sellingWorld(t, { stock: 10, priceFen: 9900 });
    const buyer = await t.account(['buyer']);
    const cpn = await shopCoupon(w, { amountOffFen: 1000, minSpendFen: 9900 });
    const id = await claimId(buyer.token, cpn.id);

    const first = await checkout(t, buyer.token, body(w, 1, [id]));
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().payableFen).toBe(8900);
    const cancelled = await t.request({
      method: 'POST',
      url: `/api/orders/${first.json().id}/cancel`,
      token: buyer.token,
    });
    expect(cancelled.json().status).toBe('cancelled');
    expect(await claimRow(id)).toMatchObject({ status: 'unused', orderId: null, usedAt: null });

    const second = await checkout(t, buyer.token, body(w, 1, [id]));
    expect(second.statusCode, second.body).toBe(201);
    expect(await claimRow(id)).toMatchObject({ status: 'used', orderId: second.json().id });
    t.clock.advance(t.app.platform.config.PAYMENT_TIMEOUT_MINUTES * MINUTE + 1);
    await t.app.platform.jobs.runNow('orders.cancel-unpaid');
    const [order] = await t.app.platform.db.select().from(orders).where(eq(orders.id, second.json().id));
    expect(order).toMatchObject({ status: 'cancelled', cancelReason: 'payment_timeout' });
    expect(await claimRow(id)).toMatchObject({ status: 'unused', orderId: null });
    expect(await stockOf(w.sku.id)).toBe(10);

    const mine = await t.request({ method: 'GET', url: '/api/me/coupons?status=unused', token: buyer.token });
    expect(mine.json().items).toMatchObject([{ id, status: 'unused', orderId: null }]);
  });

  it('refuses a used coupon with 409 COUPON_ALREADY_USED, also when two checkouts race with it', async () => {
    const w = await sellingWorld(t, { stock: 10, priceFen: 9900 });
    const buyer = await t.account(['buyer']);
    const cpn = await shopCoupon(w);
    const id = await claimId(buyer.token, cpn.id);

    const racing = await Promise.all([
      checkout(t, buyer.token, body(w, 1, [id])),
      checkout(t, buyer.token, body(w, 1, [id])),
    ]);
    expect(racing.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    const loser = racing.find((r) => r.statusCode === 409)!;
    expect(loser.json().code).toBe('COUPON_ALREADY_USED');
    const winner = racing.find((r) => r.statusCode === 201)!.json();
    expect(await stockOf(w.sku.id)).toBe(9);

    const again = await checkout(t, buyer.token, body(w, 1, [id]));
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'COUPON_ALREADY_USED', details: { orderId: winner.id } });
    expect(await stockOf(w.sku.id)).toBe(9);
    const buyerOrders = await t.app.platform.db
      .select()
      .from(orders)
      .where(eq(orders.buyerAccountId, buyer.id));
    expect(buyerOrders).toHaveLength(1);
  });

  it("refuses another shop's coupon, a spend below the minimum, an expired coupon and someone else's claim, changing nothing", async () => {
    const w = await sellingWorld(t, { stock: 10, priceFen: 9900 });
    const other = await sellingWorld(t);
    const buyer = await t.account(['buyer']);
    const stranger = await t.account(['buyer']);
    const otherShop = await claimId(buyer.token, (await shopCoupon(other)).id);
    const highMin = await claimId(buyer.token, (await shopCoupon(w, { minSpendFen: 20000 })).id);
    const shortLived = await shopCoupon(w, {
      validUntil: new Date(t.clock.now().getTime() + HOUR).toISOString(),
    });
    const expiring = await claimId(buyer.token, shortLived.id);
    const strangers = await claimId(stranger.token, (await platformCoupon(w)).id);
    const shopA = await claimId(buyer.token, (await shopCoupon(w, { amountOffFen: 500 })).id);
    const shopB = await claimId(buyer.token, (await shopCoupon(w, { amountOffFen: 600 })).id);
    const bigPlat = await claimId(
      buyer.token,
      (await platformCoupon(w, { amountOffFen: 9400, minSpendFen: 9500 })).id,
    );

    const attempt = async (ids: string[], quantity = 1) => {
      const res = await checkout(t, buyer.token, body(w, quantity, ids));
      return { status: res.statusCode, code: res.json().code as string };
    };
    expect(await attempt([otherShop])).toEqual({ status: 422, code: 'COUPON_NOT_APPLICABLE' });
    expect(await attempt([highMin])).toEqual({ status: 422, code: 'COUPON_NOT_APPLICABLE' });
    expect(await attempt([strangers])).toEqual({ status: 404, code: 'COUPON_NOT_FOUND' });
    expect(await attempt([shopA, shopB])).toEqual({ status: 422, code: 'COUPON_NOT_APPLICABLE' });
    // 99.00 − 5.00 − 94.00 leaves nothing to pay.
    expect(await attempt([shopA, bigPlat])).toEqual({ status: 422, code: 'COUPON_NOT_APPLICABLE' });
    expect(await attempt([shopA, shopA])).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await attempt([shopA, shopB, bigPlat])).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    t.clock.advance(2 * HOUR);
    expect(await attempt([expiring])).toEqual({ status: 409, code: 'COUPON_EXPIRED' });
    // Nothing changed: no order, no stock taken, every claim still unused.
    expect(await t.app.platform.db.select().from(orders).where(eq(orders.buyerAccountId, buyer.id))).toEqual(
      [],
    );
    expect(await stockOf(w.sku.id)).toBe(10);
    for (const id of [otherShop, highMin, expiring, shopA, shopB, bigPlat])
      expect(await claimRow(id)).toMatchObject({ status: 'unused', orderId: null });

    const mine = await t.request({
      method: 'GET',
      url: '/api/me/coupons?status=expired',
      token: buyer.token,
    });
    expect(mine.json().items.map((c: { id: string }) => c.id)).toEqual([expiring]);
    // Three units reach the minimum spend: the same coupon now applies.
    const ok = await checkout(t, buyer.token, body(w, 3, [highMin]));
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json()).toMatchObject({ totalFen: 29700, shopDiscountFen: 1000, payableFen: 28700 });
  });

  it('replays a checkout with coupons under its Idempotency-Key and refuses the key for other coupons', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const buyer = await t.account(['buyer']);
    const id = await claimId(buyer.token, (await shopCoupon(w)).id);
    const key = unique('coupon-key-');
    const first = await checkout(t, buyer.token, body(w, 1, [id]), key);
    expect(first.statusCode).toBe(201);
    const replay = await checkout(t, buyer.token, body(w, 1, [id]), key);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().id).toBe(first.json().id);
    const without = await checkout(t, buyer.token, body(w, 1), key);
    expect(without.statusCode).toBe(422);
    expect(without.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('lets a merchant issue, list and stop shop coupons; a stopped coupon is not handed out but claims stay usable', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const other = await sellingWorld(t);
    const buyer = await t.account(['buyer']);
    const late = await t.account(['buyer']);
    const cpn = await shopCoupon(w, { liveRoomId: w.room.id, totalQuantity: 3 });
    expect(cpn).toMatchObject({ liveRoomId: w.room.id, claimedCount: 0, remaining: 3 });

    const bad = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/coupons`,
      token: w.merchant.token,
      payload: terms({ amountOffFen: 1000, minSpendFen: 1000 }),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('minSpendFen');
    const link = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/coupons`,
      token: w.merchant.token,
      payload: terms({ title: '加微信 wx123456 领大额券' }),
    });
    expect(link.json().code).toBe('EXTERNAL_LINK_FORBIDDEN');
    const notMine = await t.request({
      method: 'POST',
      url: `/api/shops/${other.shop.id}/coupons`,
      token: w.merchant.token,
      payload: terms(),
    });
    expect(notMine.statusCode).toBe(404);
    const byBuyer = await t.request({
      method: 'POST',
      url: '/api/admin/coupons',
      token: buyer.token,
      payload: terms(),
    });
    expect(byBuyer.statusCode).toBe(403);

    const inRoom = await t.request({ method: 'GET', url: `/api/coupons?liveRoomId=${w.room.id}` });
    expect(inRoom.json().items.map((c: { id: string }) => c.id)).toEqual([cpn.id]);
    const id = await claimId(buyer.token, cpn.id);

    const stopped = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/coupons/${cpn.id}/stop`,
      token: w.merchant.token,
    });
    expect(stopped.json()).toMatchObject({ status: 'stopped', claimedCount: 1 });
    const foreign = await t.request({
      method: 'POST',
      url: `/api/shops/${other.shop.id}/coupons/${cpn.id}/stop`,
      token: other.merchant.token,
    });
    expect(foreign.statusCode).toBe(404);
    expect((await claim(late.token, cpn.id)).json().code).toBe('COUPON_NOT_CLAIMABLE');
    expect(
      (await t.request({ method: 'GET', url: `/api/coupons?shopId=${w.shop.id}` })).json().items,
    ).toEqual([]);

    const list = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/coupons`,
      token: w.merchant.token,
    });
    expect(list.json().items.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([
      [cpn.id, 'stopped'],
    ]);
    const used = await checkout(t, buyer.token, body(w, 1, [id]));
    expect(used.statusCode, used.body).toBe(201);
    expect(used.json().shopDiscountFen).toBe(1000);
  });

  it('lets an operator issue, list and stop platform coupons, usable in any shop', async () => {
    const a = await sellingWorld(t, { stock: 5 });
    const b = await sellingWorld(t, { stock: 5 });
    const cpn = await platformCoupon(a, { amountOffFen: 800 });
    const list = await t.request({
      method: 'GET',
      url: '/api/admin/coupons?limit=100',
      token: a.operator.token,
    });
    expect(list.json().items.map((c: { id: string }) => c.id)).toContain(cpn.id);
    const claimable = await t.request({ method: 'GET', url: '/api/coupons' });
    expect(claimable.json().items.map((c: { id: string }) => c.id)).toContain(cpn.id);

    const buyer1 = await t.account(['buyer']);
    const buyer2 = await t.account(['buyer']);
    const inA = await checkout(t, buyer1.token, body(a, 1, [await claimId(buyer1.token, cpn.id)]));
    const inB = await checkout(t, buyer2.token, body(b, 1, [await claimId(buyer2.token, cpn.id)]));
    expect(inA.json()).toMatchObject({ platformDiscountFen: 800, shopDiscountFen: 0, payableFen: 9100 });
    expect(inB.json()).toMatchObject({ platformDiscountFen: 800, payableFen: 9100 });
    const stop = await t.request({
      method: 'POST',
      url: `/api/admin/coupons/${cpn.id}/stop`,
      token: a.operator.token,
    });
    expect(stop.json().status).toBe('stopped');
    const [row] = await t.app.platform.db
      .select()
      .from(orderLines)
      .where(eq(orderLines.orderId, inB.json().id));
    expect(row).toMatchObject({ platformDiscountFen: 800, paidFen: 9100, categoryId: b.category.id });
  });
});
