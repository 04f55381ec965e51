import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creatorAccount, PLATFORM, shopAccount } from '../src/modules/ledger/accounts.js';
import { DAY, MINUTE } from '../src/platform/clock.js';
import { inTransaction } from '../src/platform/tx.js';
import {
  completedRoomOrder,
  paidRoomOrder,
  sellingWorld,
  startTestApp,
  type TestContext,
  unique,
} from './harness.js';

let t: TestContext;
beforeAll(async () => {
  // The clock moves weeks ahead here; sessions outlive it.
  t = await startTestApp({ SESSION_TTL_HOURS: 24 * 365 });
});
afterAll(() => t.close());

type World = Awaited<ReturnType<typeof sellingWorld>>;

const paidOrder = (w: World, buyerToken: string) => paidRoomOrder(t, w, buyerToken);

const money = (orderId: string) => t.app.services.ledger.orderMoneyOf(t.app.platform.db, orderId);

const completedOrder = (w: World, buyer: { token: string }) => completedRoomOrder(t, w, buyer.token);

const settle = async () => (await t.app.platform.jobs.runNow('ledger.settle'))['ledger.settle'];

async function expectBooksBalance() {
  const v = await t.app.services.ledger.verify();
  expect(v, JSON.stringify(v)).toMatchObject({ ok: true, trialBalanceFen: 0 });
}

