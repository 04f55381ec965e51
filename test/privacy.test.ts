import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityEvents } from '../src/modules/audit/schema.js';
import { verifyChains } from '../src/modules/audit/service.js';
import { orders } from '../src/modules/orders/schema.js';
import { DAY, HOUR, localDay, startOfNextLocalDay } from '../src/platform/clock.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext, unique } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  // A small floor so quota arithmetic is visible with a handful of orders.
  t = await startTestApp({ DECRYPT_QUOTA_MIN: 2, DECRYPT_QUOTA_COEFFICIENT: 1.5 });
});
afterAll(() => t.close());

type World = Awaited<ReturnType<typeof sellingWorld>>;

async function paidOrders(w: World, n: number, over: Partial<Record<string, string>> = {}) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const buyer = await t.account(['buyer']);
    const res = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient(over),
    });
    expect(res.statusCode).toBe(201);
    await pay(t, buyer.token, res.json().id);
    ids.push(res.json().id);
  }
  return ids;
}

const decrypt = (token: string, shopId: string, orderIds: string[], reason = '联系买家确认地址') =>
  t.request({
    method: 'POST',
    url: `/api/shops/${shopId}/orders/decrypt`,
    token,
    payload: { orderIds, reason },
    headers: { 'user-agent': 'LivecartTest/1.0', 'x-forwarded-for': '203.0.113.9' },
  });

async function events(shopId: string, operation?: string) {
  return t.app.platform.db
    .select()
    .from(securityEvents)
    .where(
      and(eq(securityEvents.shopId, shopId), operation ? eq(securityEvents.operation, operation) : sql`true`),
    );
}

