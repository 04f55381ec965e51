import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp, WEB_DIST } from '../src/app.js';
import { DAY, MINUTE, TestClock } from '../src/platform/clock.js';
import { loadConfig } from '../src/platform/config.js';
import { ephemeralMasterKey } from '../src/platform/keys.js';
import {
  checkout,
  PASSWORD,
  pay,
  recipient,
  sellingWorld,
  shipAndDeliver,
  type TestContext,
  unique,
} from '../test/harness.js';

/**
 * The merchant's finance page (资金) and the creator's commission page (佣金) in a real browser,
 * against the real server on a random port. The server runs on a TestClock, so the 7-day
 * after-sales window passes by moving the clock and running the settlement job, as the ledger
 * tests do; no route of the API is added for it.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.E2E_SCREENSHOT_DIR ?? '/tmp';
const CSV_HEADER = 'account,time,kind,journal_id,order_id,amount_yuan,memo';

// ¥123.45 at 15 % commission and the default 2 % technical service fee, each rounded down:
// commission 1851, fee 246, the shop's share the remainder.
const PRICE_FEN = 12_345;
const COMMISSION_BPS = 1500;
const COMMISSION_FEN = 1851;
const SHOP_SHARE_FEN = PRICE_FEN - COMMISSION_FEN - 246;

const clock = new TestClock('2026-03-03T02:00:00.000Z');

/** The harness's TestContext over an app we built ourselves; accounts get a real password. */
function contextFor(app: App): TestContext {
  return {
    app,
    clock,
    logLines: [],
    request: ({ token, headers, ...opts }) =>
      app.http.inject({
        ...opts,
        headers: { ...(headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    async account(roles, name) {
      const login = unique(name ?? roles[0]!);
      const acc = await app.services.identity.registerAccount({
        login,
        password: PASSWORD,
        displayName: login,
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
      // The clock moves past the after-sales window; the browser's sessions outlive it.
      SESSION_TTL_HOURS: 24 * 365,
    },
  );
  app = await buildApp({ config, clock, masterKey: ephemeralMasterKey() });
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
    // Statement months are the browser's local months: a merchant in China.
    timezoneId: 'Asia/Shanghai',
    acceptDownloads: true,
    ...(opts.mobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
      pageErrors.push(msg.text());
  });
  return page;
}

const txt = async (locator: Locator) => (await locator.textContent()) ?? '';
const text = (page: Page, testId: string) => txt(page.getByTestId(testId).first());

async function shot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}/livecart-${name}.png`, fullPage: true });
}

async function logIn(page: Page, login: string) {
  await page.getByTestId('login-name').fill(login);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
}

/** The statement's entries as [kind, order id, amount, account] rows, in the page's order. */
async function entryRows(page: Page) {
  const rows = page.getByTestId('statement-entry');
  const out: string[][] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    out.push([
      (await row.getByTestId('entry-kind').getAttribute('data-kind')) ?? '',
      await txt(row.getByTestId('entry-kind')),
      await txt(row.getByTestId('entry-order')),
      await txt(row.getByTestId('entry-amount')),
      await txt(row.getByTestId('entry-account')),
    ]);
  }
  return out;
}

type World = Awaited<ReturnType<typeof sellingWorld>>;

/** A buyer checks out from the live room and pays; the ledger books the payment. */
async function paidOrder(t: TestContext, w: World) {
  const buyer = await t.account(['buyer']);
  const created = await checkout(t, buyer.token, {
    venue: { type: 'live_room', id: w.room.id },
    items: [{ skuId: w.sku.id, quantity: 1 }],
    recipient: recipient(),
  });
  expect(created.statusCode, created.body).toBe(201);
  const orderId = created.json().id as string;
  const paid = await pay(t, buyer.token, orderId);
  expect(paid.statusCode, paid.body).toBe(200);
  await app.paymentProvider.settle();
  await app.platform.outbox.drain();
  return { orderId, buyer };
}

/** Shipped, delivered, receipt confirmed; then the after-sales window passes and settlement runs. */
async function completeAndSettle(
  t: TestContext,
  w: World,
  order: { orderId: string; buyer: { token: string } },
) {
  await shipAndDeliver(t, w.shop.id, w.merchant.token, order.orderId);
  const confirmed = await t.request({
    method: 'POST',
    url: `/api/orders/${order.orderId}/confirm-receipt`,
    token: order.buyer.token,
  });
  expect(confirmed.statusCode, confirmed.body).toBe(200);
  await app.platform.outbox.drain();
  clock.advance(7 * DAY + MINUTE);
  const ran = await app.platform.jobs.runNow('ledger.settle');
  expect(ran['ledger.settle']).toBeGreaterThanOrEqual(1);
  const money = await app.services.ledger.orderMoneyOf(app.platform.db, order.orderId);
  expect(money).toMatchObject({ commissionStatus: 'settled', shopShareFen: SHOP_SHARE_FEN });
  expect(money!.shopSettledAt).not.toBeNull();
}

describe('finance pages, in a browser', () => {
  it('shows the merchant pending money, then available money, the statement, its CSV and a withdrawal', async () => {
    clock.set('2026-03-03T02:00:00.000Z');
    const t = contextFor(app);
    const w = await sellingWorld(t, {
      categorySlug: unique('fin-'),
      priceFen: PRICE_FEN,
      commissionBps: COMMISSION_BPS,
    });
    const order = await paidOrder(t, w);
    expect(await app.services.ledger.orderMoneyOf(app.platform.db, order.orderId)).toMatchObject({
      paidFen: PRICE_FEN,
      commissionFen: COMMISSION_FEN,
      shopShareFen: SHOP_SHARE_FEN,
    });

    const page = await newPage({ mobile: false });
    await page.goto(`${baseUrl}/`);
    await page.getByTestId('home-finance-link').click();
    await page.waitForURL('**/merchant/finance');
    expect(await text(page, 'page-title')).toBe('资金');
    await logIn(page, w.merchant.login);

    // Paid, not yet settled: the shop's share waits in 待结算.
    await expect.poll(() => text(page, 'balance-pending')).toBe('¥102.48');
    expect(await text(page, 'balance-pending-label')).toBe('待结算');
    expect(await text(page, 'balance-available')).toBe('¥0.00');
    expect(await text(page, 'balance-available-label')).toBe('可提现');
    expect(await text(page, 'balance-deposit')).toBe('¥0.00');
    expect(await text(page, 'balance-deposit-label')).toBe('保证金');

    // The statement of March 2026 (the browser's own month is another one).
    await page.getByTestId('statement-month').fill('2026-03');
    await page.getByTestId('statement-entry').first().waitFor();
    expect(await entryRows(page)).toEqual([['payment', '订单收入', order.orderId, '+¥102.48', '待结算']]);

    // Completion, the after-sales window, settlement: the money moves to 可提现.
    await completeAndSettle(t, w, order);
    await page.getByTestId('finance-refresh').click();
    await expect.poll(() => text(page, 'balance-available')).toBe('¥102.48');
    expect(await text(page, 'balance-pending')).toBe('¥0.00');

    // The month survived the refresh; the statement now has the settlement on both accounts.
    expect(await page.getByTestId('statement-month').inputValue()).toBe('2026-03');
    await expect.poll(() => page.getByTestId('statement-entry').count()).toBe(3);
    expect(await entryRows(page)).toEqual([
      ['payment', '订单收入', order.orderId, '+¥102.48', '待结算'],
      ['settlement', '结算', order.orderId, '-¥102.48', '待结算'],
      ['settlement', '结算', order.orderId, '+¥102.48', '可提现'],
    ]);
    const pending = page.getByTestId('statement-account-pending');
    expect(await txt(pending.getByTestId('statement-opening'))).toBe('¥0.00');
    expect(await txt(pending.getByTestId('statement-in'))).toBe('¥102.48');
    expect(await txt(pending.getByTestId('statement-out'))).toBe('¥102.48');
    expect(await txt(pending.getByTestId('statement-closing'))).toBe('¥0.00');
    const available = page.getByTestId('statement-account-available');
    expect(await txt(available.getByTestId('statement-in'))).toBe('¥102.48');
    expect(await txt(available.getByTestId('statement-closing'))).toBe('¥102.48');
    await shot(page, 'merchant-finance');

    // The CSV of the same month, fetched with the session's token and saved from a blob.
    const csvAuth: string[] = [];
    page.on('request', (req) => {
      if (req.url().includes('/finance/statement.csv')) csvAuth.push(req.headers().authorization ?? '');
    });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('statement-download').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`statement-${w.shop.id}-2026-03.csv`);
    const csv = await readFile((await download.path())!, 'utf8');
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines.filter((l) => l.includes(`,${order.orderId},`))).toHaveLength(3);
    expect(lines.at(-1)).toContain('closing_balance,,,102.48');
    expect(csvAuth).toEqual([expect.stringMatching(/^Bearer \S+$/)]);
    expect(await page.getByTestId('statement-download-error').count()).toBe(0);

    // 提现: a bank account first (only its last four digits come back), then a withdrawal.
    expect(await text(page, 'withdrawals-empty')).toBe('暂无提现记录。');
    await page.getByTestId('payout-bank').fill('中国工商银行');
    await page.getByTestId('payout-holder').fill('好物小店');
    await page.getByTestId('payout-number').fill('6222 0202 0011 2233 445');
    await page.getByTestId('payout-account-save').click();
    await page.getByTestId('withdraw-form').waitFor();
    expect(await text(page, 'withdraw-account')).toContain('中国工商银行 **** 3445');
    expect(await page.content()).not.toContain('6222020200112233445');
    await page.getByTestId('withdraw-amount').fill('1.234');
    await page.getByTestId('withdraw-submit').click();
    expect(await text(page, 'withdraw-error')).toBe('请输入正确的金额（元，最多两位小数）。');
    await page.getByTestId('withdraw-amount').fill('1000');
    await page.getByTestId('withdraw-submit').click();
    await expect.poll(() => text(page, 'withdraw-error')).toContain('exceeds the available balance');
    await page.getByTestId('withdraw-amount').fill('50');
    await page.getByTestId('withdraw-submit').click();
    await page.getByTestId('withdraw-ok').waitFor();
    expect(await text(page, 'withdraw-ok')).toContain('¥50.00');
    await expect.poll(() => text(page, 'balance-available')).toBe('¥52.48');
    // The payout provider is called after the commit (outbox); then the withdrawal shows as paid.
    await app.platform.outbox.drain();
    await page.getByTestId('finance-refresh').click();
    await expect.poll(() => text(page, 'withdrawal-status')).toBe('已到账');
    await expect.poll(() => page.getByTestId('statement-entry').count()).toBe(4);
    expect((await entryRows(page))[3]).toEqual(['payout', '出款', '—', '-¥50.00', '可提现']);
    expect(await txt(available.getByTestId('statement-out'))).toBe('¥50.00');
    expect(await txt(available.getByTestId('statement-closing'))).toBe('¥52.48');
    await shot(page, 'merchant-finance-withdrawn');

    // English, remembered across a reload.
    await page.getByTestId('lang-toggle').click();
    expect(await text(page, 'page-title')).toBe('Finance');
    expect(await text(page, 'balance-pending-label')).toBe('Pending settlement');
    expect(await text(page, 'balance-available-label')).toBe('Available');
    expect(await text(page, 'statement-download')).toBe('Download CSV');
    expect(await text(page, 'withdraw-submit')).toBe('Withdraw');
    expect(await text(page, 'withdrawal-status')).toBe('Paid');
    expect((await entryRows(page)).map((r) => r[1])).toEqual([
      'Order payment',
      'Settlement',
      'Settlement',
      'Payout',
    ]);
    await page.reload();
    await expect.poll(() => text(page, 'balance-available')).toBe('¥52.48');
    expect(await text(page, 'page-title')).toBe('Finance');
    expect(await text(page, 'nav-merchant-finance')).toBe('Finance');
    await shot(page, 'merchant-finance-en');

    // The page showed what the API says.
    const api = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/finance/balances`,
      token: w.merchant.token,
    });
    expect(api.json()).toMatchObject({ pendingFen: 0, availableFen: SHOP_SHARE_FEN - 5000 });
    expect(pageErrors).toEqual([]);
  });

  it('shows the creator their commission pending, frozen, settled and withdrawn, and their deposit', async () => {
    clock.set('2026-04-06T02:00:00.000Z');
    const t = contextFor(app);
    const w = await sellingWorld(t, {
      categorySlug: unique('fin-'),
      priceFen: PRICE_FEN,
      commissionBps: COMMISSION_BPS,
    });
    const order = await paidOrder(t, w);

    const page = await newPage({ mobile: true });
    await page.goto(`${baseUrl}/creator/commission`);
    expect(await text(page, 'page-title')).toBe('佣金');
    await logIn(page, w.creator.login);

    const row = page.getByTestId(`commission-${order.orderId}`);
    await row.waitFor();
    expect(await txt(row.getByTestId('commission-status'))).toBe('待结算');
    expect(await txt(row.getByTestId('commission-amount'))).toBe('¥18.51');
    expect(await text(page, 'balance-pending')).toBe('¥18.51');
    expect(await text(page, 'balance-available')).toBe('¥0.00');
    expect(await page.getByTestId('commission-frozen').count()).toBe(0);

    // The status filter.
    await page.getByTestId('commission-tab-settled').click();
    await page.getByTestId('commissions-empty').waitFor();
    await page.getByTestId('commission-tab-pending').click();
    await row.waitFor();

    // An operator freezes the creator's commission (the operator API): a banner with the reason.
    const freeze = await t.request({
      method: 'PUT',
      url: `/api/operator/creators/${w.creator.id}/commission-freeze`,
      token: w.operator.token,
      payload: { reason: '虚假宣传调查中' },
    });
    expect(freeze.statusCode, freeze.body).toBe(200);
    await page.getByTestId('commission-tab-all').click();
    await page.getByTestId('finance-refresh').click();
    await page.getByTestId('commission-frozen').waitFor();
    expect(await text(page, 'commission-frozen-reason')).toBe('虚假宣传调查中');
    expect(await text(page, 'commission-frozen')).toContain('佣金已冻结');
    expect(await txt(row.getByTestId('commission-status'))).toBe('已冻结');
    await shot(page, 'creator-commission-frozen');
    const lifted = await t.request({
      method: 'DELETE',
      url: `/api/operator/creators/${w.creator.id}/commission-freeze`,
      token: w.operator.token,
    });
    expect(lifted.statusCode, lifted.body).toBe(200);

    await completeAndSettle(t, w, order);
    await page.getByTestId('finance-refresh').click();
    await expect.poll(() => txt(row.getByTestId('commission-status'))).toBe('已结算');
    expect(await page.getByTestId('commission-frozen').count()).toBe(0);
    expect(await text(page, 'balance-available')).toBe('¥18.51');
    expect(await text(page, 'balance-pending')).toBe('¥0.00');
    await page.getByTestId('commission-tab-settled').click();
    await row.waitFor();

    // The creator's statement for April: payment into pending, settlement out of it and into available.
    await page.getByTestId('statement-month').fill('2026-04');
    await expect.poll(() => page.getByTestId('statement-entry').count()).toBe(3);
    expect(await entryRows(page)).toEqual([
      ['payment', '订单收入', order.orderId, '+¥18.51', '待结算'],
      ['settlement', '结算', order.orderId, '-¥18.51', '待结算'],
      ['settlement', '结算', order.orderId, '+¥18.51', '可提现'],
    ]);
    expect(await txt(page.getByTestId('statement-account-available').getByTestId('statement-closing'))).toBe(
      '¥18.51',
    );
    // March holds nothing of this creator.
    await page.getByTestId('statement-month').fill('2026-03');
    await page.getByTestId('statement-empty').waitFor();
    await page.getByTestId('statement-month').fill('2026-04');
    await expect.poll(() => page.getByTestId('statement-entry').count()).toBe(3);
    await shot(page, 'creator-commission');

    // 保证金: 500 CNY basic this month (no GMV last month), nothing locked yet; the amount
    // to lock starts at what is short.
    expect(await text(page, 'deposit-required')).toBe('¥500.00');
    expect(await text(page, 'deposit-locked')).toBe('¥0.00');
    expect(await text(page, 'deposit-shortfall')).toBe('¥500.00');
    expect(await text(page, 'deposit-status')).toBe('正常');
    expect(await text(page, 'deposit-sharing')).toBe('已开通');
    expect(await page.getByTestId('deposit-amount').inputValue()).toBe('500.00');
    await page.getByTestId('deposit-lock').click();
    await page.getByTestId('deposit-ok').waitFor();
    expect(await text(page, 'deposit-ok')).toContain('¥500.00');
    expect(await text(page, 'deposit-locked')).toBe('¥500.00');
    expect(await page.getByTestId('deposit-shortfall').count()).toBe(0);
    await expect.poll(() => text(page, 'balance-deposit')).toBe('¥500.00');

    // 提现 of the settled commission to a new bank account: the commission reads as withdrawn.
    await page.getByTestId('payout-bank').fill('招商银行');
    await page.getByTestId('payout-holder').fill('美妆达人小美');
    await page.getByTestId('payout-number').fill('6214830012345678');
    await page.getByTestId('payout-account-save').click();
    await page.getByTestId('withdraw-amount').fill('18.51');
    await page.getByTestId('withdraw-submit').click();
    await page.getByTestId('withdraw-ok').waitFor();
    await expect.poll(() => text(page, 'balance-available')).toBe('¥0.00');
    await app.platform.outbox.drain();
    await page.getByTestId('finance-refresh').click();
    await expect.poll(() => text(page, 'withdrawal-status')).toBe('已到账');
    await page.getByTestId('commission-tab-withdrawn').click();
    await expect.poll(() => txt(row.getByTestId('commission-status'))).toBe('已提现');

    // Asking for the deposit back: sharing closes at once and the review starts.
    await page.getByTestId('deposit-withdraw').click();
    expect(await text(page, 'deposit-withdraw-confirm')).toContain('商品分享权限立即关闭');
    expect(await text(page, 'deposit-withdraw-account')).toContain('招商银行 **** 5678');
    await page.getByTestId('deposit-withdraw-submit').click();
    await expect.poll(() => text(page, 'deposit-status')).toBe('退还审核中');
    expect(await text(page, 'deposit-sharing')).toBe('已关闭');
    expect(await page.getByTestId('deposit-review-ends').count()).toBe(1);
    expect(await page.getByTestId('deposit-lock-form').count()).toBe(0);
    await shot(page, 'creator-deposit');

    // English.
    await page.getByTestId('lang-toggle').click();
    expect(await text(page, 'page-title')).toBe('Commission');
    expect(await text(page, 'commission-tab-settled')).toBe('Settled');
    expect(await text(page, 'commission-tab-frozen')).toBe('Frozen');
    expect(await txt(row.getByTestId('commission-status'))).toBe('Withdrawn');
    expect(await text(page, 'balance-pending-label')).toBe('Pending settlement');
    expect(await text(page, 'deposit-status')).toBe('Withdrawal under review');
    expect(await text(page, 'deposit-sharing')).toBe('Closed');
    await shot(page, 'creator-commission-en');
    expect(pageErrors).toEqual([]);
  });
});
