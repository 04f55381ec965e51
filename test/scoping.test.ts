import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
let a: Awaited<ReturnType<typeof sellingWorld>>;
let b: Awaited<ReturnType<typeof sellingWorld>>;
let orderA: { id: string };
let orderB: { id: string };
let buyerA: { id: string; token: string };

beforeAll(async () => {
  t = await startTestApp();
  a = await sellingWorld(t);
  b = await sellingWorld(t);
  buyerA = await t.account(['buyer']);
  const buyerB = await t.account(['buyer']);
  orderA = (
    await checkout(t, buyerA.token, {
      venue: { type: 'live_room', id: a.room.id },
      items: [{ skuId: a.sku.id, quantity: 1 }],
      recipient: recipient({ name: '欧阳娜娜', phone: '+86 139 8765 4321', detail: '中关村大街 27 号 1101' }),
    })
  ).json();
  orderB = (
    await checkout(t, buyerB.token, {
      venue: { type: 'live_room', id: b.room.id },
      items: [{ skuId: b.sku.id, quantity: 1 }],
      recipient: recipient(),
    })
  ).json();
  await pay(t, buyerA.token, orderA.id);
  await pay(t, buyerB.token, orderB.id);
});
afterAll(() => t.close());

describe('data scoping', () => {
  it('shows the merchant masked recipients only', async () => {
    const list = await t.request({
      method: 'GET',
      url: `/api/shops/${a.shop.id}/orders`,
      token: a.merchant.token,
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toHaveLength(1);
    expect(list.json().items[0].recipient).toEqual({
      name: '欧***',
      phone: '139****4321',
      address: '浙江省杭州市西湖区****',
    });
    const detail = await t.request({
      method: 'GET',
      url: `/api/shops/${a.shop.id}/orders/${orderA.id}`,
      token: a.merchant.token,
    });
    for (const text of [list.body, detail.body]) {
      for (const plain of ['欧阳娜娜', '13987654321', '8765', '中关村']) expect(text).not.toContain(plain);
    }
  });

  it("never shows a merchant another shop's orders, answering 404 rather than 403", async () => {
    const viaOwnShop = await t.request({
      method: 'GET',
      url: `/api/shops/${a.shop.id}/orders/${orderB.id}`,
      token: a.merchant.token,
    });
    expect(viaOwnShop.statusCode).toBe(404);
    expect(viaOwnShop.json().code).toBe('ORDER_NOT_FOUND');
    const otherShopList = await t.request({
      method: 'GET',
      url: `/api/shops/${b.shop.id}/orders`,
      token: a.merchant.token,
    });
    expect(otherShopList.statusCode).toBe(404);
    expect(otherShopList.json().code).toBe('SHOP_NOT_FOUND');
    const otherShopOrder = await t.request({
      method: 'GET',
      url: `/api/shops/${b.shop.id}/orders/${orderB.id}`,
      token: a.merchant.token,
    });
    expect(otherShopOrder.statusCode).toBe(404);
    const ship = await t.request({
      method: 'POST',
      url: `/api/shops/${a.shop.id}/orders/${orderB.id}/ship`,
      token: a.merchant.token,
      payload: { carrier: 'SF', trackingNo: 'SFLCXXXX0001' },
    });
    expect(ship.statusCode).toBe(404);
    const stock = await t.request({
      method: 'POST',
      url: `/api/shops/${a.shop.id}/skus/${b.sku.id}/stock`,
      token: a.merchant.token,
      payload: { delta: 5 },
    });
    expect(stock.statusCode).toBe(404);
  });

  it('limits shop staff to their permissions', async () => {
    const staff = await t.account(['buyer']);
    const add = await t.request({
      method: 'PUT',
      url: `/api/shops/${a.shop.id}/staff`,
      token: a.merchant.token,
      payload: { login: staff.login, permissions: ['orders.read'] },
    });
    expect(add.statusCode).toBe(200);
    const list = await t.request({
      method: 'GET',
      url: `/api/shops/${a.shop.id}/orders`,
      token: staff.token,
    });
    expect(list.statusCode).toBe(200);
    const ship = await t.request({
      method: 'POST',
      url: `/api/shops/${a.shop.id}/orders/${orderA.id}/ship`,
      token: staff.token,
      payload: { carrier: 'SF', trackingNo: 'SFLCXXXX0002' },
    });
    expect(ship.statusCode).toBe(403);
    expect(ship.json().message).toContain('orders.ship');
  });

  it('keeps a buyer to their own orders and roles to their routes', async () => {
    const stranger = await t.account(['buyer']);
    const res = await t.request({ method: 'GET', url: `/api/orders/${orderA.id}`, token: stranger.token });
    expect(res.statusCode).toBe(404);
    const mine = await t.request({ method: 'GET', url: '/api/orders', token: buyerA.token });
    expect(mine.json().items.map((o: { id: string }) => o.id)).toEqual([orderA.id]);
    expect(
      (await t.request({ method: 'GET', url: '/api/admin/shops', token: buyerA.token })).statusCode,
    ).toBe(403);
    expect((await t.request({ method: 'GET', url: '/api/admin/shops' })).statusCode).toBe(401);
    expect(
      (await t.request({ method: 'GET', url: '/api/admin/shops', token: 'lc_forged' })).json().code,
    ).toBe('UNAUTHENTICATED');
  });

  it('keeps plain recipient data out of the log', async () => {
    const log = t.logLines.join('\n');
    for (const plain of ['欧阳娜娜', '13987654321', '8765 4321', '中关村', '张三丰', '13812345678'])
      expect(log).not.toContain(plain);
  });
});
