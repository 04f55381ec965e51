import { existsSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
  type WebSocket as PageSocket,
} from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp, WEB_DIST } from '../src/app.js';
import { skus } from '../src/modules/catalog/schema.js';
import { flashSaleReservations } from '../src/modules/flashsales/schema.js';
import { orders } from '../src/modules/orders/schema.js';
import { couponClaims, redEnvelopes } from '../src/modules/promotions/schema.js';
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

// --- The live room on its channel, in two browsers ------------------------------------------

interface ChannelItem {
  id?: number;
  type: string;
  data: any;
}

/** What a page did on the wire: its channel sockets and their frames, and its REST reads of the room. */
interface Wire {
  sockets: PageSocket[];
  received: { socket: number; item: ChannelItem }[];
  sent: { socket: number; msg: any }[];
  roomReads: number;
}

function watchWire(page: Page, roomId: string): Wire {
  const wire: Wire = { sockets: [], received: [], sent: [], roomReads: 0 };
  page.on('websocket', (ws) => {
    if (!ws.url().includes(`/api/live-rooms/${roomId}/channel`)) return;
    const socket = wire.sockets.push(ws) - 1;
    ws.on('framereceived', (f) => {
      for (const item of JSON.parse(String(f.payload)) as ChannelItem[]) wire.received.push({ socket, item });
    });
    ws.on('framesent', (f) => wire.sent.push({ socket, msg: JSON.parse(String(f.payload)) }));
  });
  page.on('request', (req) => {
    if (req.method() === 'GET' && new URL(req.url()).pathname === `/api/live-rooms/${roomId}`)
      wire.roomReads++;
  });
  return wire;
}

/** A buyer account with a real password, to log in through the page's form. */
async function registerBuyer(displayName: string) {
  const login = unique('buyer');
  const account = await app.services.identity.registerAccount({
    login,
    password: BUYER_PASSWORD,
    displayName,
    roles: ['buyer'],
  });
  return { id: account.id, login };
}

async function logIn(page: Page, login: string) {
  await page.getByTestId('login-name').fill(login);
  await page.getByTestId('login-password').fill(BUYER_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('buy-button').waitFor();
}

/** Waits for what the page shows as the channel brings it (10 s rather than vitest's 1 s). */
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 10_000 });

/** Outbox rows are relayed to the channel by the dispatcher's poll; a nudge makes it now. */
const relay = () => app.platform.outbox.wake();

