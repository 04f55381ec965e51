import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { type App, buildApp } from '../src/app.js';
import { hashPassword } from '../src/modules/identity/password.js';
import type { Role } from '../src/platform/auth.js';
import { TestClock } from '../src/platform/clock.js';
import { type Config, loadConfig } from '../src/platform/config.js';
import { type Database, openDatabase } from '../src/platform/db.js';
import { ephemeralMasterKey, type MasterKeyProvider } from '../src/platform/keys.js';
import { createLogger } from '../src/platform/logger.js';
import { signPayload } from '../src/platform/signing.js';

/**
 * Test harness: every test file shares one database per process (PGlite in memory, or the
 * PostgreSQL in DATABASE_URL) and builds its own app on it with a TestClock. Tests create
 * their own shops and accounts with unique names, so they never see each other's rows.
 */
let shared: Promise<Database> | null = null;
export function testDatabase(): Promise<Database> {
  shared ??= openDatabase({ databaseUrl: process.env.DATABASE_URL, pgliteDir: 'memory://', poolMax: 40 });
  return shared;
}

export const PASSWORD = 'correct-horse-battery';
let passwordHash: Promise<string> | null = null;

let counter = 0;
export const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`;

export interface TestContext {
  app: App;
  clock: TestClock;
  logLines: string[];
  request(opts: InjectOptions & { token?: string | undefined }): Promise<LightMyRequestResponse>;
  /** Creates an account with the given roles and returns a session for it (no KDF per account). */
  account(roles: Role[], name?: string): Promise<{ id: string; login: string; token: string }>;
  close(): Promise<void>;
}

export async function startTestApp(
  overrides: Partial<Config> = {},
  opts: { masterKey?: MasterKeyProvider } = {},
): Promise<TestContext> {
  const database = await testDatabase();
  const clock = new TestClock(new Date());
  const logLines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => void logLines.push(line) });
  const config = loadConfig(
    {},
    {
      JOB_INTERVAL_MS: 0,
      // Tests await webhooks (provider.settle()): deliver them at once.
      PAYMENT_SIM_WEBHOOK_DELAY_MS: 5,
      DATABASE_URL: process.env.DATABASE_URL,
      ...overrides,
    },
  );
  const app = await buildApp({
    config,
    clock,
    logger,
    masterKey: opts.masterKey ?? ephemeralMasterKey(),
    database,
    background: false,
  });
  passwordHash ??= hashPassword(PASSWORD);
  return {
    app,
    clock,
    logLines,
    request: ({ token, headers, ...opts }) =>
      app.http.inject({
        ...opts,
        headers: { ...(headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    async account(roles, name) {
      const login = unique(name ?? roles[0]!);
      const acc = await app.services.identity.createAccount({
        login,
        passwordHash: await passwordHash!,
        displayName: login,
        roles,
      });
      const { token } = await app.services.identity.issueSession(acc.id);
      return { id: acc.id, login, token };
    },
    close: () => app.close(),
  };
}

export const recipient = (over: Partial<Record<string, string>> = {}) => ({
  name: '张三丰',
  phone: '13812345678',
  province: '浙江省',
  city: '杭州市',
  district: '西湖区',
  detail: '文三路 90 号 3 幢 501 室',
  ...over,
});

/**
 * A selling world built through the HTTP API: an approved shop with one approved product,
 * a creator holding sharing permission whose live room is live with the product in its cart.
 */
export async function sellingWorld(
  t: TestContext,
  opts: { stock?: number; priceFen?: number; commissionBps?: number; categorySlug?: string } = {},
) {
  const operator = await t.account(['operator']);
  const merchant = await t.account(['buyer', 'merchant']);
  const creator = await t.account(['buyer', 'creator']);
  const ok = async (res: Promise<LightMyRequestResponse>, status = 200) => {
    const r = await res;
    if (r.statusCode !== status) throw new Error(`${r.statusCode} ${r.body}`);
    return r.json();
  };
  const shop = await ok(
    t.request({
      method: 'POST',
      url: '/api/shops',
      token: merchant.token,
      payload: { name: unique('测试小店'), qualification: '营业执照 91330100' },
    }),
    201,
  );
  await ok(
    t.request({
      method: 'POST',
      url: `/api/admin/shops/${shop.id}/review`,
      token: operator.token,
      payload: { decision: 'approve' },
    }),
  );
  const category = await t.app.services.catalog.ensureCategory(t.app.platform.db, {
    slug: opts.categorySlug ?? 'beauty',
    nameZh: '美妆个护',
    nameEn: 'Beauty',
  });
  const product = await ok(
    t.request({
      method: 'POST',
      url: `/api/shops/${shop.id}/products`,
      token: merchant.token,
      payload: {
        categoryId: category.id,
        title: '玻尿酸补水面膜 10片装',
        description: '补水保湿，敏感肌可用',
        commissionBps: opts.commissionBps ?? 2000,
        skus: [{ name: '10片/盒', priceFen: opts.priceFen ?? 9900, stock: opts.stock ?? 100 }],
      },
    }),
    201,
  );
  await ok(
    t.request({
      method: 'POST',
      url: `/api/admin/products/${product.id}/review`,
      token: operator.token,
      payload: { decision: 'approve' },
    }),
  );
  await ok(
    t.request({
      method: 'PUT',
      url: `/api/admin/creators/${creator.id}/sharing-permission`,
      token: operator.token,
      payload: { granted: true, reason: '缴纳保证金' },
    }),
  );
  const room = await ok(
    t.request({
      method: 'POST',
      url: '/api/creator/live-rooms',
      token: creator.token,
      payload: { title: '双十一宠粉专场', description: '今晚好物' },
    }),
    201,
  );
  const item = await ok(
    t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${room.id}/cart`,
      token: creator.token,
      payload: { productId: product.id },
    }),
    201,
  );
  await ok(
    t.request({ method: 'POST', url: `/api/creator/live-rooms/${room.id}/start`, token: creator.token }),
  );
  await ok(
    t.request({
      method: 'PUT',
      url: `/api/creator/live-rooms/${room.id}/pinned`,
      token: creator.token,
      payload: { itemId: item.id },
    }),
  );
  return { operator, merchant, creator, shop, product, sku: product.skus[0], room, item, category, ok };
}