describe('technical service fee', () => {
  it('charges the category rate, 0 % inside a waiver programme’s window, and the rate again after it', async () => {
    const w = await sellingWorld(t, { categorySlug: unique('fee-'), priceFen: 10_000, commissionBps: 1000 });
    const buyer = await t.account(['buyer']);
    const setRate = (payload: object) =>
      t.request({ method: 'POST', url: '/api/operator/fee-rates', token: w.operator.token, payload });

    expect((await setRate({ categoryId: w.category.id, bps: 500 })).statusCode).toBe(201);
    const now = t.clock.now().getTime();
    const waiver = await setRate({
      categoryId: w.category.id,
      bps: 0,
      programme: '开学季免佣',
      startsAt: new Date(now + DAY).toISOString(),
      endsAt: new Date(now + 3 * DAY).toISOString(),
    });
    expect(waiver.statusCode, waiver.body).toBe(201);

    const before = await paidOrder(w, buyer.token);
    t.clock.advance(2 * DAY);
    const during = await paidOrder(w, buyer.token);
    t.clock.advance(2 * DAY);
    const after = await paidOrder(w, buyer.token);

    expect(await money(before)).toMatchObject({
      paidFen: 10_000,
      commissionFen: 1000,
      feeFen: 500,
      shopShareFen: 8500,
    });
    expect(await money(during)).toMatchObject({ commissionFen: 1000, feeFen: 0, shopShareFen: 9000 });
    expect(await money(after)).toMatchObject({ feeFen: 500, shopShareFen: 8500 });

    const balances = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/finance/balances`,
      token: w.merchant.token,
    });
    expect(balances.json()).toMatchObject({ pendingFen: 8500 + 9000 + 8500, availableFen: 0 });
    await expectBooksBalance();
  });

  it('refuses a programme window that ends before it starts, a base rate with an end, and a rate above 20 %', async () => {
    const operator = await t.account(['operator']);
    const category = await t.app.services.catalog.ensureCategory(t.app.platform.db, {
      slug: unique('fee-bad-'),
      nameZh: '测试',
      nameEn: 'Test',
    });
    const setRate = (payload: object) =>
      t.request({ method: 'POST', url: '/api/operator/fee-rates', token: operator.token, payload });
    const at = t.clock.now().getTime();
    const cases = [
      {
        categoryId: category.id,
        bps: 0,
        programme: '免佣',
        startsAt: new Date(at + DAY),
        endsAt: new Date(at),
      },
      { categoryId: category.id, bps: 300, endsAt: new Date(at + DAY) },
      { categoryId: category.id, bps: 2001 },
    ];
    for (const payload of cases) {
      const r = await setRate(payload);
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json().code).toBe('VALIDATION_FAILED');
    }
    const list = await t.request({
      method: 'GET',
      url: `/api/operator/fee-rates?categoryId=${category.id}`,
      token: operator.token,
    });
    expect(list.json().items).toEqual([]);
  });
});

describe('settlement', () => {
  it('moves pending money to available only after completion and the 7-day window, once', async () => {
    const w = await sellingWorld(t, { categorySlug: unique('settle-'), priceFen: 9900, commissionBps: 2000 });
    const buyer = await t.account(['buyer']);
    const start = t.clock.now();
    const orderId = await completedOrder(w, buyer);
    const m = (await money(orderId))!;
    expect(m.settleAfter!.getTime()).toBe(m.deliveredAt!.getTime() + 7 * DAY);

    await settle();
    expect((await money(orderId))!.shopSettledAt).toBeNull();

    t.clock.advance(7 * DAY + MINUTE);
    await settle();
    const settled = (await money(orderId))!;
    expect(settled.shopSettledAt).not.toBeNull();
    expect(settled.commissionStatus).toBe('settled');
    const shop = await t.app.services.ledger.ownerBalances(`shop:${w.shop.id}:`);
    expect(shop).toMatchObject({ pendingFen: 0, availableFen: m.shopShareFen });
    const creator = await t.request({
      method: 'GET',
      url: '/api/creator/finance/balances',
      token: w.creator.token,
    });
    expect(creator.json()).toMatchObject({ pendingFen: 0, availableFen: m.commissionFen });

    // A second run finds nothing of this order to settle: balances stay put.
    await settle();
    expect(await t.app.services.ledger.ownerBalances(`shop:${w.shop.id}:`)).toEqual(shop);

    const commissions = await t.request({
      method: 'GET',
      url: '/api/creator/commissions',
      token: w.creator.token,
    });
    expect(commissions.json().items).toEqual([
      expect.objectContaining({ orderId, status: 'settled', commissionFen: m.commissionFen }),
    ]);

    // The statement reconciles: opening + in − out = closing, for pending and available.
    const q = `from=${start.toISOString()}&to=${new Date(t.clock.now().getTime() + MINUTE).toISOString()}`;
    const st = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/finance/statement?${q}`,
      token: w.merchant.token,
    });
    expect(st.statusCode, st.body).toBe(200);
    const [pending, available] = st.json().accounts;
    expect(pending).toMatchObject({
      account: shopAccount(w.shop.id, 'pending'),
      opening: 0,
      in: m.shopShareFen,
      out: m.shopShareFen,
      closing: 0,
    });
    expect(available).toMatchObject({ opening: 0, in: m.shopShareFen, out: 0, closing: m.shopShareFen });
    expect(available.entries).toEqual([
      expect.objectContaining({ kind: 'settlement', orderId, amount: m.shopShareFen }),
    ]);

    const csv = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/finance/statement.csv?${q}`,
      token: w.merchant.token,
    });
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe('account,time,kind,journal_id,order_id,amount_yuan,memo');
    expect(lines.filter((l) => l.includes(`,${orderId},`))).toHaveLength(3);
    expect(lines.at(-1)).toContain(`closing_balance,,,${(m.shopShareFen / 100).toFixed(2)}`);
    await expectBooksBalance();
  });

  it('holds a frozen creator’s commission while the shop settles, and settles it once unfrozen', async () => {
    const w = await sellingWorld(t, { categorySlug: unique('freeze-'), priceFen: 5000, commissionBps: 3000 });
    const buyer = await t.account(['buyer']);
    const orderId = await completedOrder(w, buyer);
    const freeze = await t.request({
      method: 'PUT',
      url: `/api/operator/creators/${w.creator.id}/commission-freeze`,
      token: w.operator.token,
      payload: { reason: '虚假宣传调查中' },
    });
    expect(freeze.statusCode, freeze.body).toBe(200);
    t.clock.advance(8 * DAY);
    await settle();
    const m = (await money(orderId))!;
    expect(m.shopSettledAt).not.toBeNull();
    expect(m.commissionStatus).toBe('frozen');
    const list = (
      await t.request({ method: 'GET', url: '/api/creator/commissions', token: w.creator.token })
    ).json();
    expect(list.frozen).toMatchObject({ reason: '虚假宣传调查中' });
    expect(list.items[0]).toMatchObject({ orderId, status: 'frozen' });
    expect(await t.app.services.ledger.ownerBalances(`creator:${w.creator.id}:`)).toMatchObject({
      pendingFen: 1500,
      availableFen: 0,
    });

    await t.request({
      method: 'DELETE',
      url: `/api/operator/creators/${w.creator.id}/commission-freeze`,
      token: w.operator.token,
    });
    await settle();
    expect((await money(orderId))!.commissionStatus).toBe('settled');
    expect(await t.app.services.ledger.ownerBalances(`creator:${w.creator.id}:`)).toMatchObject({
      pendingFen: 0,
      availableFen: 1500,
    });
    await expectBooksBalance();
  });

  it('claws back from available balances when a settled order is refunded, pro rata', async () => {
    const w = await sellingWorld(t, { categorySlug: unique('claw-'), priceFen: 10_000, commissionBps: 2000 });
    const buyer = await t.account(['buyer']);
    const orderId = await completedOrder(w, buyer);
    t.clock.advance(8 * DAY);
    await settle();
    const ledger = t.app.services.ledger;
    // Default fee 2 %: 10,000 → commission 2,000, fee 200, shop 7,800. Refund 30 %.
    const r = await inTransaction(t.app.platform.db, (tx) =>
      ledger.bookRefund(tx, { refundId: unique('rfd-'), orderId, amountFen: 3000 }),
    );
    expect(r).toMatchObject({ commissionFen: 600, feeFen: 60, shopShareFen: 2340, refundedFen: 3000 });
    expect(await ledger.ownerBalances(`shop:${w.shop.id}:`)).toMatchObject({
      pendingFen: 0,
      availableFen: 7800 - 2340,
    });
    expect(await ledger.ownerBalances(`creator:${w.creator.id}:`)).toMatchObject({
      availableFen: 2000 - 600,
    });
    await expect(
      inTransaction(t.app.platform.db, (tx) =>
        ledger.bookRefund(tx, { refundId: unique('rfd-'), orderId, amountFen: 7001 }),
      ),
    ).rejects.toMatchObject({ code: 'REFUND_EXCEEDS_PAID' });
    const m = (await money(orderId))!;
    expect(
      m.shopShareFen -
        m.shopShareReversedFen +
        m.commissionFen -
        m.commissionReversedFen +
        m.feeFen -
        m.feeReversedFen,
    ).toBe(m.paidFen + m.subsidyFen - m.refundedFen - m.subsidyReversedFen);
    await expectBooksBalance();
  });
});

describe('the books guard themselves', () => {
  it('refuses an unbalanced journal, an edit or deletion of postings, and a direct balance write', async () => {
    const db = t.app.platform.db;
    const jid = unique('jnl_test');
    await expect(
      db.execute(sql`insert into ledger_postings (journal_id, account, amount, created_at)
                     values (${jid}, ${PLATFORM.clearing}, 100, now()), (${jid}, ${creatorAccount('acc_x', 'pending')}, -99, now())`),
    ).rejects.toThrow();
    // A later statement adding to a booked journal must balance by itself (the check sums the
    // new postings only, which is exact because earlier ones balanced and cannot change).
    const added = await db
      .execute(sql`insert into ledger_postings (journal_id, account, amount, created_at)
                   select journal_id, ${PLATFORM.clearing}, 1, now() from ledger_postings
                   where id = (select min(id) from ledger_postings)`)
      .then(
        () => null,
        (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
      );
    expect(added).toMatch(/ledger journal \S+ does not balance/);
    await expect(
      db.execute(
        sql`update ledger_postings set amount = amount + 1 where id = (select min(id) from ledger_postings)`,
      ),
    ).rejects.toThrow();
    await expect(
      db.execute(sql`delete from ledger_postings where id = (select min(id) from ledger_postings)`),
    ).rejects.toThrow();
    await expect(db.execute(sql`update ledger_balances set balance = balance - 100`)).rejects.toThrow();
    await expect(
      db.execute(sql`insert into ledger_balances (account, balance) values ('shop:fake:available', 100)`),
    ).rejects.toThrow();
    await expectBooksBalance();
  });
});