/** A second product of the world's shop, approved and put in the room's cart. */
async function anotherProduct(t: TestContext, w: Awaited<ReturnType<typeof sellingWorld>>, title: string) {
  const product = await w.ok(
    t.request({
      method: 'POST',
      url: `/api/shops/${w.shop.id}/products`,
      token: w.merchant.token,
      payload: {
        categoryId: w.category.id,
        title,
        description: '温和清洁',
        commissionBps: 1500,
        skus: [{ name: '150ml', priceFen: 5900, stock: 30 }],
      },
    }),
    201,
  );
  await w.ok(
    t.request({
      method: 'POST',
      url: `/api/admin/products/${product.id}/review`,
      token: w.operator.token,
      payload: { decision: 'approve' },
    }),
  );
  const item = await w.ok(
    t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${w.room.id}/cart`,
      token: w.creator.token,
      payload: { productId: product.id },
    }),
    201,
  );
  return { product, item };
}

describe('the live room in real time, on two pages', () => {
  it('shows price and pin changes, viewers, comments, likes and the end of the broadcast on both pages, and catches up after a dropped socket', async () => {
    const t = contextFor(app);
    const w = await sellingWorld(t, { stock: 20, priceFen: 9900 });
    const buyer = await registerBuyer('王小明');
    const a = await newPage({ mobile: false });
    const b = await newPage({ mobile: true });
    const wireA = watchWire(a, w.room.id);
    const wireB = watchWire(b, w.room.id);
    await a.goto(`${baseUrl}/live/${w.room.id}`);
    await b.goto(`${baseUrl}/live/${w.room.id}`);
    await a.getByTestId('pinned-product').waitFor();
    await b.getByTestId('pinned-product').waitFor();

    // Both pages are on the channel: the viewer count says 2 on each.
    await poll(() => text(a, 'viewer-count')).toBe('2');
    await poll(() => text(b, 'viewer-count')).toBe('2');
    expect(await text(b, 'like-count')).toBe('0');
    expect(await text(b, 'pinned-stock')).toBe('库存 20');
    const label = await txt(b.getByTestId('room-header'));
    expect(label).toContain('在线人数');
    expect(label).toContain('点赞');
    expect(wireB.sockets[0]!.url()).not.toContain('lastEventId');
    expect(wireB.received[0]!.item.type).toBe('snapshot');
    await b.evaluate(() => {
      (window as unknown as { __sameDocument: boolean }).__sameDocument = true;
    });

    // The merchant changes the price over the API: both pages show it, without a reload or a REST read.
    const readsBefore = wireB.roomReads;
    await w.ok(
      t.request({
        method: 'PUT',
        url: `/api/shops/${w.shop.id}/skus/${w.sku.id}/price`,
        token: w.merchant.token,
        payload: { priceFen: 7900 },
      }),
    );
    relay();
    for (const page of [a, b]) {
      await poll(() => text(page, 'pinned-price')).toBe('¥79.00');
      expect(await txt(page.getByTestId(`cart-item-${w.product.id}`))).toContain('¥79.00');
    }
    expect(wireB.roomReads).toBe(readsBefore);
    expect(await b.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(
      true,
    );

    // A second product joins the cart and is pinned: both pages switch the pinned card.
    const second = await anotherProduct(t, w, '氨基酸洗面奶');
    await w.ok(
      t.request({
        method: 'PUT',
        url: `/api/creator/live-rooms/${w.room.id}/pinned`,
        token: w.creator.token,
        payload: { itemId: second.item.id },
      }),
    );
    relay();
    for (const page of [a, b]) {
      await poll(() => text(page, 'pinned-title')).toBe('氨基酸洗面奶');
      await page.getByTestId(`cart-item-${second.product.id}`).waitFor();
      expect(await text(page, 'pinned-stock')).toBe('库存 30');
    }
    expect(b.url()).toBe(`${baseUrl}/live/${w.room.id}`);

    // Comments: only a logged-in buyer gets the box. Page A logs in and comments; page B sees it.
    expect(await b.getByTestId('comment-input').count()).toBe(0);
    expect(await text(b, 'chat')).toContain('登录后可以发表评论');
    await logIn(a, buyer.login);
    const send = a.getByTestId('comment-send');
    await a.getByTestId('comment-input').fill('主播好！');
    await poll(() => send.isEnabled()).toBe(true);
    await send.click();
    await poll(() => txt(b.getByTestId('comment-list'))).toContain('主播好！');
    await poll(() => txt(a.getByTestId('comment-list'))).toContain('主播好！');
    expect(await a.getByTestId('comment-input').inputValue()).toBe('');
    // Shown with the masked nickname; the buyer's name never reaches either page.
    const comment = await txt(b.getByTestId('comment').last());
    expect(comment).toContain('王**');
    expect(comment).not.toContain('小明');
    expect(wireA.sent.some((s) => s.msg.type === 'auth')).toBe(true);
    expect(wireB.sent.some((s) => s.msg.type === 'auth')).toBe(false);

    // An external link is refused with the server's message, next to the box, and reaches nobody.
    await a.getByTestId('comment-input').fill('加微信 wx123456 拿内部价，或去 taobao.com 搜');
    await send.click();
    const refusal = a.getByTestId('chat-error');
    await refusal.waitFor();
    expect(await refusal.getAttribute('data-code')).toBe('EXTERNAL_LINK_FORBIDDEN');
    expect(await txt(refusal)).toContain('external link');
    await b.waitForTimeout(300);
    expect(await txt(b.getByTestId('comment-list'))).not.toContain('taobao');
    expect(await b.getByTestId('chat-error').count()).toBe(0);

    // Likes: 30 taps at once on page A go out as one message (count ≤ 50); page B's counter rises.
    await a.evaluate(() => {
      const button = document.querySelector<HTMLButtonElement>('[data-testid="like-button"]')!;
      for (let i = 0; i < 30; i++) button.click();
    });
    await a.getByTestId('like-button').click();
    await a.getByTestId('like-button').click();
    await poll(() => text(b, 'like-count')).toBe('32');
    await poll(() => text(a, 'like-count')).toBe('32');
    const likes = wireA.sent.filter((s) => s.msg.type === 'like').map((s) => s.msg.count as number);
    expect(likes.reduce((n, c) => n + c, 0)).toBe(32);
    expect(likes.length).toBeLessThanOrEqual(3);
    expect(Math.max(...likes)).toBeLessThanOrEqual(50);

    // Page B's socket drops. While it is away the price changes; it reconnects with
    // ?lastEventId=, gets the missed event replayed, and shows it, still without a REST read.
    const lastSeen = await b.evaluate(() => window.__livecartChannel?.lastEventId ?? null);
    expect(lastSeen).toBeGreaterThan(0);
    const readsBeforeDrop = wireB.roomReads;
    await b.evaluate(() => window.__livecartChannel?.close(4000));
    await poll(() => text(b, 'channel-state')).toBe('重新连接中…');
    await w.ok(
      t.request({
        method: 'PUT',
        url: `/api/shops/${w.shop.id}/skus/${second.product.skus[0].id}/price`,
        token: w.merchant.token,
        payload: { priceFen: 4900 },
      }),
    );
    relay();
    // Page A, still connected, hears it live.
    await poll(() => text(a, 'pinned-price')).toBe('¥49.00');
    expect(await text(b, 'pinned-price')).toBe('¥59.00');
    await poll(() => text(b, 'pinned-price')).toBe('¥49.00');
    expect(await b.getByTestId('channel-state').count()).toBe(0);
    expect(wireB.sockets).toHaveLength(2);
    expect(wireB.sockets[1]!.url()).toContain(`lastEventId=${lastSeen}`);
    const afterDrop = wireB.received.filter((r) => r.socket === 1).map((r) => r.item);
    expect(afterDrop[0]!.type).toBe('resumed');
    expect(afterDrop.some((i) => i.type === 'snapshot')).toBe(false);
    expect(afterDrop.find((i) => i.type === 'price')?.data).toMatchObject({ priceFen: 4900 });
    expect(wireB.roomReads).toBe(readsBeforeDrop);
    expect(await b.evaluate(() => window.__livecartChannel?.stats.resumed)).toBe(1);
    await poll(() => text(b, 'viewer-count')).toBe('2');

    // Page A drops too: it resumes, authenticates again, and its comment still reaches page B.
    await a.evaluate(() => window.__livecartChannel?.close());
    await poll(() => a.evaluate(() => window.__livecartChannel?.stats.resumed)).toBe(1);
    await a.getByTestId('comment-input').fill('我回来了');
    await poll(() => send.isEnabled()).toBe(true);
    await send.click();
    await poll(() => txt(b.getByTestId('comment-list'))).toContain('我回来了');
    expect(wireA.sent.filter((s) => s.msg.type === 'auth')).toHaveLength(2);
    expect(await a.getByTestId('chat-error').count()).toBe(0);

    // English labels on page B, live values kept.
    await b.getByTestId('lang-toggle').click();
    const header = await txt(b.getByTestId('room-header'));
    expect(header).toContain('Watching');
    expect(header).toContain('Likes');
    expect(await text(b, 'chat')).toContain('Log in to comment.');
    expect(await text(b, 'pinned-stock')).toBe('Stock 30');
    expect(await text(b, 'like-count')).toBe('32');
    await shot(b, 'live-realtime-en');

    // The creator ends the broadcast: both pages say so, and buying stops.
    await w.ok(
      t.request({ method: 'POST', url: `/api/creator/live-rooms/${w.room.id}/end`, token: w.creator.token }),
    );
    relay();
    await poll(() => text(a, 'room-banner')).toBe('直播已结束，感谢观看。');
    await poll(() => text(b, 'room-banner')).toBe('This live stream has ended. Thanks for watching.');
    expect(await text(a, 'room-status')).toBe('已结束');
    expect(await a.getByTestId('buy-button').isDisabled()).toBe(true);
    await shot(a, 'live-realtime');

    // Nothing of the buyer was sent or shown: no name on the wire, none in either page.
    const wire = JSON.stringify([wireA.received, wireB.received, wireA.sent]);
    expect(wire).not.toContain('小明');
    expect(await b.content()).not.toContain('小明');
    expect(pageErrors).toEqual([]);
  });

  it('runs a flash sale (抢购 → pay at the flash price), a coupon drop (领取) and a red-envelope rain (抢红包) on the page', async () => {
    const t = contextFor(app);
    const w = await sellingWorld(t, { stock: 20, priceFen: 9900 });
    const buyer = await registerBuyer('李四');
    const a = await newPage({ mobile: true });
    const b = await newPage({ mobile: false });
    await a.goto(`${baseUrl}/live/${w.room.id}`);
    await b.goto(`${baseUrl}/live/${w.room.id}`);
    await poll(() => text(a, 'viewer-count')).toBe('2');
    await logIn(a, buyer.login);

    // The creator schedules a flash sale starting in a few seconds: a card with a countdown.
    const startsAt = Date.now() + 4_000;
    const slot = await w.ok(
      t.request({
        method: 'POST',
        url: `/api/creator/live-rooms/${w.room.id}/flash-sales`,
        token: w.creator.token,
        payload: {
          cartItemId: w.item.id,
          skuId: w.sku.id,
          startsAt: new Date(startsAt).toISOString(),
          endsAt: new Date(startsAt + 10 * 60_000).toISOString(),
          priceFen: 4900,
          quantity: 3,
          perBuyerLimit: 1,
        },
      }),
      201,
    );
    relay();
    const cardA = a.getByTestId(`flash-sale-${slot.id}`);
    const cardB = b.getByTestId(`flash-sale-${slot.id}`);
    await cardA.waitFor();
    await cardB.waitFor();
    expect(await txt(cardA.getByTestId('flash-price'))).toBe('¥49.00');
    expect(await txt(cardA.getByTestId('flash-remaining'))).toBe('剩余 3 件');
    expect(await txt(cardA.getByTestId('flash-countdown'))).toMatch(/^距开抢 00:0\d$/);
    expect(await txt(cardA.getByTestId('flash-buy'))).toBe('即将开抢');
    expect(await cardA.getByTestId('flash-buy').isDisabled()).toBe(true);
    // The 3 units left the SKU's stock for the sale.
    await poll(() => text(b, 'pinned-stock')).toBe('库存 17');

    // At the start time the button opens: 抢购 holds a unit, the checkout pays the flash price.
    await poll(() => txt(cardA.getByTestId('flash-buy'))).toBe('抢购');
    expect(await txt(cardA.getByTestId('flash-countdown'))).toMatch(/^距结束 \d{2}:\d{2}$/);
    await cardA.getByTestId('flash-buy').click();
    await a.getByTestId('flash-held').waitFor();
    expect(await text(a, 'line-total')).toBe('¥49.00');
    await poll(() => txt(cardB.getByTestId('flash-remaining'))).toBe('剩余 2 件');
    for (const [field, value] of Object.entries({
      name: '李四',
      phone: '13700002222',
      province: '广东省',
      city: '深圳市',
      district: '南山区',
      detail: '科技园 1 号',
    }))
      await a.getByTestId(`recipient-${field}`).fill(value);
    await a.getByTestId('buy-button').click();
    await poll(() => text(a, 'order-status')).toBe('已支付');
    expect(await text(a, 'order-total')).toBe('¥49.00');
    expect(await a.getByTestId('flash-held').count()).toBe(0);
    const orderId = await text(a, 'order-id');
    const [held] = await app.platform.db
      .select()
      .from(flashSaleReservations)
      .where(eq(flashSaleReservations.orderId, orderId));
    expect(held).toMatchObject({ slotId: slot.id, status: 'ordered', quantity: 1 });
    const [order] = await app.platform.db.select().from(orders).where(eq(orders.id, orderId));
    expect(order).toMatchObject({ status: 'paid', totalFen: 4900 });
    // Once per buyer: a second 抢购 is refused, in the page's words.
    await cardA.getByTestId('flash-buy').click();
    await poll(() => txt(cardA.getByTestId('flash-error'))).toBe('已达到每人限购数量。');
    // A viewer who is not logged in is asked to log in.
    await cardB.getByTestId('flash-buy').click();
    expect(await txt(cardB.getByTestId('flash-error'))).toBe('请先登录。');

    // A coupon is dropped in the room: a toast on both pages; the buyer claims it.
    const coupon = await w.ok(
      t.request({
        method: 'POST',
        url: `/api/shops/${w.shop.id}/coupons`,
        token: w.merchant.token,
        payload: {
          title: '直播间专享 满50减5',
          amountOffFen: 500,
          minSpendFen: 5000,
          validFrom: new Date(Date.now() - 60_000).toISOString(),
          validUntil: new Date(Date.now() + 86_400_000).toISOString(),
          totalQuantity: 50,
        },
      }),
      201,
    );
    await w.ok(
      t.request({
        method: 'POST',
        url: `/api/live-rooms/${w.room.id}/coupon-drops`,
        token: w.creator.token,
        payload: { couponId: coupon.id },
      }),
    );
    relay();
    const toastA = a.getByTestId(`coupon-${coupon.id}`);
    const toastB = b.getByTestId(`coupon-${coupon.id}`);
    await toastA.waitFor();
    await toastB.waitFor();
    expect(await txt(toastA.getByTestId('coupon-amount'))).toBe('¥5.00');
    expect(await txt(toastB)).toContain('直播间专享 满50减5');
    expect(await txt(toastB)).toContain('满 ¥50.00 可用');
    expect(await txt(toastA.getByTestId('coupon-claim'))).toBe('领取');
    await toastA.getByTestId('coupon-claim').click();
    await poll(() => txt(toastA.getByTestId('coupon-claim'))).toBe('已领取');
    const claims = await app.platform.db
      .select()
      .from(couponClaims)
      .where(eq(couponClaims.couponId, coupon.id));
    expect(claims.map((c) => c.buyerAccountId)).toEqual([buyer.id]);
    await shot(a, 'live-flash-coupon');
    await toastB.getByTestId('coupon-close').click();
    expect(await toastB.count()).toBe(0);

    // English labels on the promotions.
    await a.getByTestId('lang-toggle').click();
    expect(await txt(toastA.getByTestId('coupon-claim'))).toBe('Claimed');
    expect(await txt(cardA.getByTestId('flash-remaining'))).toBe('2 left');
    expect(await txt(cardA.getByTestId('flash-countdown'))).toMatch(/^Ends in \d{2}:\d{2}$/);
    await a.getByTestId('lang-toggle').click();
    await toastA.getByTestId('coupon-close').click();

    // A red-envelope rain with one envelope: the overlay on both pages; the buyer grabs it.
    const rain = await w.ok(
      t.request({
        method: 'POST',
        url: `/api/live-rooms/${w.room.id}/rains`,
        token: w.creator.token,
        payload: { budgetFen: 888, count: 1, durationSeconds: 60 },
      }),
      201,
    );
    relay();
    const overlayA = a.getByTestId('rain-overlay');
    const overlayB = b.getByTestId('rain-overlay');
    await overlayA.waitFor();
    await overlayB.waitFor();
    expect(await txt(overlayA)).toContain('红包雨');
    expect(await txt(overlayA.getByTestId('rain-countdown'))).toMatch(/^\d{2}:\d{2} 后结束$/);
    expect(await txt(overlayA.getByTestId('rain-grab'))).toBe('抢红包');
    expect(await txt(overlayB.getByTestId('rain-grab'))).toBe('登录后抢红包');
    await overlayA.getByTestId('rain-grab').click();
    await overlayA.getByTestId('rain-won').waitFor();
    expect(await txt(overlayA.getByTestId('rain-amount'))).toBe('¥8.88');
    const [envelope] = await app.platform.db
      .select()
      .from(redEnvelopes)
      .where(eq(redEnvelopes.rainId, rain.id));
    expect(envelope).toMatchObject({ buyerAccountId: buyer.id, amountFen: 888 });
    await shot(a, 'live-rain');
    // Page B closes the overlay: a chip brings it back while the rain lasts.
    await overlayB.getByTestId('rain-close').click();
    await b.getByTestId('rain-reopen').waitFor();
    // The rain's clock closes it (all grabbed): page B's chip goes; page A keeps what it won.
    await app.services.roomPromotions.sweepRains(rain.id);
    relay();
    await poll(() => b.getByTestId('rain-reopen').count()).toBe(0);
    expect(await overlayA.getByTestId('rain-won').count()).toBe(1);
    await overlayA.getByTestId('rain-close').click();
    expect(await overlayA.count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
