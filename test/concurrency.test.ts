import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skus } from '../src/modules/catalog/schema.js';
import { orderLines, orders } from '../src/modules/orders/schema.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('checkout under concurrency', () => {
  it('200 concurrent buyers for 20 units yield exactly 20 paid orders and stock 0', async () => {
    const w = await sellingWorld(t, { stock: 20 });
    const buyers = await Promise.all(Array.from({ length: 200 }, () => t.account(['buyer'])));
    const results = await Promise.all(
      buyers.map(async (b) => {
        const res = await checkout(t, b.token, {
          venue: { type: 'live_room', id: w.room.id },
          items: [{ skuId: w.sku.id, quantity: 1 }],
          recipient: recipient(),
        });
        if (res.statusCode !== 201) return res.json().code as string;
        const paid = await pay(t, b.token, res.json().id);
        return paid.json().orderStatus as string;
      }),
    );
    const tally: Record<string, number> = {};
    for (const r of results) tally[r] = (tally[r] ?? 0) + 1;
    expect(tally).toEqual({ paid: 20, INSUFFICIENT_STOCK: 180 });
    const [sku] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(sku!.stock).toBe(0);
    const [count] = await t.app.platform.db
      .select({ n: sql<number>`count(*)::int` })
      .from(orders)
      .where(and(eq(orders.shopId, w.shop.id), eq(orders.status, 'paid')));
    expect(count!.n).toBe(20);
  });

  it('a checkout racing the cancel that frees its stock takes the stock it sells', async () => {
    // The cancel commits while the checkout waits for the SKU's row lock. The checkout then
    // sees the freed stock, and must take it: on PostgreSQL it once wrote its order without
    // subtracting, since its update tested stock on the version its snapshot held (0 left).
    for (let run = 0; run < 30; run++) {
      const w = await sellingWorld(t, { stock: 2 });
      const [first, second] = await Promise.all([t.account(['buyer']), t.account(['buyer'])]);
      const held = await checkout(t, first.token, {
        venue: { type: 'live_room', id: w.room.id },
        items: [{ skuId: w.sku.id, quantity: 2 }],
        recipient: recipient(),
      });
      expect(held.statusCode).toBe(201);
      const [bought, cancelled] = await Promise.all([
        checkout(t, second.token, {
          venue: { type: 'live_room', id: w.room.id },
          items: [{ skuId: w.sku.id, quantity: 1 }],
          recipient: recipient(),
        }),
        t.request({ method: 'POST', url: `/api/orders/${held.json().id}/cancel`, token: first.token }),
      ]);
      expect(cancelled.statusCode).toBe(200);
      expect([201, 409]).toContain(bought.statusCode);
      const [sku] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
      const [live] = await t.app.platform.db
        .select({ units: sql<number>`coalesce(sum(${orderLines.quantity}), 0)::int` })
        .from(orderLines)
        .innerJoin(orders, eq(orders.id, orderLines.orderId))
        .where(and(eq(orderLines.skuId, w.sku.id), eq(orders.status, 'pending_payment')));
      expect({ run, stock: sku!.stock, held: live!.units }).toEqual({
        run,
        stock: bought.statusCode === 201 ? 1 : 2,
        held: bought.statusCode === 201 ? 1 : 0,
      });
    }
  });

  it('one buyer racing the same idempotency key gets one order', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const buyer = await t.account(['buyer']);
    const body = {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 2 }],
      recipient: recipient(),
    };
    const res = await Promise.all(
      Array.from({ length: 10 }, () => checkout(t, buyer.token, body, 'same-key-racing-0001')),
    );
    const ids = new Set(res.filter((r) => r.statusCode === 201).map((r) => r.json().id));
    expect(ids.size).toBe(1);
    const [sku] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(sku!.stock).toBe(8);
  });
});