describe('decrypt', () => {
  it('gives permitted staff the name, address and a virtual number, and audits it', async () => {
    const w = await sellingWorld(t, { stock: 50 });
    const [orderId] = await paidOrders(w, 1, {
      name: '欧阳娜娜',
      phone: '13987654321',
      detail: '中关村大街 27 号',
    });
    const res = await decrypt(w.merchant.token, w.shop.id, [orderId!]);
    expect(res.statusCode).toBe(200);
    const [item] = res.json().items;
    expect(item).toMatchObject({
      orderId,
      name: '欧阳娜娜',
      detail: '中关村大街 27 号',
      phoneIsVirtual: true,
    });
    expect(item.phone).toMatch(/^17[01]\d{8}-\d{4}$/);
    expect(res.body).not.toContain('13987654321');
    const [ev] = await events(w.shop.id, 'decrypt');
    expect(ev).toMatchObject({
      accountId: w.merchant.id,
      accountType: 'merchant_owner',
      orderIds: [orderId],
      reason: '联系买家确认地址',
      userAgent: 'LivecartTest/1.0',
    });
    expect(JSON.stringify(await events(w.shop.id))).not.toContain('欧阳娜娜');
  });

  it('meters the daily quota (highest daily paid orders of 7 days × 1.5), allows a raise once spent, and resets at midnight', async () => {
    const w = await sellingWorld(t, { stock: 100 });
    // Yesterday (local time) the shop had 4 paid orders: today's base is ceil(4 × 1.5) = 6.
    const yesterday = await paidOrders(w, 4);
    t.clock.set(new Date(startOfNextLocalDay(t.clock.now(), 480).getTime() + 9 * HOUR));
    const today = await paidOrders(w, 4);
    const quota = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/decrypt-quota`,
      token: w.merchant.token,
    });
    expect(quota.json()).toMatchObject({
      day: localDay(t.clock.now(), 480),
      base: 6,
      raised: 0,
      used: 0,
      remaining: 6,
    });

    expect((await decrypt(w.merchant.token, w.shop.id, [...yesterday, today[0]!])).statusCode).toBe(200);
    const early = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/decrypt-quota/raise`,
      token: w.merchant.token,
      payload: { amount: 5, reason: '大促发货量大' },
    });
    expect(early.statusCode).toBe(409); // the base (6) is not spent yet: 5 used
    expect((await decrypt(w.merchant.token, w.shop.id, [today[1]!])).statusCode).toBe(200);
    const over = await decrypt(w.merchant.token, w.shop.id, [today[2]!]);
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ code: 'DECRYPT_QUOTA_EXCEEDED', details: { base: 6, used: 6 } });
    expect(
      (await events(w.shop.id, 'denied')).some(
        (e) => (e.details as { code: string }).code === 'DECRYPT_QUOTA_EXCEEDED',
      ),
    ).toBe(true);

    const raised = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/decrypt-quota/raise`,
      token: w.merchant.token,
      payload: { amount: 2, reason: '大促发货量大' },
    });
    expect(raised.json()).toMatchObject({ base: 6, raised: 2, used: 6, remaining: 2 });
    expect((await decrypt(w.merchant.token, w.shop.id, [today[2]!, today[3]!])).statusCode).toBe(200);
    expect((await decrypt(w.merchant.token, w.shop.id, [today[0]!])).statusCode).toBe(429);

    // At 23:59:59 the raise still holds; at 00:00 a new day starts with a fresh base and no raise.
    t.clock.set(new Date(startOfNextLocalDay(t.clock.now(), 480).getTime() - 1000));
    expect(
      (
        await t.request({
          method: 'GET',
          url: `/api/shops/${w.shop.id}/decrypt-quota`,
          token: w.merchant.token,
        })
      ).json(),
    ).toMatchObject({
      raised: 2,
      remaining: 0,
    });
    t.clock.advance(1000);
    const next = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/decrypt-quota`,
      token: w.merchant.token,
    });
    expect(next.json()).toMatchObject({ base: 6, raised: 0, used: 0 });
  });

  it('refuses and audits a staff member without the permission, a service provider without a grant, and another shop', async () => {
    const w = await sellingWorld(t, { stock: 20 });
    const other = await sellingWorld(t, { stock: 5 });
    const [orderId] = await paidOrders(w, 1);
    const staff = await t.account(['buyer']);
    await t.request({
      method: 'PUT',
      url: `/api/shops/${w.shop.id}/staff`,
      token: w.merchant.token,
      payload: { login: staff.login, permissions: ['orders.read'] },
    });
    const { token: staffToken } = await t.app.services.identity.issueSession(staff.id);
    const refusedStaff = await decrypt(staffToken, w.shop.id, [orderId!]);
    expect(refusedStaff.statusCode).toBe(403);

    const agency = await t.account(['service_provider']);
    await t.request({
      method: 'PUT',
      url: `/api/shops/${w.shop.id}/staff`,
      token: w.merchant.token,
      payload: { login: agency.login, permissions: ['orders.read', 'orders.decrypt'] },
    });
    const { token: agencyToken } = await t.app.services.identity.issueSession(agency.id);
    const refusedAgency = await decrypt(agencyToken, w.shop.id, [orderId!]);
    expect(refusedAgency.statusCode).toBe(403);
    expect(refusedAgency.json().message).toContain('Service providers');
    const grant = await t.request({
      method: 'PUT',
      url: `/api/shops/${w.shop.id}/privacy-grants/${agency.id}`,
      token: w.merchant.token,
      payload: { granted: true, reason: '代运营合同 2026-11' },
    });
    expect(grant.statusCode).toBe(200);
    expect((await decrypt(agencyToken, w.shop.id, [orderId!])).statusCode).toBe(200);

    const crossShop = await decrypt(other.merchant.token, w.shop.id, [orderId!]);
    expect(crossShop.statusCode).toBe(404);
    const viaOwnShop = await decrypt(other.merchant.token, other.shop.id, [orderId!]);
    expect(viaOwnShop.statusCode).toBe(404);

    const denied = await events(w.shop.id, 'denied');
    const who = denied.map((e) => `${e.accountType}:${(e.details as { code: string }).code}`);
    expect(who).toEqual(
      expect.arrayContaining([
        'merchant_staff:FORBIDDEN',
        'service_provider:FORBIDDEN',
        'merchant_staff:SHOP_NOT_FOUND',
      ]),
    );
    expect((await verifyChains(t.app.platform.db, { chain: `shop:${w.shop.id}` })).ok).toBe(true);
  });

  it('refuses orders that are unpaid or past the after-sales window', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const buyer = await t.account(['buyer']);
    const unpaid = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient(),
    });
    const res = await decrypt(w.merchant.token, w.shop.id, [unpaid.json().id]);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('DECRYPT_NOT_ALLOWED');
  });
});

