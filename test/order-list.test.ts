import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityEvents } from '../src/modules/audit/schema.js';
import { orders } from '../src/modules/orders/schema.js';
import {
  checkout,
  pay,
  recipient,
  sellingWorld,
  shipAndDeliver,
  startTestApp,
  type TestContext,
} from './harness.js';

let t: TestContext;
type World = Awaited<ReturnType<typeof sellingWorld>>;
let a: World;
let b: World;

/** Orders in a shop: some unpaid, some paid, some shipped and delivered. */
async function orderMix(w: World) {
  for (let i = 0; i < 9; i++) {
    const buyer = await t.account(['buyer']);
    const res = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient(),
    });
    expect(res.statusCode).toBe(201);
    const id = res.json().id as string;
    if (i % 3 === 0) continue; // stays pending_payment
    expect((await pay(t, buyer.token, id)).statusCode).toBe(200);
    if (i % 3 === 2) await shipAndDeliver(t, w.shop.id, w.merchant.token, id);
  }
}

beforeAll(async () => {
  t = await startTestApp();
  a = await sellingWorld(t, { stock: 100 });
  b = await sellingWorld(t, { stock: 100 });
  // Interleaved, so the two shops' orders alternate in id order.
  await Promise.all([orderMix(a), orderMix(b)]);
});
afterAll(() => t.close());

async function pages(w: World, status?: string) {
  const seen: { id: string; status: string }[][] = [];
  let cursor: string | null = null;
  for (let n = 0; n < 20; n++) {
    const q = new URLSearchParams({ limit: '2' });
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    const res = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/orders?${q}`,
      token: w.merchant.token,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { items: { id: string; status: string }[]; nextCursor: string | null };
    seen.push(body.items);
    cursor = body.nextCursor;
    if (!cursor) return seen;
  }
  throw new Error('the list never ended');
}

describe("the shop's order list", () => {
  it('pages newest first through exactly this shop’s orders of the status, and audits each page', async () => {
    for (const w of [a, b]) {
      for (const status of [undefined, 'pending_payment', 'paid', 'delivered', 'completed'] as const) {
        const expected = (
          await t.app.platform.db
            .select({ id: orders.id })
            .from(orders)
            .where(and(eq(orders.shopId, w.shop.id), status ? eq(orders.status, status) : undefined))
            .orderBy(desc(orders.id))
        ).map((o) => o.id);
        const got = await pages(w, status);
        expect(
          got.flat().map((o) => o.id),
          `${w.shop.id} ${status}`,
        ).toEqual(expected);
        if (status) for (const o of got.flat()) expect(o.status).toBe(status);
        for (const page of got) expect(page.length).toBeLessThanOrEqual(2);
      }
    }
    // Each item is the order as its own page shows it, lines included.
    const page = await t.request({
      method: 'GET',
      url: `/api/shops/${a.shop.id}/orders?limit=100`,
      token: a.merchant.token,
    });
    const items = page.json().items as { id: string; lines: unknown[] }[];
    expect(items).toHaveLength(9);
    for (const item of items) {
      expect(item.lines).toHaveLength(1);
      const one = await t.request({
        method: 'GET',
        url: `/api/shops/${a.shop.id}/orders/${item.id}`,
        token: a.merchant.token,
      });
      expect(item).toEqual(one.json());
    }
    const listed = await t.app.platform.db
      .select()
      .from(securityEvents)
      .where(and(eq(securityEvents.shopId, a.shop.id), eq(securityEvents.operation, 'view_order_list')));
    expect(listed.length).toBeGreaterThanOrEqual(5);
    expect(listed.every((e) => e.accountId === a.merchant.id && e.accountType === 'merchant_owner')).toBe(
      true,
    );
  });

  it('answers an empty page past the oldest order, and 404 for a shop the caller is not staff of', async () => {
    const none = await t.request({
      method: 'GET',
      url: `/api/shops/${a.shop.id}/orders?status=paid&cursor=ord_0`,
      token: a.merchant.token,
    });
    expect(none.json()).toEqual({ items: [], nextCursor: null });
    const other = await t.request({
      method: 'GET',
      url: `/api/shops/${b.shop.id}/orders?status=paid`,
      token: a.merchant.token,
    });
    expect(other.statusCode).toBe(404);
  });
});
