import { and, eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM } from '../src/modules/ledger/accounts.js';
import { ledgerJournals, payouts } from '../src/modules/ledger/schema.js';
import { DAY } from '../src/platform/clock.js';
import { inTransaction } from '../src/platform/tx.js';
import { completedRoomOrder, sellingWorld, startTestApp, type TestContext, unique } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  // The clock moves weeks ahead here; sessions outlive it.
  t = await startTestApp({ SESSION_TTL_HOURS: 24 * 365 });
});
afterAll(() => t.close());

type World = Awaited<ReturnType<typeof sellingWorld>>;

async function ok(res: Promise<LightMyRequestResponse>, status = 200) {
  const r = await res;
  if (r.statusCode !== status) throw new Error(`expected ${status}, got ${r.statusCode} ${r.body}`);
  return r.json();
}

async function expectBooksBalance() {
  const v = await t.app.services.ledger.verify();
  expect(v, JSON.stringify(v)).toMatchObject({ ok: true, trialBalanceFen: 0 });
}

/** A completed order: paid, shipped, delivered, receipt confirmed. */
/** A shop and a creator with available balances, earned through real orders and settlement. */
async function fundedWorld(orders = 1) {
  const w = await sellingWorld(t, { priceFen: 100_000, commissionBps: 2000, categorySlug: unique('po-') });
  const buyer = await t.account(['buyer']);
  for (let i = 0; i < orders; i++) await completedRoomOrder(t, w, buyer.token);
  t.clock.advance(8 * DAY);
  await t.app.platform.outbox.drain();
  await t.app.platform.jobs.runNow('ledger.settle');
  const shopBalances = await balances(w);
  expect(shopBalances.availableFen).toBeGreaterThan(0);
  return { w, buyer, availableFen: shopBalances.availableFen as number };
}

const balances = (w: World) =>
  ok(t.request({ method: 'GET', url: `/api/shops/${w.shop.id}/finance/balances`, token: w.merchant.token }));

const platformBalances = async () =>
  t.app.services.ledger.balances(t.app.platform.db, [PLATFORM.payoutsInTransit, PLATFORM.clearing]);

function addAccount(url: string, token: string, accountNumber: string) {
  return ok(
    t.request({
      method: 'POST',
      url,
      token,
      payload: { bankName: '招商银行', holderName: '杭州测试小店有限公司', accountNumber },
    }),
    201,
  );
}

const shopAccountsUrl = (w: World) => `/api/shops/${w.shop.id}/finance/payout-accounts`;
const shopWithdrawalsUrl = (w: World) => `/api/shops/${w.shop.id}/finance/withdrawals`;

function withdraw(url: string, token: string, body: object, key = unique('wd-')) {
  return t.request({ method: 'POST', url, token, headers: { 'idempotency-key': key }, payload: body });
}

async function shopPayoutRows(shopId: string) {
  return t.app.platform.db
    .select()
    .from(payouts)
    .where(and(eq(payouts.ownerKind, 'shop'), eq(payouts.ownerId, shopId)));
}