describe('search, export and erasure', () => {
  it('finds orders by full phone number through the blind index, and exports masks only', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const [mine] = await paidOrders(w, 1, { phone: '13611112222', name: '李白' });
    await paidOrders(w, 1, { phone: '13633334444' });
    const found = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/orders?phone=13611112222`,
      token: w.merchant.token,
    });
    expect(found.json().items.map((o: { id: string }) => o.id)).toEqual([mine]);
    const byName = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/orders?name=${encodeURIComponent('李白')}`,
      token: w.merchant.token,
    });
    expect(byName.json().items.map((o: { id: string }) => o.id)).toEqual([mine]);

    const csv = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/orders/export.csv?reason=${encodeURIComponent('对账')}`,
      token: w.merchant.token,
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(csv.body).toContain('李*');
    expect(csv.body).toContain('136****2222');
    for (const plain of ['李白', '13611112222', '13633334444', '文三路'])
      expect(csv.body).not.toContain(plain);
    const [ev] = await events(w.shop.id, 'export_order_list');
    expect(ev).toMatchObject({ reason: '对账' });
    expect(ev!.orderIds).toHaveLength(2);
  });

  it('shreds recipient data after retention: decrypt fails clearly and the masks still show', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const [orderId] = await paidOrders(w, 1, { phone: '13755556666' });
    await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/orders/${orderId}/ship`,
      token: w.merchant.token,
      payload: {
        carrier: 'ZTO',
        trackingNo: `ZT${unique('')
          .toUpperCase()
          .replace(/[^A-Z0-9]/g, '')}`.slice(0, 20),
      },
    });
    const buyerOrder = await t.app.platform.db.execute(
      sql`select buyer_account_id from orders where id = ${orderId}`,
    );
    const buyerId = ((buyerOrder as any).rows ?? buyerOrder)[0].buyer_account_id as string;
    await t.app.services.orders.confirmReceipt(buyerId, orderId!);
    // Months later: the bucket is closed and the retention period has passed.
    t.clock.advance(t.app.platform.config.RETENTION_DAYS * DAY + 62 * DAY);
    const shredded = await t.app.platform.jobs.runNow('privacy.shred-expired');
    expect(shredded['privacy.shred-expired']).toBeGreaterThanOrEqual(1);
    const [row] = await t.app.platform.db.select().from(orders).where(eq(orders.id, orderId!));
    const opened = await t.app.services.vault
      .openRecipients(t.app.platform.db, w.shop.id, [row!.recipientId])
      .catch((e) => e);
    expect(opened.code).toBe('RECIPIENT_SHREDDED');
    const { token } = await t.app.services.identity.issueSession(w.merchant.id);
    const order = await t.request({ method: 'GET', url: `/api/shops/${w.shop.id}/orders/${orderId}`, token });
    expect(order.json().recipient.phone).toBe('137****6666');
  });

  it('refuses decrypt once the data key is shredded, though an earlier decrypt left it unwrapped in memory', async () => {
    for (const where of ['this node', 'another node'] as const) {
      const w = await sellingWorld(t, { stock: 10 });
      const [orderId] = await paidOrders(w, 1);
      expect((await decrypt(w.merchant.token, w.shop.id, [orderId!])).statusCode).toBe(200);
      const key = await t.app.platform.db.execute(
        sql`select r.data_key_id as id from orders o join recipients r on r.id = o.recipient_id where o.id = ${orderId}`,
      );
      const keyId = ((key as any).rows ?? key)[0].id as string;
      const cached = () => (t.app.services.vault as any).opening.has(keyId) as boolean;
      expect(cached()).toBe(true);
      if (where === 'this node') {
        expect(await t.app.services.vault.shredDataKeys([keyId])).toBe(1);
      } else {
        // Another node's vault shreds it: this node's memory is not told.
        await t.app.platform.db.execute(
          sql`update privacy_data_keys set wrapped_key = null, shredded_at = ${t.clock.now().toISOString()}::timestamptz where id = ${keyId}`,
        );
      }
      const again = await decrypt(w.merchant.token, w.shop.id, [orderId!]);
      expect(again.statusCode, where).toBe(410);
      expect(again.json().code).toBe('RECIPIENT_SHREDDED');
      const denied = await events(w.shop.id, 'denied');
      expect(denied.map((e) => (e.details as { code?: string }).code)).toEqual(['RECIPIENT_SHREDDED']);
      expect(await events(w.shop.id, 'decrypt')).toHaveLength(1);
      expect(cached()).toBe(false);
    }
  });

  it('erases a buyer’s recipient data when they delete their account, keeping masks and orders', async () => {
    const w = await sellingWorld(t, { stock: 10 });
    const buyer = await t.account(['buyer']);
    const res = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient({ name: '杜甫', phone: '13899990000' }),
    });
    const orderId = res.json().id;
    const blocked = await t.request({ method: 'DELETE', url: '/api/me', token: buyer.token });
    expect(blocked.statusCode).toBe(409); // an order is still open
    await t.request({ method: 'POST', url: `/api/orders/${orderId}/cancel`, token: buyer.token });
    const done = await t.request({ method: 'DELETE', url: '/api/me', token: buyer.token });
    expect(done.json()).toMatchObject({ erasedRecipients: 1, orders: 1 });
    expect((await t.request({ method: 'GET', url: '/api/me', token: buyer.token })).statusCode).toBe(401);
    const order = await t.app.services.orders.getShopOrder(w.shop.id, orderId);
    expect(order.recipient).toMatchObject({ name: '杜*', phone: '138****0000' });
    const search = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/orders?phone=13899990000`,
      token: w.merchant.token,
    });
    expect(search.json().items).toEqual([]);
    expect((await events(w.shop.id, 'delete_order')).map((e) => e.orderIds)).toEqual([[orderId]]);
  });
});
