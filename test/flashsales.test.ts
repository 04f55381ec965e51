import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skus } from '../src/modules/catalog/schema.js';
import { flashSaleReservations } from '../src/modules/flashsales/schema.js';
import { orders } from '../src/modules/orders/schema.js';
import { MINUTE } from '../src/platform/clock.js';
import { slotLedger } from './flash-helpers.js';
import { pay, recipient, sellingWorld, startTestApp, type TestContext, unique } from './harness.js';
import { ChannelClient } from './live-client.js';

let t: TestContext;
let base: string;
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.http.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t.close());

type World = Awaited<ReturnType<typeof sellingWorld>>;

const db = () => t.app.platform.db;

function slotBody(w: World, over: Record<string, unknown> = {}) {
  const now = t.clock.now().getTime();
  return {
    cartItemId: w.item.id,
    skuId: w.sku.id,
    startsAt: new Date(now).toISOString(),
    endsAt: new Date(now + 60 * MINUTE).toISOString(),
    priceFen: 4_900,
    quantity: 10,
    perBuyerLimit: 1,
    ...over,
  };
}

async function schedule(w: World, over: Record<string, unknown> = {}) {
  const res = await t.request({
    method: 'POST',
    url: `/api/creator/live-rooms/${w.room.id}/flash-sales`,
    token: w.creator.token,
    payload: slotBody(w, over),
  });
  if (res.statusCode !== 201) throw new Error(`schedule: ${res.statusCode} ${res.body}`);
  return res.json();
}

function buy(slotId: string, token: string, quantity = 1, key = unique('fs-')) {
  return t.request({
    method: 'POST',
    url: `/api/flash-sales/${slotId}/reservations`,
    token,
    payload: { quantity },
    headers: { 'idempotency-key': key },
  });
}

function checkoutReservation(reservationId: string, token: string, key = unique('fsc-')) {
  return t.request({
    method: 'POST',
    url: `/api/flash-sales/reservations/${reservationId}/checkout`,
    token,
    payload: { recipient: recipient() },
    headers: { 'idempotency-key': key },
  });
}

async function skuStock(skuId: string) {
  const [row] = await db().select({ stock: skus.stock }).from(skus).where(eq(skus.id, skuId));
  return row!.stock;
}

async function reservation(id: string) {
  const [row] = await db().select().from(flashSaleReservations).where(eq(flashSaleReservations.id, id));
  return row!;
}

async function expireAndSweep() {
  t.clock.advance(t.app.platform.config.PAYMENT_TIMEOUT_MINUTES * MINUTE + 1_000);
  await t.app.platform.jobs.runNow('orders.cancel-unpaid');
  await t.app.platform.jobs.runNow('flashsales.release-expired');
}

