import { existsSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp, WEB_DIST } from '../src/app.js';
import { skus } from '../src/modules/catalog/schema.js';
import { orders } from '../src/modules/orders/schema.js';
import { TestClock } from '../src/platform/clock.js';
import { loadConfig } from '../src/platform/config.js';
import { ephemeralMasterKey } from '../src/platform/keys.js';
import { PASSWORD, sellingWorld, type TestContext, unique } from '../test/harness.js';

/**
 * The buyer's live-room page and the merchant's order list in a real browser (Debian's
 * chromium through playwright-core), against the real server listening on a random port.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.E2E_SCREENSHOT_DIR ?? '/tmp';
const BUYER_PASSWORD = 'buyer-password-2020';
const PLAIN = { name: '王小明', phone: '13912345678', detail: '中关村大街 27 号 1101 室' };

/** The harness's TestContext over an app we built ourselves; accounts get a real password. */
function contextFor(app: App): TestContext {
  const names: Record<string, string> = {
    operator: '平台运营',
    merchant: '好物小店店主',
    creator: '美妆达人小美',
  };
  return {
    app,
    clock: new TestClock(new Date()),
    logLines: [],
    request: ({ token, headers, ...opts }) =>
      app.http.inject({
        ...opts,
        headers: { ...(headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    async account(roles, name) {
      const login = unique(name ?? roles[0]!);
      const role = roles.find((r) => r !== 'buyer') ?? 'buyer';
      const acc = await app.services.identity.registerAccount({
        login,
        password: PASSWORD,
        displayName: names[role] ?? login,
        roles,
      });
      const { token } = await app.services.identity.issueSession(acc.id);
      return { id: acc.id, login, token };
    },
    close: () => app.close(),
  };
}

let app: App;
let baseUrl: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(path.join(WEB_DIST, 'index.html'))) {
    throw new Error(`${WEB_DIST} is missing: run \`npm run build:web\` (npm run test:e2e does it for you).`);
  }
  const config = loadConfig(
    {},
    {
      PGLITE_DIR: 'memory://',
      JOB_INTERVAL_MS: 0,
      SEED_DEMO: false,
      LOG_LEVEL: 'silent',
      DATABASE_URL: process.env.DATABASE_URL,
    },
  );
  app = await buildApp({ config, masterKey: ephemeralMasterKey() });
  const address = await app.http.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = address.replace('localhost', '127.0.0.1');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await app?.close();
});

async function newPage(opts: { mobile: boolean }): Promise<Page> {
  const context = await browser.newContext({
    viewport: opts.mobile ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    locale: 'zh-CN',
    ...(opts.mobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    // Failed requests are part of the scenarios; script errors are not.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
      pageErrors.push(msg.text());
  });
  return page;
}

/** The element's text (Playwright's textContent; these elements hold no hidden text). */
const txt = async (locator: Locator) => (await locator.textContent()) ?? '';
const text = (page: Page, testId: string) => txt(page.getByTestId(testId).first());

/** A full-page screenshot from the top (a sticky header would otherwise sit mid-page). */
async function shot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/livecart-${name}.png`, fullPage: true });
}

describe('live room → merchant order list, in a browser', () => {
  it('sells the pinned product to a logged-in buyer and shows the merchant only masked data', async () => {
    const t = contextFor(app);
    const w = await sellingWorld(t, { stock: 5, priceFen: 9900, commissionBps: 2000 });
    const buyerLogin = unique('buyer');
    await app.services.identity.registerAccount({
      login: buyerLogin,
      password: BUYER_PASSWORD,
      displayName: '买家',
      roles: ['buyer'],
    });

    // Home: the live room is listed and links to its page.
    const buyer = await newPage({ mobile: true });
    await buyer.goto(`${baseUrl}/`);
    await buyer.getByTestId(`room-link-${w.room.id}`).waitFor();
    await shot(buyer, 'home');
    await buyer.getByTestId(`room-link-${w.room.id}`).click();
    await buyer.waitForURL(`**/live/${w.room.id}`);

    // The room: live badge, the pinned product (讲解中), the cart with price and stock.
    expect(await text(buyer, 'room-title')).toBe('双十一宠粉专场');
    expect(await text(buyer, 'room-status')).toBe('直播中');
    expect(await text(buyer, 'room-creator')).toBe('美妆达人小美');
    expect(await text(buyer, 'pinned-title')).toBe('玻尿酸补水面膜 10片装');
    const pinnedCard = await txt(buyer.getByTestId('pinned-product'));
    expect(pinnedCard).toContain('讲解中');
    expect(pinnedCard).toContain('¥99.00');
    expect(await text(buyer, `cart-stock-${w.product.id}`)).toBe('库存 5');
    // Not logged in: the login form stands where the buy button would be.
    expect(await buyer.getByTestId('buy-button').count()).toBe(0);

    await buyer.getByTestId('login-name').fill(buyerLogin);
    await buyer.getByTestId('login-password').fill(BUYER_PASSWORD);
    await buyer.getByTestId('login-submit').click();
    await buyer.getByTestId('buy-button').waitFor();

    await buyer.getByTestId(`sku-option-${w.sku.id}`).click();
    await buyer.getByTestId('qty-increase').click();
    expect(await buyer.getByTestId('quantity').inputValue()).toBe('2');
    expect(await text(buyer, 'line-total')).toBe('¥198.00');
    await buyer.getByTestId('recipient-name').fill(PLAIN.name);
    await buyer.getByTestId('recipient-phone').fill(PLAIN.phone);
    await buyer.getByTestId('recipient-province').fill('北京市');
    await buyer.getByTestId('recipient-city').fill('北京市');
    await buyer.getByTestId('recipient-district').fill('海淀区');
    await buyer.getByTestId('recipient-detail').fill(PLAIN.detail);
    await buyer.getByTestId('buy-button').click();

    await buyer.getByTestId('order-result').waitFor();
    await expect.poll(() => text(buyer, 'order-status'), { timeout: 20_000 }).toBe('已支付');
    const orderId = await text(buyer, 'order-id');
    expect(orderId).toMatch(/^ord_[0-9a-z]{26}$/);
    expect(await text(buyer, 'order-recipient-name')).toBe('王**');
    expect(await text(buyer, 'order-recipient-phone')).toBe('139****5678');
    expect(await text(buyer, 'order-total')).toBe('¥198.00');
    // The page refreshes the room: two of five are sold.
    await expect.poll(() => text(buyer, `cart-stock-${w.product.id}`), { timeout: 15_000 }).toBe('库存 3');
    // The address left the form, and nothing of it was stored in the browser.
    expect(await buyer.getByTestId('recipient-phone').inputValue()).toBe('');
    const stored = await buyer.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    for (const v of Object.values(PLAIN)) expect(stored).not.toContain(v);
    await shot(buyer, 'live');

    // The backend agrees: exactly one paid order of 2 × ¥99, and stock went from 5 to 3.
    const shopOrders = await app.platform.db.select().from(orders).where(eq(orders.shopId, w.shop.id));
    expect(shopOrders).toHaveLength(1);
    expect(shopOrders[0]).toMatchObject({
      id: orderId,
      status: 'paid',
      totalFen: 19800,
      venueType: 'live_room',
    });
    const [sku] = await app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(sku!.stock).toBe(3);

    // The merchant's order list: masked recipient, attribution, status; never the plain values.
    const merchant = await newPage({ mobile: false });
    await merchant.goto(`${baseUrl}/live/${w.room.id}`);
    await merchant.getByTestId('pinned-product').waitFor();
    await shot(merchant, 'live-desktop');
    await merchant.getByTestId('nav-merchant').click();
    await merchant.waitForURL('**/merchant/orders');
    await merchant.getByTestId('login-name').fill(w.merchant.login);
    await merchant.getByTestId('login-password').fill(PASSWORD);
    await merchant.getByTestId('login-submit').click();
    const card = merchant.getByTestId(`order-${orderId}`);
    await card.waitFor();
    expect(await txt(card.getByTestId('order-status'))).toBe('已支付');
    expect(await txt(card.getByTestId('order-recipient-name'))).toBe('王**');
    expect(await txt(card.getByTestId('order-recipient-phone'))).toBe('139****5678');
    expect(await txt(card.getByTestId('order-recipient-address'))).toMatch(/^北京市(北京市)?海淀区\*+$/);
    expect(await txt(card.getByTestId('order-attribution'))).toContain('直播间');
    expect(await txt(card.getByTestId('order-attribution'))).toContain(w.creator.id);
    expect(await txt(card)).toContain('玻尿酸补水面膜 10片装');
    expect(await txt(card)).toContain('× 2');
    expect(await txt(card.getByTestId('order-total'))).toBe('¥198.00');
    const html = await merchant.content();
    for (const v of Object.values(PLAIN)) expect(html).not.toContain(v);
    await shot(merchant, 'merchant');

    // Status filter tabs.
    await merchant.getByTestId('status-tab-shipped').click();
    await merchant.getByTestId('orders-empty').waitFor();
    await merchant.getByTestId('status-tab-paid').click();
    await card.waitFor();

    // Ship it: the order leaves the 已支付 tab and shows as 已发货 under 全部.
    await card.getByTestId('ship-open').click();
    await card.getByTestId('ship-carrier').selectOption('SF');
    await card.getByTestId('ship-tracking').fill('sf1234567890');
    await shot(merchant, 'merchant-ship');
    await card.getByTestId('ship-submit').click();
    await merchant.getByTestId('orders-empty').waitFor();
    await merchant.getByTestId('status-tab-all').click();
    await expect.poll(() => txt(card.getByTestId('order-status'))).toBe('已发货');
    expect(await txt(card.getByTestId('order-shipment'))).toContain('SF1234567890');

    // English, remembered across a reload.
    await merchant.getByTestId('lang-toggle').click();
    expect(await text(merchant, 'status-tab-all')).toBe('All');
    await merchant.reload();
    await card.waitFor();
    expect(await text(merchant, 'status-tab-all')).toBe('All');
    expect(await txt(card.getByTestId('order-status'))).toBe('Shipped');
    expect(await txt(card.getByTestId('order-attribution'))).toContain('Live room');
    await shot(merchant, 'merchant-en');
    const htmlEn = await merchant.content();
    for (const v of Object.values(PLAIN)) expect(htmlEn).not.toContain(v);

    expect(pageErrors).toEqual([]);
  });

  it('retries a failed submission with the same idempotency keys and gets one order', async () => {
    const t = contextFor(app);
    const w = await sellingWorld(t, { stock: 4, priceFen: 1990 });
    const buyerLogin = unique('buyer');
    await app.services.identity.registerAccount({
      login: buyerLogin,
      password: BUYER_PASSWORD,
      displayName: '买家',
      roles: ['buyer'],
    });
    const page = await newPage({ mobile: true });
    const orderKeys: string[] = [];
    const payKeys: string[] = [];
    page.on('request', (req) => {
      if (req.method() !== 'POST') return;
      const key = req.headers()['idempotency-key'] ?? '';
      if (new URL(req.url()).pathname === '/api/orders') orderKeys.push(key);
      if (/\/api\/orders\/[^/]+\/pay$/.test(req.url())) payKeys.push(key);
    });
    // The first payment request dies on the wire, as on a flaky mobile network.
    let dropped = false;
    await page.route('**/api/orders/*/pay', (route) => {
      if (dropped) return route.continue();
      dropped = true;
      return route.abort('connectionreset');
    });

    await page.goto(`${baseUrl}/live/${w.room.id}`);
    await page.getByTestId('login-name').fill(buyerLogin);
    await page.getByTestId('login-password').fill(BUYER_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId(`sku-option-${w.sku.id}`).click();
    const fields = {
      name: '李四',
      phone: '13700001111',
      province: '广东省',
      city: '深圳市',
      district: '南山区',
    };
    for (const [field, value] of Object.entries(fields))
      await page.getByTestId(`recipient-${field}`).fill(value);
    await page.getByTestId('recipient-detail').fill('科技园南区 8 栋');
    // A server-side validation error is shown with the API's message and costs no order.
    await page.getByTestId('recipient-phone').fill('12345');
    await page.getByTestId('buy-button').click();
    await expect.poll(() => text(page, 'buy-error')).toContain('mainland mobile number');
    await page.getByTestId('recipient-phone').fill(fields.phone);

    await page.getByTestId('buy-button').click();
    await page.getByTestId('buy-error').waitFor();
    expect(await text(page, 'order-status')).toBe('待支付');
    await page.getByTestId('buy-button').click();
    await expect.poll(() => text(page, 'order-status')).toBe('已支付');

    // Validation failure, then the same submission twice: one order key (reused), one pay key (reused).
    expect(orderKeys).toHaveLength(3);
    expect(orderKeys[1]).toBe(orderKeys[2]);
    expect(orderKeys[0]).not.toBe(orderKeys[1]);
    expect(payKeys).toHaveLength(2);
    expect(payKeys[0]).toBe(payKeys[1]);
    const shopOrders = await app.platform.db.select().from(orders).where(eq(orders.shopId, w.shop.id));
    expect(shopOrders).toHaveLength(1);
    expect(shopOrders[0]).toMatchObject({ status: 'paid', totalFen: 1990 });
    const [sku] = await app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(sku!.stock).toBe(3);
    expect(pageErrors).toEqual([]);
  });

  it('answers client routes with the app and API misses with JSON', async () => {
    const page = await newPage({ mobile: false });
    await page.goto(`${baseUrl}/live/lr_00000000000000000000000000`);
    await page.getByTestId('error').waitFor();
    expect(await text(page, 'error')).toBe('直播间不存在。');
    const res = await fetch(`${baseUrl}/api/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});
