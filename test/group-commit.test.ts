import { eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { skuSales, skus } from '../src/modules/catalog/schema.js';
import { orderLines, orders } from '../src/modules/orders/schema.js';
import { payments } from '../src/modules/payments/schema.js';
import { recipients } from '../src/modules/privacy/schema.js';
import { idempotencyKeys, outboxEvents } from '../src/platform/schema.js';
import {
  cartProduct,
  checkout,
  pay,
  recipient,
  sellingWorld,
  startTestApp,
  type TestContext,
} from './harness.js';

/**
 * Checkouts and payments that arrive together commit as a group (one transaction, one
 * statement per table). These tests drive bursts through HTTP and check that groups really
 * formed (rows written by one transaction share its xmin) and that the result is exactly what
 * one-by-one commits would give, including when a group cannot commit as one.
 */
let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

/** How many transactions wrote these orders (rows of one transaction share xmin). */
async function writers(orderIds: string[]): Promise<number> {
  const [row] = await t.app.platform.db
    .select({ n: sql<number>`count(distinct ${orders}.xmin::text)::int` })
    .from(orders)
    .where(inArray(orders.id, orderIds));
  return row!.n;
}

async function secondProduct(w: Awaited<ReturnType<typeof sellingWorld>>, stock: number, priceFen = 4900) {
  const product = await cartProduct(t, w, {
    categoryId: w.category.id,
    title: '限量礼盒',
    description: '直播间专享',
    commissionBps: 1000,
    skus: [{ name: '礼盒', priceFen, stock }],
  });
  return product.skus[0]!;
}

describe('group commit of checkouts and payments', () => {
  it('a burst commits in groups; a SKU running short inside a group fails only its own buyers', async () => {
    const w = await sellingWorld(t, { stock: 1_000, priceFen: 9900 });
    const scarce = await secondProduct(w, 3);
    const buyers = await Promise.all(Array.from({ length: 40 }, () => t.account(['buyer'])));
    // Every fourth buyer also wants the scarce SKU: 10 want it, 3 can have it.
    const bodies = buyers.map((_, i) => ({
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 2 }, ...(i % 4 === 0 ? [{ skuId: scarce.id, quantity: 1 }] : [])],
      recipient: recipient(),
    }));
    const keys = buyers.map((_, i) => `burst-${i}-${w.shop.id}`);
    const created = await Promise.all(buyers.map((b, i) => checkout(t, b.token, bodies[i], keys[i])));

    const ok = created.filter((r) => r.statusCode === 201).map((r) => r.json());
    const refused = created.filter((r) => r.statusCode !== 201).map((r) => r.json().code);
    expect(ok).toHaveLength(33);
    expect(refused).toEqual(Array(7).fill('INSUFFICIENT_STOCK'));
    // Groups formed: fewer transactions than orders.
    expect(await writers(ok.map((o) => o.id))).toBeLessThan(ok.length);

    const db = t.app.platform.db;
    const stock = async (id: string) => (await db.select().from(skus).where(eq(skus.id, id)))[0]!.stock;
    expect(await stock(w.sku.id)).toBe(1_000 - 2 * 33);
    expect(await stock(scarce.id)).toBe(0);
    // Each order has its lines, its sealed recipient, its event and its stored response.
    const ids = ok.map((o) => o.id);
    const lines = await db.select().from(orderLines).where(inArray(orderLines.orderId, ids));
    expect(lines.reduce((s, l) => s + l.quantity, 0)).toBe(2 * 33 + 3);
    const rows = await db.select().from(orders).where(inArray(orders.id, ids));
    const sealed = await db
      .select({ id: recipients.id })
      .from(recipients)
      .where(
        inArray(
          recipients.id,
          rows.map((o) => o.recipientId),
        ),
      );
    expect(sealed).toHaveLength(33);
    const events = await db.select().from(outboxEvents).where(inArray(outboxEvents.aggregateId, ids));
    expect(events.filter((e) => e.topic === 'order.created')).toHaveLength(33);
    for (const o of ok) {
      expect(o.totalFen).toBe(
        o.lines.reduce((s: number, l: { lineTotalFen: number }) => s + l.lineTotalFen, 0),
      );
    }

    // Retries with the same keys replay the first answers and write nothing, while new
    // checkouts in the same burst still commit in groups.
    const newcomers = await Promise.all(Array.from({ length: 12 }, () => t.account(['buyer'])));
    const [retried, fresh] = await Promise.all([
      Promise.all(buyers.map((b, i) => checkout(t, b.token, bodies[i], keys[i]))),
      Promise.all(
        newcomers.map((b) =>
          checkout(t, b.token, {
            venue: { type: 'live_room', id: w.room.id },
            items: [{ skuId: w.sku.id, quantity: 1 }],
            recipient: recipient(),
          }),
        ),
      ),
    ]);
    expect(fresh.map((r) => r.statusCode)).toEqual(Array(12).fill(201));
    expect(await writers(fresh.map((r) => r.json().id))).toBeLessThan(12);
    const replayed = retried.filter((r) => r.statusCode === 201);
    expect(replayed.map((r) => r.json().id).sort()).toEqual([...ids].sort());
    expect(replayed.every((r) => r.headers['idempotent-replayed'] === 'true')).toBe(true);
    expect(await stock(w.sku.id)).toBe(1_000 - 2 * 33 - 12);
    const stored = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(idempotencyKeys)
      .where(inArray(idempotencyKeys.key, keys));
    expect(stored[0]!.n).toBe(33);
  });

  it('pays a burst in groups, charges each order once, and answers the odd ones alone', async () => {
    const w = await sellingWorld(t, { stock: 100, priceFen: 2990 });
    const buyers = await Promise.all(Array.from({ length: 24 }, () => t.account(['buyer'])));
    const orderIds = await Promise.all(
      buyers.map(async (b) => {
        const res = await checkout(t, b.token, {
          venue: { type: 'live_room', id: w.room.id },
          items: [{ skuId: w.sku.id, quantity: 1 }],
          recipient: recipient(),
        });
        expect(res.statusCode).toBe(201);
        return res.json().id as string;
      }),
    );
    const stranger = await t.account(['buyer']);
    const [results, foreign] = await Promise.all([
      Promise.all(buyers.map((b, i) => pay(t, b.token, orderIds[i]!, `pay-${orderIds[i]}`))),
      // Someone else's order: refused as not found, in the same burst.
      pay(t, stranger.token, orderIds[0]!),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual(Array(24).fill(200));
    expect(results.every((r) => r.json().orderStatus === 'paid')).toBe(true);
    expect(foreign.statusCode).toBe(404);

    const db = t.app.platform.db;
    const charged = await db.select().from(payments).where(inArray(payments.orderId, orderIds));
    expect(charged).toHaveLength(24);
    expect(new Set(charged.map((p) => p.orderId)).size).toBe(24);
    const [writes] = await db
      .select({ n: sql<number>`count(distinct ${payments}.xmin::text)::int` })
      .from(payments)
      .where(inArray(payments.orderId, orderIds));
    expect(writes!.n).toBeLessThan(24);

    // A second attempt with a new key finds the order paid; the same key replays the payment.
    const [again, replay] = await Promise.all([
      pay(t, buyers[1]!.token, orderIds[1]!),
      pay(t, buyers[2]!.token, orderIds[2]!, `pay-${orderIds[2]}`),
    ]);
    expect(again.statusCode).toBe(409);
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().paymentId).toBe(results[2]!.json().paymentId);
    expect(await db.select().from(payments).where(inArray(payments.orderId, orderIds))).toHaveLength(24);

    // Paid orders are booked and counted once each.
    await t.app.paymentProvider.settle();
    await t.app.platform.outbox.drain();
    const [sales] = await db.select().from(skuSales).where(eq(skuSales.skuId, w.sku.id));
    expect(sales!.sold).toBe(24);
    const paidEvents = await db
      .select()
      .from(outboxEvents)
      .where(inArray(outboxEvents.aggregateId, orderIds));
    expect(paidEvents.filter((e) => e.topic === 'order.paid')).toHaveLength(24);
  });

  it('charges an order paid twice at once (a double tap) once, whatever the keys', async () => {
    const w = await sellingWorld(t, { stock: 20, priceFen: 1990 });
    const buyers = await Promise.all(Array.from({ length: 6 }, () => t.account(['buyer'])));
    const orderIds = await Promise.all(
      buyers.map(
        async (b) =>
          (
            await checkout(t, b.token, {
              venue: { type: 'live_room', id: w.room.id },
              items: [{ skuId: w.sku.id, quantity: 1 }],
              recipient: recipient(),
            })
          ).json().id as string,
      ),
    );
    const charged = vi.spyOn(t.app.paymentProvider, 'charge');
    // Orders 0 and 1 are each paid twice in the same burst: with one key, and with two keys.
    const results = await Promise.all([
      ...buyers.map((b, i) => pay(t, b.token, orderIds[i]!, `tap-${orderIds[i]}`)),
      pay(t, buyers[0]!.token, orderIds[0]!, `tap-${orderIds[0]}`),
      pay(t, buyers[1]!.token, orderIds[1]!, `tap-again-${orderIds[1]}`),
    ]);
    const paymentIds = new Set(charged.mock.calls.map(([req]) => req.paymentId));
    charged.mockRestore();
    expect(results.map((r) => r.statusCode).slice(0, 7)).toEqual(Array(7).fill(200));
    expect(results[6]!.json().paymentId).toBe(results[0]!.json().paymentId);
    // The second key finds the order paid (409) or, if it came first, the first key does.
    expect([results[1]!.statusCode, results[7]!.statusCode].sort()).toEqual([200, 409]);
    const rows = await t.app.platform.db.select().from(payments).where(inArray(payments.orderId, orderIds));
    expect(rows).toHaveLength(6);
    // Every charge the provider took is a recorded payment: nobody was charged twice.
    expect([...paymentIds].sort()).toEqual(rows.map((r) => r.id).sort());
  });
});