/** Another product of the world's shop, listed, approved and put in the live room's cart. */
export async function cartProduct(
  t: TestContext,
  w: Awaited<ReturnType<typeof sellingWorld>>,
  product: {
    categoryId: string;
    title: string;
    description: string;
    commissionBps: number;
    skus: { name: string; priceFen: number; stock: number }[];
  },
) {
  const created = await w.ok(
    t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/products`,
      token: w.merchant.token,
      payload: product,
    }),
    201,
  );
  await w.ok(
    t.request({
      method: 'POST',
      url: `/api/admin/products/${created.id}/review`,
      token: w.operator.token,
      payload: { decision: 'approve' },
    }),
  );
  await w.ok(
    t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${w.room.id}/cart`,
      token: w.creator.token,
      payload: { productId: created.id },
    }),
    201,
  );
  return created as { id: string; skus: { id: string }[] };
}

export function checkout(t: TestContext, token: string, body: unknown, key = unique('idem-')) {
  return t.request({
    method: 'POST',
    url: '/api/orders',
    token,
    payload: body as object,
    headers: { 'idempotency-key': key },
  });
}

export function pay(t: TestContext, token: string, orderId: string, key = unique('idem-')) {
  return t.request({
    method: 'POST',
    url: `/api/orders/${orderId}/pay`,
    token,
    headers: { 'idempotency-key': key },
  });
}

/** Ships a paid order and has the carrier report it delivered (a signed logistics webhook). */
export async function shipAndDeliver(t: TestContext, shopId: string, merchantToken: string, orderId: string) {
  const trackingNo = unique('SFLC').toUpperCase();
  const shipped = await t.request({
    method: 'POST',
    url: `/api/shops/${shopId}/orders/${orderId}/ship`,
    token: merchantToken,
    payload: { carrier: 'SF', trackingNo },
  });
  if (shipped.statusCode !== 200) throw new Error(`ship: ${shipped.statusCode} ${shipped.body}`);
  const body = JSON.stringify({ eventId: unique('trk-'), carrier: 'SF', trackingNo, status: 'delivered' });
  const delivered = await t.request({
    method: 'POST',
    url: '/api/webhooks/logistics',
    payload: body,
    headers: {
      'content-type': 'application/json',
      'x-livecart-signature': signPayload(
        t.app.platform.config.LOGISTICS_WEBHOOK_SECRET,
        body,
        Math.floor(Date.now() / 1000),
      ),
    },
  });
  if (delivered.statusCode !== 200) throw new Error(`deliver: ${delivered.statusCode} ${delivered.body}`);
  await t.app.platform.outbox.drain();
}

/** A paid order of one SKU bought in the world's live room; the payment is booked (outbox drained). */
export async function paidRoomOrder(
  t: TestContext,
  w: { room: { id: string }; sku: { id: string } },
  buyerToken: string,
  quantity = 1,
): Promise<string> {
  const created = await checkout(t, buyerToken, {
    venue: { type: 'live_room', id: w.room.id },
    items: [{ skuId: w.sku.id, quantity }],
    recipient: recipient(),
  });
  if (created.statusCode !== 201) throw new Error(`checkout: ${created.statusCode} ${created.body}`);
  const orderId = created.json().id as string;
  const paid = await pay(t, buyerToken, orderId);
  if (paid.statusCode !== 200) throw new Error(`pay: ${paid.statusCode} ${paid.body}`);
  await t.app.paymentProvider.settle();
  await t.app.platform.outbox.drain();
  return orderId;
}

/** A paid order shipped, delivered and received by its buyer (completed), events delivered. */
export async function completedRoomOrder(
  t: TestContext,
  w: { room: { id: string }; sku: { id: string }; shop: { id: string }; merchant: { token: string } },
  buyerToken: string,
): Promise<string> {
  const orderId = await paidRoomOrder(t, w, buyerToken);
  await shipAndDeliver(t, w.shop.id, w.merchant.token, orderId);
  const done = await t.request({
    method: 'POST',
    url: `/api/orders/${orderId}/confirm-receipt`,
    token: buyerToken,
  });
  if (done.statusCode !== 200) throw new Error(`confirm receipt: ${done.statusCode} ${done.body}`);
  await t.app.platform.outbox.drain();
  return orderId;
}
