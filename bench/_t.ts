import { hashPassword } from '../src/modules/identity/password.js';
import { benchApp } from './common.js';

const app = await benchApp();
const { services: s, platform } = app;
const tag = Date.now().toString(36);
const ph = await hashPassword('x');
const mk = (l: string, roles: any) =>
  s.identity.createAccount({ login: l + tag, passwordHash: ph, displayName: l, roles });
const op = await mk('op', ['operator']);
const m = await mk('m', ['merchant']);
const c = await mk('c', ['buyer', 'creator']);
const b = await mk('b', ['buyer']);
const shop = await s.catalog.createShop(m.id, { name: 'x' + tag, qualification: 'q' });
await s.catalog.reviewShop(op.id, shop.id, 'approve');
const cat = await s.catalog.ensureCategory(platform.db, { slug: 'beauty', nameZh: 'a', nameEn: 'b' });
await s.creators.setSharingPermission(op.id, c.id, true, 'x');
const room = await s.venues.createLiveRoom(c.id, { title: 'room', description: '' });
const p = await s.catalog.createProduct(shop.id, {
  categoryId: cat.id,
  title: 'prod',
  description: '',
  commissionBps: 1000,
  skus: [{ name: 'a', priceFen: 100, stock: 100000 }],
});
await s.catalog.reviewProduct(op.id, p.id, 'approve');
await s.venues.addCartItem(c.id, room.id, p.id);
await s.venues.transitionLiveRoom(c.id, room.id, 'live');
const { token } = await s.identity.issueSession(b.id);
const input = {
  venue: { type: 'live_room' as const, id: room.id },
  items: [{ skuId: p.skus[0]!.id, quantity: 1 }],
  recipient: {
    name: '王小明',
    phone: '13912345678',
    province: '浙江省',
    city: '杭州市',
    district: '西湖区',
    detail: '文三路',
  },
};
for (let round = 0; round < 2; round++) {
  let t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await s.orders.createOrder(b.id, input, { key: `k${round}-${i}-${tag}`, hash: 'h' });
    ids.push((r.body as any).id);
  }
  console.log('service createOrder ms', ((performance.now() - t0) / 30).toFixed(2));
  t0 = performance.now();
  for (const id of ids) await s.payments.pay(b.id, id, { key: `p${round}-${id}`, hash: 'h' });
  console.log('service pay ms', ((performance.now() - t0) / 30).toFixed(2));
  t0 = performance.now();
  for (let i = 0; i < 30; i++)
    await app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': `h${round}-${i}-${tag}` },
      payload: input,
    });
  console.log('inject createOrder ms', ((performance.now() - t0) / 30).toFixed(2));
}
await app.close();
