import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manyBuyers, slotLedger } from './flash-helpers.js';
import { sellingWorld, startTestApp, type TestContext, unique } from './harness.js';
import { ChannelClient } from './live-client.js';
import { call, type ServerNode, startNode } from './nodes.js';

/**
 * Two server processes on one PostgreSQL and one NATS (JetStream): what a merchant or creator
 * does through node B reaches viewers connected to node A. Runs when DATABASE_URL and NATS_URL
 * are set (CI sets both).
 */
const enabled = !!process.env.DATABASE_URL && !!process.env.NATS_URL;

describe.skipIf(!enabled)('several server nodes', () => {
  let t: TestContext;
  let a: ServerNode;
  let b: ServerNode;
  beforeAll(async () => {
    // The world is written straight to the shared database; the nodes' dispatchers relay it.
    t = await startTestApp();
    const env = { DATABASE_URL: process.env.DATABASE_URL!, NATS_URL: process.env.NATS_URL! };
    [a, b] = await Promise.all([startNode('node-a', env), startNode('node-b', env)]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await t?.close();
  });

  it('delivers a price change and a pin made through node B to a viewer on node A, and counts viewers on both', async () => {
    const w = await sellingWorld(t, { stock: 30, priceFen: 12_900 });
    const viewer = await ChannelClient.open(a.url, w.room.id);
    const snap = await viewer.next((i) => i.type === 'snapshot', 10_000);
    expect(snap.data.id).toBe(w.room.id);
    const other = await ChannelClient.open(b.url, w.room.id);
    await other.next((i) => i.type === 'snapshot', 10_000);
    await viewer.next((i) => i.type === 'counters' && i.data.viewers === 2, 10_000);

    const price = await call(b, 'PUT', `/api/shops/${w.shop.id}/skus/${w.sku.id}/price`, {
      token: w.merchant.token,
      body: { priceFen: 9_900 },
    });
    expect(price.status, price.body).toBe(200);
    const priced = await viewer.next((i) => i.type === 'price', 10_000);
    expect(priced.data).toEqual({ skuId: w.sku.id, productId: w.product.id, priceFen: 9_900 });

    const unpin = await call(b, 'PUT', `/api/creator/live-rooms/${w.room.id}/pinned`, {
      token: w.creator.token,
      body: { itemId: null },
    });
    expect(unpin.status, unpin.body).toBe(200);
    const pinned = await viewer.next((i) => i.type === 'pinned' && i.data.itemId === null, 10_000);
    // Both nodes read the same stream: the same event has the same id everywhere.
    const seenOnB = await other.next((i) => i.type === 'pinned' && i.data.itemId === null, 10_000);
    expect(seenOnB.id).toBe(pinned.id);

    // A viewer of node A that reconnects to node B resumes there from the same id.
    const last = viewer.lastEventId();
    await viewer.close();
    const repin = await call(b, 'PUT', `/api/creator/live-rooms/${w.room.id}/pinned`, {
      token: w.creator.token,
      body: { itemId: w.item.id },
    });
    expect(repin.status).toBe(200);
    await other.next((i) => i.type === 'pinned' && i.data.itemId === w.item.id, 10_000);
    const moved = await ChannelClient.open(b.url, w.room.id, last);
    await moved.next((i) => i.type === 'resumed', 10_000);
    const missed = await moved.next((i) => i.type === 'pinned', 10_000);
    expect(missed.data.itemId).toBe(w.item.id);
    await Promise.all([other.close(), moved.close()]);
  }, 60_000);

  it('sells exactly a flash sale’s quantity when 600 buyers hammer it through both nodes at once', async () => {
    const w = await sellingWorld(t, { stock: 800, priceFen: 19_900 });
    const buyers = await manyBuyers(t, 600);
    const now = Date.now();
    const created = await call(b, 'POST', `/api/creator/live-rooms/${w.room.id}/flash-sales`, {
      token: w.creator.token,
      body: {
        cartItemId: w.item.id,
        skuId: w.sku.id,
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 30 * 60_000).toISOString(),
        priceFen: 9_900,
        quantity: 500,
        perBuyerLimit: 1,
      },
    });
    expect(created.status, created.body).toBe(201);
    const slot = created.json();

    // The sale was created through node b; node a sells from it (one buyer first, alone: in the
    // hammer below either node may take it all).
    const [first, ...rest] = buyers;
    const alone = await call(a, 'POST', `/api/flash-sales/${slot.id}/reservations`, {
      token: first!.token,
      body: { quantity: 1 },
      headers: { 'idempotency-key': unique('tap-') },
    });
    expect(alone.status, alone.body).toBe(201);
    // Each other buyer taps once on each node, all at the same time.
    const attempts = rest.flatMap((buyer) => [a, b].map((node) => ({ node, buyer })));
    const answers = await Promise.all(
      attempts.map(({ node, buyer }) =>
        call(node, 'POST', `/api/flash-sales/${slot.id}/reservations`, {
          token: buyer.token,
          body: { quantity: 1 },
          headers: { 'idempotency-key': unique('tap-') },
        }),
      ),
    );
    const soldBy = new Map<string, number>();
    const soldOutBy = new Map<string, number>();
    const perBuyer = new Map<string, number>();
    answers.forEach((res, i) => {
      const { node, buyer } = attempts[i]!;
      if (res.status === 201) {
        soldBy.set(node.name, (soldBy.get(node.name) ?? 0) + 1);
        perBuyer.set(buyer.id, (perBuyer.get(buyer.id) ?? 0) + 1);
      } else {
        expect(res.status, res.body).toBe(409);
        expect(['FLASH_SALE_SOLD_OUT', 'FLASH_SALE_LIMIT_REACHED']).toContain(res.json().code);
        if (res.json().code === 'FLASH_SALE_SOLD_OUT')
          soldOutBy.set(node.name, (soldOutBy.get(node.name) ?? 0) + 1);
      }
    });
    expect((soldBy.get('node-a') ?? 0) + (soldBy.get('node-b') ?? 0)).toBe(499);
    // Both nodes sold from the one sale: each sold units, or saw it sold out by the other
    // (which node's batches commit first is timing; either way neither oversold).
    for (const node of ['node-a', 'node-b']) {
      expect((soldBy.get(node) ?? 0) + (soldOutBy.get(node) ?? 0), node).toBeGreaterThan(0);
    }
    expect(Math.max(...perBuyer.values())).toBe(1);

    const ledger = await slotLedger(t.app.platform.db, slot.id);
    expect(ledger.held).toBe(500);
    expect(ledger.remaining).toBe(0);
    expect(Math.min(...ledger.buckets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ledger.heldByBuyer.values())).toBe(1);
    for (const [buyer, units] of ledger.countedByBuyer)
      expect(units).toBe(ledger.heldByBuyer.get(buyer) ?? 0);
    expect(ledger.skuStock + ledger.held).toBe(800);
  }, 120_000);
});
