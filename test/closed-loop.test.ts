import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skuSales, skus } from '../src/modules/catalog/schema.js';
import { virtualNumberBindings } from '../src/modules/privacy/schema.js';
import { liveRooms } from '../src/modules/venues/schema.js';
import { MINUTE } from '../src/platform/clock.js';
import { signPayload } from '../src/platform/signing.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('the closed loop', () => {
  it('sells a product from a live room to a buyer, masks the recipient for the shop, ships and completes it', async () => {
    const w = await sellingWorld(t, { stock: 5, priceFen: 9900, commissionBps: 2000 });
    const buyer = await t.account(['buyer']);

    const room = (await t.request({ method: 'GET', url: `/api/live-rooms/${w.room.id}` })).json();
    expect(room.status).toBe('live');
    expect(room.pinned.productId).toBe(w.product.id);
    expect(room.cart[0].skus[0].stock).toBe(5);

    const created = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 2 }],
      recipient: recipient(),
    });
    expect(created.statusCode).toBe(201);
    const order = created.json();
    expect(order).toMatchObject({
      status: 'pending_payment',
      totalFen: 19800,
      attribution: { venueType: 'live_room', venueId: w.room.id, creatorAccountId: w.creator.id },
      recipient: { name: '张**', phone: '138****5678', address: '浙江省杭州市西湖区****' },
    });
    expect(order.lines[0]).toMatchObject({
      quantity: 2,
      unitPriceFen: 9900,
      commissionBps: 2000,
      commissionPlan: 'open',
    });
    const [sku] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(sku!.stock).toBe(3);

    const paid = await pay(t, buyer.token, order.id);
    expect(paid.statusCode).toBe(200);
    expect(paid.json()).toMatchObject({ status: 'succeeded', orderStatus: 'paid', amountFen: 19800 });
    await t.app.paymentProvider.settle();
    await t.app.platform.outbox.drain();

    const [roomRow] = await t.app.platform.db.select().from(liveRooms).where(eq(liveRooms.id, w.room.id));
    expect(roomRow).toMatchObject({ paidOrders: 1, gmvFen: 19800 });
    const [soldSku] = await t.app.platform.db.select().from(skuSales).where(eq(skuSales.skuId, w.sku.id));
    expect(soldSku!.sold).toBe(2);

    const list = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/orders?status=paid`,
      token: w.merchant.token,
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((o: { id: string }) => o.id)).toEqual([order.id]);
    expect(list.body).not.toContain('张三丰');
    expect(list.body).not.toContain('13812345678');
    expect(list.body).not.toContain('文三路');

    const shipped = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/orders/${order.id}/ship`,
      token: w.merchant.token,
      payload: { carrier: 'SF', trackingNo: 'SFLC0000AB12' },
    });
    expect(shipped.statusCode).toBe(200);
    expect(shipped.json().order.status).toBe('shipped');
    expect(shipped.json().waybill.label.recipient).toMatchObject({
      nameMask: '张**',
      phoneMask: '138****5678',
    });
    expect(shipped.json().waybill.label.recipient.virtualNumber).toMatch(/^17[01]\d{8}-\d{4}$/);
    expect(shipped.body).not.toContain('13812345678');
    expect(shipped.body).not.toContain('文三路');

    const body = JSON.stringify({
      eventId: 'trk-1',
      carrier: 'SF',
      trackingNo: 'SFLC0000AB12',
      status: 'delivered',
    });
    const delivered = await t.request({
      method: 'POST',
      url: '/api/webhooks/logistics',
      payload: body,
      headers: {
        'content-type': 'application/json',
        'x-livecart-signature': signPayload(
          t.app.platform.config.LOGISTICS_WEBHOOK_SECRET,
          body,
          Math.floor(Date.now() / 1000),
        ),
      },
    });
    expect(delivered.statusCode).toBe(200);
    // The label's virtual number now expires when the after-sales window closes: delivery + 7 days.
    await t.app.platform.outbox.drain();
    const [binding] = await t.app.platform.db
      .select()
      .from(virtualNumberBindings)
      .where(eq(virtualNumberBindings.orderId, order.id));
    expect(binding!.expiresAt.getTime()).toBe(t.clock.now().getTime() + 7 * 24 * 60 * MINUTE);

    t.clock.advance(10 * 24 * 60 * MINUTE + MINUTE);
    const swept = await t.app.platform.jobs.runNow('orders.auto-confirm');
    expect(swept['orders.auto-confirm']).toBeGreaterThanOrEqual(1);
    // Ten days on, the buyer's 7-day session has lapsed: they log in again.
    const { token } = await t.app.services.identity.issueSession(buyer.id);
    const done = await t.request({ method: 'GET', url: `/api/orders/${order.id}`, token });
    expect(done.json()).toMatchObject({
      status: 'completed',
      attribution: { creatorAccountId: w.creator.id },
    });
  });

  it('cancels an unpaid order when its payment window closes and returns the stock', async () => {
    const w = await sellingWorld(t, { stock: 3 });
    const buyer = await t.account(['buyer']);
    const res = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 3 }],
      recipient: recipient(),
    });
    expect(res.statusCode).toBe(201);
    const second = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient(),
    });
    expect(second.statusCode).toBe(409);
    expect(second.json().code).toBe('INSUFFICIENT_STOCK');

    t.clock.advance(t.app.platform.config.PAYMENT_TIMEOUT_MINUTES * MINUTE + 1);
    const late = await pay(t, buyer.token, res.json().id);
    expect(late.statusCode).toBe(409);
    await t.app.platform.jobs.runNow('orders.cancel-unpaid');
    const order = await t.request({ method: 'GET', url: `/api/orders/${res.json().id}`, token: buyer.token });
    expect(order.json()).toMatchObject({ status: 'cancelled', cancelReason: 'payment_timeout' });
    const [sku] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(sku!.stock).toBe(3);
  });
});
