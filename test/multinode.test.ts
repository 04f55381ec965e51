import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelClient } from './live-client.js';
import { sellingWorld, startTestApp, type TestContext } from './harness.js';
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
});