describe('withdrawals (提现)', () => {
  it('refuses a withdrawal below the minimum, above the available balance, to a stranger’s account or without a key, and changes nothing', async () => {
    const { w, availableFen } = await fundedWorld();
    const account = await addAccount(shopAccountsUrl(w), w.merchant.token, '6225880112345678');
    const stranger = await sellingWorld(t, { categorySlug: unique('po-x-') });
    const theirs = await addAccount(shopAccountsUrl(stranger), stranger.merchant.token, '6225880187654321');
    const url = shopWithdrawalsUrl(w);

    const below = await withdraw(url, w.merchant.token, { amountFen: 99, payoutAccountId: account.id });
    expect(below.statusCode).toBe(422);
    expect(below.json()).toMatchObject({ code: 'PAYOUT_BELOW_MINIMUM', details: { minimumFen: 100 } });

    const above = await withdraw(url, w.merchant.token, {
      amountFen: availableFen + 1,
      payoutAccountId: account.id,
    });
    expect(above.statusCode).toBe(409);
    expect(above.json()).toMatchObject({ code: 'INSUFFICIENT_BALANCE', details: { availableFen } });

    const foreign = await withdraw(url, w.merchant.token, { amountFen: 1_000, payoutAccountId: theirs.id });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('PAYOUT_ACCOUNT_NOT_FOUND');

    const noKey = await t.request({
      method: 'POST',
      url,
      token: w.merchant.token,
      payload: { amountFen: 1_000, payoutAccountId: account.id },
    });
    expect(noKey.statusCode).toBe(400);
    expect(noKey.json().message).toContain('Idempotency-Key');

    const badNumber = await t.request({
      method: 'POST',
      url: shopAccountsUrl(w),
      token: w.merchant.token,
      payload: { bankName: '招商银行', holderName: '某某', accountNumber: '6225-8801' },
    });
    expect(badNumber.statusCode).toBe(400);
    expect(badNumber.json().message).toContain('body.accountNumber');

    expect((await balances(w)).availableFen).toBe(availableFen);
    expect(await shopPayoutRows(w.shop.id)).toEqual([]);
    await expectBooksBalance();
  });

  it('moves the money into transit at once and clears it against cash when the provider pays', async () => {
    const { w, availableFen } = await fundedWorld();
    const account = await addAccount(shopAccountsUrl(w), w.merchant.token, '6225880112345678');
    const before = await platformBalances();

    const res = await withdraw(shopWithdrawalsUrl(w), w.merchant.token, {
      amountFen: 30_000,
      payoutAccountId: account.id,
    });
    expect(res.statusCode, res.body).toBe(201);
    const payout = res.json();
    expect(payout).toMatchObject({
      purpose: 'withdrawal',
      amountFen: 30_000,
      payoutAccount: { id: account.id, bankName: '招商银行', accountLast4: '5678' },
    });
    expect((await balances(w)).availableFen).toBe(availableFen - 30_000);

    await t.app.platform.outbox.drain();
    const done = await ok(
      t.request({ method: 'GET', url: `${shopWithdrawalsUrl(w)}/${payout.id}`, token: w.merchant.token }),
    );
    expect(done).toMatchObject({ status: 'succeeded', failureReason: null });
    const after = await platformBalances();
    expect(after[PLATFORM.payoutsInTransit]).toBe(before[PLATFORM.payoutsInTransit]);
    expect(after[PLATFORM.clearing]).toBe(before[PLATFORM.clearing]! - 30_000);
    const journals = await t.app.platform.db
      .select()
      .from(ledgerJournals)
      .where(eq(ledgerJournals.ref, payout.id));
    expect(journals.map((j) => j.kind).sort()).toEqual(['payout', 'payout_success']);

    // The event delivered again pays nothing twice.
    await inTransaction(t.app.platform.db, (tx) =>
      t.app.services.payouts.sendPayout(tx, {
        id: 'evt_redelivered',
        topic: 'payout.requested',
        aggregateId: payout.id,
        payload: { payoutId: payout.id },
        createdAt: t.clock.now(),
      }),
    );
    expect(await platformBalances()).toEqual(after);
    expect((await balances(w)).availableFen).toBe(availableFen - 30_000);

    const list = await ok(
      t.request({ method: 'GET', url: `${shopWithdrawalsUrl(w)}?status=succeeded`, token: w.merchant.token }),
    );
    expect(list.items.map((p: { id: string }) => p.id)).toEqual([payout.id]);
    await expectBooksBalance();
  });

  it('answers a retried withdrawal from the first one instead of paying twice', async () => {
    const { w, availableFen } = await fundedWorld();
    const account = await addAccount(shopAccountsUrl(w), w.merchant.token, '6225880112345678');
    const key = unique('wd-');
    const body = { amountFen: 10_000, payoutAccountId: account.id };
    const first = await withdraw(shopWithdrawalsUrl(w), w.merchant.token, body, key);
    expect(first.statusCode, first.body).toBe(201);
    await t.app.platform.outbox.drain();
    const again = await withdraw(shopWithdrawalsUrl(w), w.merchant.token, body, key);
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
    const other = await withdraw(
      shopWithdrawalsUrl(w),
      w.merchant.token,
      { ...body, amountFen: 10_001 },
      key,
    );
    expect(other.statusCode).toBe(422);
    expect(other.json().code).toBe('IDEMPOTENCY_KEY_REUSED');

    expect(await shopPayoutRows(w.shop.id)).toHaveLength(1);
    expect((await balances(w)).availableFen).toBe(availableFen - 10_000);
    await expectBooksBalance();
  });

  it('lets exactly one of ten concurrent withdrawals of 60 % of the balance through', async () => {
    const { w, availableFen } = await fundedWorld();
    const account = await addAccount(shopAccountsUrl(w), w.merchant.token, '6225880112345678');
    const amountFen = Math.floor(availableFen * 0.6);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        withdraw(shopWithdrawalsUrl(w), w.merchant.token, { amountFen, payoutAccountId: account.id }),
      ),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes, results.map((r) => r.body).join('\n')).toEqual([201, ...Array(9).fill(409)]);
    for (const r of results.filter((x) => x.statusCode === 409)) {
      expect(r.json().code).toBe('INSUFFICIENT_BALANCE');
    }
    expect((await balances(w)).availableFen).toBe(availableFen - amountFen);
    expect(await shopPayoutRows(w.shop.id)).toHaveLength(1);
    await t.app.platform.outbox.drain();
    await expectBooksBalance();
  });

  it('reverses a payout the provider fails and restores the available balance', async () => {
    const { w, availableFen } = await fundedWorld();
    const failing = await addAccount(shopAccountsUrl(w), w.merchant.token, '6225880110000');
    const before = await platformBalances();
    const res = await withdraw(shopWithdrawalsUrl(w), w.merchant.token, {
      amountFen: availableFen,
      payoutAccountId: failing.id,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().status).toBe('processing');

    await t.app.platform.outbox.drain();
    const done = await ok(
      t.request({ method: 'GET', url: `${shopWithdrawalsUrl(w)}/${res.json().id}`, token: w.merchant.token }),
    );
    expect(done).toMatchObject({ status: 'failed', failureReason: 'account_rejected_by_bank' });
    expect((await balances(w)).availableFen).toBe(availableFen);
    const after = await platformBalances();
    expect(after).toEqual(before);
    const journals = await t.app.platform.db
      .select()
      .from(ledgerJournals)
      .where(eq(ledgerJournals.ref, res.json().id));
    expect(journals.map((j) => j.kind).sort()).toEqual(['payout', 'payout_reversal']);

    // The money can be withdrawn again to a good account.
    const good = await addAccount(shopAccountsUrl(w), w.merchant.token, '6225880112345678');
    const retry = await withdraw(shopWithdrawalsUrl(w), w.merchant.token, {
      amountFen: availableFen,
      payoutAccountId: good.id,
    });
    expect(retry.statusCode).toBe(201);
    await t.app.platform.outbox.drain();
    expect((await balances(w)).availableFen).toBe(0);
    await expectBooksBalance();
  });

  it('lets staff with finance.withdraw withdraw, refuses staff without it, and never shows the account number', async () => {
    const { w } = await fundedWorld();
    const reader = await t.account(['merchant'], 'fin-read');
    const cashier = await t.account(['merchant'], 'fin-cash');
    for (const [who, permissions] of [
      [reader, ['finance.read']],
      [cashier, ['finance.read', 'finance.withdraw']],
    ] as const) {
      await ok(
        t.request({
          method: 'PUT',
          url: `/api/shops/${w.shop.id}/staff`,
          token: w.merchant.token,
          payload: { login: who.login, permissions },
        }),
      );
    }
    const refused = await t.request({
      method: 'POST',
      url: shopAccountsUrl(w),
      token: reader.token,
      payload: { bankName: '招商银行', holderName: '某某', accountNumber: '6225880112345678' },
    });
    expect(refused.statusCode).toBe(403);
    const account = await addAccount(shopAccountsUrl(w), cashier.token, '6225880112345678');
    expect(JSON.stringify(account)).not.toContain('6225880112345678');

    const denied = await withdraw(shopWithdrawalsUrl(w), reader.token, {
      amountFen: 1_000,
      payoutAccountId: account.id,
    });
    expect(denied.statusCode).toBe(403);
    const allowed = await withdraw(shopWithdrawalsUrl(w), cashier.token, {
      amountFen: 1_000,
      payoutAccountId: account.id,
    });
    expect(allowed.statusCode, allowed.body).toBe(201);
    await t.app.platform.outbox.drain();

    const listed = await t.request({ method: 'GET', url: shopWithdrawalsUrl(w), token: reader.token });
    expect(listed.statusCode).toBe(200);
    const accounts = await t.request({ method: 'GET', url: shopAccountsUrl(w), token: reader.token });
    for (const body of [listed.body, accounts.body, allowed.body]) {
      expect(body).not.toContain('6225880112345678');
      expect(body).not.toContain('spt_');
    }
    expect(accounts.json().items[0]).toMatchObject({ accountLast4: '5678', accountMask: '**** 5678' });
    await expectBooksBalance();
  });

  it('pays a creator’s settled commission out and marks it withdrawn', async () => {
    const { w } = await fundedWorld();
    const mine = await ok(
      t.request({ method: 'GET', url: '/api/creator/finance/balances', token: w.creator.token }),
    );
    expect(mine.availableFen).toBe(20_000);
    const account = await addAccount(
      '/api/creator/finance/payout-accounts',
      w.creator.token,
      '6214830212345678',
    );
    const res = await withdraw('/api/creator/finance/withdrawals', w.creator.token, {
      amountFen: 20_000,
      payoutAccountId: account.id,
    });
    expect(res.statusCode, res.body).toBe(201);
    await t.app.platform.outbox.drain();
    const done = await ok(
      t.request({
        method: 'GET',
        url: `/api/creator/finance/withdrawals/${res.json().id}`,
        token: w.creator.token,
      }),
    );
    expect(done).toMatchObject({ status: 'succeeded', ownerKind: 'creator', amountFen: 20_000 });
    const commissions = await ok(
      t.request({ method: 'GET', url: '/api/creator/commissions', token: w.creator.token }),
    );
    expect(commissions.items.map((c: { status: string }) => c.status)).toEqual(['withdrawn']);
    // Another creator cannot see it.
    const other = await t.account(['creator']);
    const hidden = await t.request({
      method: 'GET',
      url: `/api/creator/finance/withdrawals/${res.json().id}`,
      token: other.token,
    });
    expect(hidden.statusCode).toBe(404);
    await expectBooksBalance();
  });

  it('polls a payout the provider left pending until it is paid', async () => {
    const { w, availableFen } = await fundedWorld();
    const account = await addAccount(shopAccountsUrl(w), w.merchant.token, '6225880112345678');
    const other = await startTestApp({ PAYOUT_SIM_MODE: 'async', SESSION_TTL_HOURS: 24 * 365 });
    try {
      other.clock.set(t.clock.now());
      const res = await other.request({
        method: 'POST',
        url: shopWithdrawalsUrl(w),
        token: w.merchant.token,
        headers: { 'idempotency-key': unique('wd-') },
        payload: { amountFen: 5_000, payoutAccountId: account.id },
      });
      expect(res.statusCode, res.body).toBe(201);
      await other.app.platform.outbox.drain();
      const [sent] = await shopPayoutRows(w.shop.id);
      expect(sent).toMatchObject({ status: 'processing', providerRef: `simpo_${res.json().id}` });
      await other.app.platform.jobs.runNow('ledger.poll-payouts');
      const [paid] = await shopPayoutRows(w.shop.id);
      expect(paid!.status).toBe('succeeded');
    } finally {
      await other.close();
    }
    expect((await balances(w)).availableFen).toBe(availableFen - 5_000);
    await expectBooksBalance();
  });
});
