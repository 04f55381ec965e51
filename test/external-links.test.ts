import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableCounts } from './db-snapshot.js';
import { sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
let w: Awaited<ReturnType<typeof sellingWorld>>;

beforeAll(async () => {
  t = await startTestApp();
  w = await sellingWorld(t);
});
afterAll(() => t.close());

const LINKS = [
  'https://item.taobao.com/item.htm?id=6512',
  'www.jd.com/product/100012',
  'm.tb.cn/h.5XyZ',
  '￥AbC1dEf2Gh3￥',
  '去拼多多搜同款更便宜',
  '加微信 vx: shop888 私聊下单',
];

describe('external links (外链) in venues', () => {
  const attempts = (link: string) => [
    {
      what: 'live-room title',
      method: 'POST',
      url: '/api/creator/live-rooms',
      payload: { title: `今晚福利 ${link}` },
    },
    {
      what: 'live-room description',
      method: 'POST',
      url: '/api/creator/live-rooms',
      payload: { title: '今晚福利', description: link },
    },
    {
      what: 'live-room title edit',
      method: 'PATCH',
      url: `/api/creator/live-rooms/${w.room.id}`,
      payload: { title: `福利 ${link}` },
    },
    {
      what: 'cart productId',
      method: 'POST',
      url: `/api/creator/live-rooms/${w.room.id}/cart`,
      payload: { productId: link },
    },
    { what: 'video title', method: 'POST', url: '/api/creator/videos', payload: { title: `好物 ${link}` } },
    {
      what: 'video description',
      method: 'POST',
      url: '/api/creator/videos',
      payload: { title: '好物分享', description: link },
    },
    {
      what: 'anchor productId',
      method: 'POST',
      url: '/api/creator/videos',
      payload: { title: '好物分享', anchor: { productId: link, title: '同款' } },
    },
    {
      what: 'anchor title',
      method: 'POST',
      url: '/api/creator/videos',
      payload: { title: '好物分享', anchor: { productId: w.product.id, title: link.slice(0, 30) } },
    },
  ];

  it.each(LINKS)('rejects %s everywhere a venue takes text or products, writing nothing', async (link) => {
    const before = await tableCounts(t.app.platform.db);
    for (const a of attempts(link)) {
      const res = await t.request({
        method: a.method as 'POST',
        url: a.url,
        token: w.creator.token,
        payload: a.payload,
      });
      expect(res.statusCode, `${a.what}: ${res.body}`).toBe(422);
      const body = res.json();
      expect(body.code).toBe('EXTERNAL_LINK_FORBIDDEN');
      expect(body.message).toMatch(/external link|off-platform/);
      expect(body.details.findings[0].found.length).toBeGreaterThan(0);
    }
    expect(await tableCounts(t.app.platform.db)).toEqual(before);
  });

  it('rejects external links in product listings and says what it found', async () => {
    const res = await t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/products`,
      token: w.merchant.token,
      payload: {
        categoryId: w.category.id,
        title: '爆款面膜',
        description: '详情见 https://shop.example.com/p/1',
        commissionBps: 1000,
        skus: [{ name: '默认', priceFen: 100, stock: 1 }],
      },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toContain('product description');
    expect(res.json().message).toContain('https://shop.example.com/p/1');
  });

  it('still accepts ordinary product talk with prices and sizes', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/creator/live-rooms',
      token: w.creator.token,
      payload: { title: '纯棉T恤 ￥99 包邮 5.5英寸 v2.0', description: '1.5kg 大包装，iPhone 15 Pro 同色' },
    });
    expect(res.statusCode).toBe(201);
  });

  it('only lets creators with product-sharing permission attach products', async () => {
    const other = await t.account(['buyer', 'creator']);
    const room = await t.request({
      method: 'POST',
      url: '/api/creator/live-rooms',
      token: other.token,
      payload: { title: '新人首播' },
    });
    const res = await t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${room.json().id}/cart`,
      token: other.token,
      payload: { productId: w.product.id },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('SHARING_PERMISSION_REQUIRED');
  });
});