describe('flash sales (秒杀) in live rooms', () => {
  it('schedules a slot from the creator’s room, moving its units out of the SKU, and refuses bad input without changing anything', async () => {
    const w = await sellingWorld(t, { stock: 50, priceFen: 9_900 });
    const refusals: [Record<string, unknown>, number, string | RegExp][] = [
      [{ priceFen: 9_900 }, 400, /below the SKU's price of 9900 fen/],
      [{ quantity: 51 }, 409, 'INSUFFICIENT_STOCK'],
      [{ perBuyerLimit: 11 }, 400, /perBuyerLimit: may not exceed quantity/],
      [{ endsAt: new Date(t.clock.now().getTime() - MINUTE).toISOString() }, 400, /endsAt: must be after/],
      [{ startsAt: new Date(t.clock.now().getTime() - 10 * MINUTE).toISOString() }, 400, /in the past/],
      [{ skuId: 'sku_00000000000000000000000000' }, 400, /is not a SKU of the cart item/],
      [{ cartItemId: 'lri_00000000000000000000000000' }, 404, 'NOT_FOUND'],
      [{ quantity: 0 }, 400, /quantity/],
    ];
    for (const [over, status, why] of refusals) {
      const res = await t.request({
        method: 'POST',
        url: `/api/creator/live-rooms/${w.room.id}/flash-sales`,
        token: w.creator.token,
        payload: slotBody(w, over),
      });
      expect(res.statusCode, `${JSON.stringify(over)} → ${res.body}`).toBe(status);
      if (typeof why === 'string') expect(res.json().code).toBe(why);
      else expect(res.json().message).toMatch(why);
    }
    expect(await skuStock(w.sku.id)).toBe(50);

    // Another creator's room is somebody else's: 404, as if missing.
    const other = await sellingWorld(t);
    const foreign = await t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${w.room.id}/flash-sales`,
      token: other.creator.token,
      payload: slotBody(w),
    });
    expect(foreign.statusCode).toBe(404);

    const slot = await schedule(w, { quantity: 20, perBuyerLimit: 2, bucketCount: 4 });
    expect(slot).toMatchObject({
      roomId: w.room.id,
      skuId: w.sku.id,
      priceFen: 4_900,
      listPriceFen: 9_900,
      quantity: 20,
      remaining: 20,
      bucketCount: 4,
      status: 'scheduled',
    });
    expect(slot.id).toMatch(/^fs_/);
    expect(await skuStock(w.sku.id)).toBe(30);
    const ledger = await slotLedger(db(), slot.id);
    expect(ledger.buckets.sort()).toEqual([5, 5, 5, 5]);

    // The shop's merchant may schedule too (products.write); another shop's merchant may not.
    const byMerchant = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/flash-sales`,
      token: w.merchant.token,
      payload: { ...slotBody(w, { quantity: 5 }), roomId: w.room.id },
    });
    expect(byMerchant.statusCode, byMerchant.body).toBe(201);
    expect(await skuStock(w.sku.id)).toBe(25);
    const otherShop = await t.request({
      method: 'POST',
      url: `/api/shops/${other.shop.id}/flash-sales`,
      token: other.merchant.token,
      payload: { ...slotBody(w), roomId: w.room.id },
    });
    expect(otherShop.statusCode).toBe(404);

    const listed = await t.request({ method: 'GET', url: `/api/live-rooms/${w.room.id}/flash-sales` });
    expect(listed.json().items.map((s: { id: string }) => s.id)).toContain(slot.id);
  });

  it('refuses purchases before the start; at the start reserves, holds the per-buyer limit and replays a retried key', async () => {
    const w = await sellingWorld(t, { stock: 30 });
    const startsAt = t.clock.now().getTime() + 10 * MINUTE;
    const slot = await schedule(w, {
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(startsAt + 30 * MINUTE).toISOString(),
      quantity: 10,
      perBuyerLimit: 2,
    });
    const buyer = await t.account(['buyer']);
    const early = await buy(slot.id, buyer.token);
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('FLASH_SALE_NOT_OPEN');

    t.clock.set(new Date(startsAt));
    const key = unique('fs-');
    const first = await buy(slot.id, buyer.token, 1, key);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({
      slotId: slot.id,
      quantity: 1,
      unitPriceFen: 4_900,
      status: 'reserved',
    });
    const again = await buy(slot.id, buyer.token, 1, key);
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
    const reused = await buy(slot.id, buyer.token, 2, key);
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('IDEMPOTENCY_KEY_REUSED');

    expect((await buy(slot.id, buyer.token)).statusCode).toBe(201);
    const over = await buy(slot.id, buyer.token);
    expect(over.statusCode).toBe(409);
    expect(over.json().code).toBe('FLASH_SALE_LIMIT_REACHED');
    const tooMany = await buy(slot.id, (await t.account(['buyer'])).token, 3);
    expect(tooMany.json().code).toBe('FLASH_SALE_LIMIT_REACHED');

    const ledger = await slotLedger(db(), slot.id);
    expect(ledger.heldByBuyer.get(buyer.id)).toBe(2);
    expect(ledger.countedByBuyer.get(buyer.id)).toBe(2);
    expect(ledger.remaining).toBe(8);
    const view = await t.request({ method: 'GET', url: `/api/flash-sales/${slot.id}` });
    expect(view.json()).toMatchObject({ status: 'open', remaining: 8 });
  });

  it('sells exactly its quantity to concurrent buyers and answers the rest sold out', async () => {
    const w = await sellingWorld(t, { stock: 40 });
    const slot = await schedule(w, { quantity: 7, perBuyerLimit: 1, bucketCount: 3 });
    const buyers = await Promise.all(Array.from({ length: 20 }, () => t.account(['buyer'])));
    const answers = await Promise.all(buyers.map((b) => buy(slot.id, b.token)));
    const codes = answers.map((a) => (a.statusCode === 201 ? 'ok' : a.json().code));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(7);
    expect(codes.filter((c) => c === 'FLASH_SALE_SOLD_OUT')).toHaveLength(13);
    const ledger = await slotLedger(db(), slot.id);
    expect(ledger.remaining).toBe(0);
    expect(ledger.held).toBe(7);
    expect(ledger.skuStock).toBe(33);
    await t.app.services.flashSales.settle();
    expect((await slotLedger(db(), slot.id)).slot.soldOutAt).not.toBeNull();
  });

  it('checks out a reservation as an order at the flash price without touching the SKU again, and it is paid as usual', async () => {
    const w = await sellingWorld(t, { stock: 30, priceFen: 9_900 });
    const slot = await schedule(w, { quantity: 10, perBuyerLimit: 3, priceFen: 5_500 });
    const buyer = await t.account(['buyer']);
    const r = (await buy(slot.id, buyer.token, 2)).json();
    const stockBefore = await skuStock(w.sku.id);
    const key = unique('fsc-');
    const placed = await checkoutReservation(r.id, buyer.token, key);
    expect(placed.statusCode, placed.body).toBe(201);
    const order = placed.json();
    expect(order).toMatchObject({
      status: 'pending_payment',
      totalFen: 11_000,
      payableFen: 11_000,
      attribution: { venueType: 'live_room', venueId: w.room.id, creatorAccountId: w.creator.id },
    });
    expect(order.lines[0]).toMatchObject({ skuId: w.sku.id, unitPriceFen: 5_500, quantity: 2 });
    expect(new Date(order.payDeadline).getTime()).toBe(new Date(r.expiresAt).getTime());
    expect(await skuStock(w.sku.id)).toBe(stockBefore);
    const replay = await checkoutReservation(r.id, buyer.token, key);
    expect(replay.json().id).toBe(order.id);
    const twice = await checkoutReservation(r.id, buyer.token);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().message).toMatch(/already checked out/);
    const stranger = await t.account(['buyer']);
    expect((await checkoutReservation(r.id, stranger.token)).statusCode).toBe(404);

    const paid = await pay(t, buyer.token, order.id);
    expect(paid.statusCode, paid.body).toBe(200);
    expect(paid.json().orderStatus).toBe('paid');
    expect((await reservation(r.id)).status).toBe('ordered');
    // Paid units stay sold when the clock moves on.
    await expireAndSweep();
    expect((await reservation(r.id)).status).toBe('ordered');
    const ledger = await slotLedger(db(), slot.id);
    expect(ledger.held).toBe(2);
    expect(ledger.remaining).toBe(8);
    expect(await skuStock(w.sku.id)).toBe(stockBefore);
  });

  it('releases a reservation not checked out in time with the clock; the buyer may buy again', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const slot = await schedule(w, { quantity: 1, perBuyerLimit: 1 });
    const buyer = await t.account(['buyer']);
    const late = await t.account(['buyer']);
    const r = (await buy(slot.id, buyer.token)).json();
    expect((await buy(slot.id, late.token)).json().code).toBe('FLASH_SALE_SOLD_OUT');

    await expireAndSweep();
    const released = await reservation(r.id);
    expect(released).toMatchObject({ status: 'released', releaseReason: 'expired' });
    let ledger = await slotLedger(db(), slot.id);
    expect(ledger.remaining).toBe(1);
    expect(ledger.countedByBuyer.get(buyer.id)).toBe(0);
    expect(ledger.slot.soldOutAt).toBeNull();
    const expired = await checkoutReservation(r.id, buyer.token);
    expect(expired.json().code).toBe('FLASH_SALE_RESERVATION_EXPIRED');

    const rebuy = await buy(slot.id, buyer.token);
    expect(rebuy.statusCode, rebuy.body).toBe(201);
    ledger = await slotLedger(db(), slot.id);
    expect(ledger.remaining).toBe(0);
    expect(ledger.held).toBe(1);
  });

  it('gives the units of a cancelled or timed-out order back to the sale, not to the SKU', async () => {
    const w = await sellingWorld(t, { stock: 20 });
    const slot = await schedule(w, { quantity: 5, perBuyerLimit: 2 });
    const stock = await skuStock(w.sku.id);
    const [a, b] = [await t.account(['buyer']), await t.account(['buyer'])];
    const ra = (await buy(slot.id, a.token, 2)).json();
    const rb = (await buy(slot.id, b.token, 1)).json();
    const oa = (await checkoutReservation(ra.id, a.token)).json();
    const ob = (await checkoutReservation(rb.id, b.token)).json();
    expect((await slotLedger(db(), slot.id)).remaining).toBe(2);

    const cancelled = await t.request({ method: 'POST', url: `/api/orders/${oa.id}/cancel`, token: a.token });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(await reservation(ra.id)).toMatchObject({
      status: 'released',
      releaseReason: 'order_buyer_cancelled',
    });
    let ledger = await slotLedger(db(), slot.id);
    expect(ledger.remaining).toBe(4);
    expect(ledger.countedByBuyer.get(a.id)).toBe(0);
    expect(await skuStock(w.sku.id)).toBe(stock);

    // Unpaid past its deadline (the reservation's expiry): the clock cancels it, the units go back.
    await expireAndSweep();
    const [ordB] = await db().select().from(orders).where(eq(orders.id, ob.id));
    expect(ordB!.status).toBe('cancelled');
    expect((await reservation(rb.id)).status).toBe('released');
    ledger = await slotLedger(db(), slot.id);
    expect(ledger.remaining).toBe(5);
    expect(ledger.held).toBe(0);
    expect(await skuStock(w.sku.id)).toBe(stock);
  });

  it('returns unsold units to the SKU when the slot ends, and units released after the end too', async () => {
    const w = await sellingWorld(t, { stock: 30 });
    const slot = await schedule(w, { quantity: 12, perBuyerLimit: 3, bucketCount: 4 });
    const buyer = await t.account(['buyer']);
    const payer = await t.account(['buyer']);
    const held = (await buy(slot.id, buyer.token, 3)).json();
    const sold = (await buy(slot.id, payer.token, 2)).json();
    const order = (await checkoutReservation(sold.id, payer.token)).json();
    expect((await pay(t, payer.token, order.id)).json().orderStatus).toBe('paid');
    expect(await skuStock(w.sku.id)).toBe(18);

    t.clock.advance(61 * MINUTE);
    await t.app.platform.jobs.runNow('flashsales.end-due');
    let ledger = await slotLedger(db(), slot.id);
    expect(ledger.slot.status).toBe('ended');
    expect(ledger.remaining).toBe(0);
    expect(ledger.slot.returnedUnits).toBe(7);
    expect(await skuStock(w.sku.id)).toBe(25);
    const closed = await buy(slot.id, (await t.account(['buyer'])).token);
    expect(closed.json().code).toBe('FLASH_SALE_NOT_OPEN');

    // The reservation still held at the end expires afterwards: its units go to the SKU.
    await t.app.platform.jobs.runNow('flashsales.release-expired');
    expect((await reservation(held.id)).status).toBe('released');
    ledger = await slotLedger(db(), slot.id);
    expect(ledger.slot.returnedUnits).toBe(10);
    expect(ledger.remaining).toBe(0);
    expect(await skuStock(w.sku.id)).toBe(28);
    expect(ledger.held).toBe(2);
  });

  it('tells the live room: scheduled, open, the units counter and sold out', async () => {
    const w = await sellingWorld(t, { stock: 20 });
    await t.app.platform.outbox.drain();
    const viewer = await ChannelClient.open(base, w.room.id);
    await viewer.next((i) => i.type === 'snapshot');
    const startsAt = t.clock.now().getTime() + MINUTE;
    const slot = await schedule(w, {
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(startsAt + 30 * MINUTE).toISOString(),
      quantity: 3,
      perBuyerLimit: 1,
    });
    await t.app.platform.outbox.drain();
    const scheduled = await viewer.next((i) => i.type === 'flash_sale_scheduled');
    expect(scheduled.data).toMatchObject({ slotId: slot.id, priceFen: 4_900, quantity: 3 });
    await viewer.next((i) => i.type === 'counters' && i.data.flash?.[slot.id] === 3);

    t.clock.set(new Date(startsAt));
    expect(await t.app.platform.jobs.runNow('flashsales.open-due')).toEqual({ 'flashsales.open-due': 1 });
    await t.app.platform.outbox.drain();
    await viewer.next((i) => i.type === 'flash_sale_open' && i.data.slotId === slot.id);

    const buyers = await Promise.all([0, 1, 2].map(() => t.account(['buyer'])));
    expect((await buy(slot.id, buyers[0]!.token)).statusCode).toBe(201);
    await viewer.next((i) => i.type === 'counters' && i.data.flash?.[slot.id] === 2);
    await Promise.all(buyers.slice(1).map((b) => buy(slot.id, b.token)));
    await t.app.services.flashSales.settle();
    await t.app.platform.outbox.drain();
    const out = await viewer.next((i) => i.type === 'flash_sale_sold_out');
    expect(out.data).toMatchObject({ slotId: slot.id });
    await viewer.next((i) => i.type === 'counters' && i.data.flash?.[slot.id] === 0);
    expect(JSON.stringify(viewer.items)).not.toContain(buyers[0]!.id);
    await viewer.close();
  });
});
