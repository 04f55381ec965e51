import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveRooms } from '../src/modules/venues/schema.js';
import { checkout, recipient, sellingWorld, startTestApp, type TestContext } from './harness.js';
import { ChannelClient } from './live-client.js';

let t: TestContext;
let base: string;
beforeAll(async () => {
  t = await startTestApp();
  base = await t.app.http.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => t.close());

async function drain() {
  await t.app.platform.outbox.drain();
}

describe('the live-room channel', () => {
  it('sends a snapshot, then pin, price and stock changes in order, with viewer counters', async () => {
    const w = await sellingWorld(t, { stock: 50, priceFen: 9900 });
    await drain();
    const a = await ChannelClient.open(base, w.room.id);
    const snap = await a.next((i) => i.type === 'snapshot');
    expect(snap.data).toMatchObject({ id: w.room.id, status: 'live', pinned: { itemId: w.item.id } });
    expect(typeof snap.id).toBe('number');
    const b = await ChannelClient.open(base, w.room.id);
    await b.next((i) => i.type === 'snapshot');
    await a.next((i) => i.type === 'counters' && i.data.viewers === 2);

    const price = await t.request({
      method: 'PUT',
      url: `/api/shops/${w.shop.id}/skus/${w.sku.id}/price`,
      token: w.merchant.token,
      payload: { priceFen: 7900 },
    });
    expect(price.statusCode, price.body).toBe(200);
    await t.request({
      method: 'PUT',
      url: `/api/creator/live-rooms/${w.room.id}/pinned`,
      token: w.creator.token,
      payload: { itemId: null },
    });
    await drain();
    const priceEvent = await a.next((i) => i.type === 'price');
    expect(priceEvent.data).toEqual({ skuId: w.sku.id, productId: w.product.id, priceFen: 7900 });
    const unpinned = await a.next((i) => i.type === 'pinned');
    expect(unpinned.id!).toBeGreaterThan(priceEvent.id!);
    expect(unpinned.data).toMatchObject({ itemId: null });
    await t.request({
      method: 'PUT',
      url: `/api/creator/live-rooms/${w.room.id}/pinned`,
      token: w.creator.token,
      payload: { itemId: w.item.id },
    });
    await drain();
    const pinned = await b.next((i) => i.type === 'pinned' && i.data.itemId === w.item.id);
    expect(pinned.data.skuIds).toEqual([w.sku.id]);
    await a.next((i) => i.type === 'counters' && i.data.stock?.[w.sku.id] === 50);

    // A purchase in the room moves the pinned product's stock counter.
    const buyer = await t.account(['buyer']);
    const order = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 3 }],
      recipient: recipient(),
    });
    expect(order.statusCode, order.body).toBe(201);
    await drain();
    await a.next((i) => i.type === 'counters' && i.data.stock?.[w.sku.id] === 47);
    // No buyer data ever reaches the channel.
    expect(JSON.stringify(a.items)).not.toContain('13812345678');
    await Promise.all([a.close(), b.close()]);
  });

  it('resumes a reconnecting viewer from its last event id, or snapshots when that is too old', async () => {
    const w = await sellingWorld(t);
    await drain();
    const a = await ChannelClient.open(base, w.room.id);
    await a.next((i) => i.type === 'snapshot');
    await t.request({
      method: 'PUT',
      url: `/api/creator/live-rooms/${w.room.id}/pinned`,
      token: w.creator.token,
      payload: { itemId: null },
    });
    await drain();
    await a.next((i) => i.type === 'pinned');
    const last = a.lastEventId();
    await a.close();

    // Missed while away: two pins.
    for (const itemId of [w.item.id, null]) {
      await t.request({
        method: 'PUT',
        url: `/api/creator/live-rooms/${w.room.id}/pinned`,
        token: w.creator.token,
        payload: { itemId },
      });
      await drain();
    }
    const back = await ChannelClient.open(base, w.room.id, last);
    await back.next((i) => i.type === 'resumed');
    await back.next((i) => i.type === 'counters' && i.data.viewers >= 1);
    const missed = await back.next((i) => i.type === 'pinned' && i.data.itemId === null);
    expect(back.items.filter((i) => i.type === 'pinned').map((i) => i.data.itemId)).toEqual([
      w.item.id,
      null,
    ]);
    expect(back.items.some((i) => i.type === 'snapshot')).toBe(false);
    expect(missed.id!).toBeGreaterThan(last);

    const stale = await ChannelClient.open(base, w.room.id, 0);
    await stale.next((i) => i.type === 'snapshot');
    await Promise.all([back.close(), stale.close()]);
  });

  it('coalesces likes into the counter and saves them; rate-limits and filters comments', async () => {
    const w = await sellingWorld(t);
    const viewer = await ChannelClient.open(base, w.room.id);
    const commenter = await ChannelClient.open(base, w.room.id);
    await viewer.next((i) => i.type === 'snapshot');
    await commenter.next((i) => i.type === 'snapshot');

    for (let i = 0; i < 30; i++) commenter.send({ type: 'like' });
    await viewer.next((i) => i.type === 'counters' && i.data.likes === 30);
    // 30 likes arrived in a handful of frames, not 30.
    expect(viewer.items.filter((i) => i.type === 'counters').length).toBeLessThan(15);

    commenter.send({ type: 'comment', text: '好看' });
    const refused = await commenter.next((i) => i.type === 'error');
    expect(refused.data.code).toBe('UNAUTHENTICATED');

    const buyer = await t.account(['buyer'], '王小明');
    commenter.send({ type: 'auth', token: buyer.token });
    await commenter.next((i) => i.type === 'authenticated');
    const errorsBefore = commenter.items.filter((i) => i.type === 'error').length;
    commenter.send({ type: 'comment', text: '加微信 wx123456 拿内部价，或去 taobao.com 搜' });
    const link = await commenter.next((i) => i.type === 'error', 5_000, commenter.items.length - 1);
    expect(link.data.code).toBe('EXTERNAL_LINK_FORBIDDEN');
    commenter.send({ type: 'comment', text: '主播好！' });
    const comment = await viewer.next((i) => i.type === 'comment');
    expect(comment.data.text).toBe('主播好！');
    expect(comment.data.nickname).not.toContain('小明');

    for (let i = 0; i < 5; i++) commenter.send({ type: 'comment', text: `第${i}条` });
    await commenter.next((i) => i.type === 'error' && i.data.code === 'RATE_LIMITED');
    expect(commenter.items.filter((i) => i.type === 'error').length).toBeGreaterThan(errorsBefore);
    commenter.send({ type: 'like', count: 1000 });
    await commenter.next((i) => i.type === 'error' && i.data.code === 'VALIDATION_FAILED');

    await new Promise((r) => setTimeout(r, 200));
    const [row] = await t.app.platform.db.select().from(liveRooms).where(eq(liveRooms.id, w.room.id));
    expect(row!.likes).toBe(30);
    await Promise.all([viewer.close(), commenter.close()]);
  });

  it('closes the channel of a room that does not exist', async () => {
    const c = await ChannelClient.open(base, 'lr_00000000000000000000000000');
    const err = await c.next((i) => i.type === 'error');
    expect(err.data.code).toBe('LIVE_ROOM_NOT_FOUND');
  });
});
