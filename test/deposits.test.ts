import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM } from '../src/modules/ledger/accounts.js';
import {
  CREATOR_DEPOSIT_TIERS,
  creatorDepositRequiredFen,
  creatorDepositVariableFen,
  previousLocalMonth,
} from '../src/modules/ledger/deposits.js';
import { ledgerJournals, payouts } from '../src/modules/ledger/schema.js';
import { DAY, HOUR, MINUTE, startOfLocalDay } from '../src/platform/clock.js';
import { newId } from '../src/platform/ids.js';
import { inTransaction } from '../src/platform/tx.js';
import { sellingWorld, startTestApp, type TestContext, unique } from './harness.js';

describe('creator deposit tiers', () => {
  it('adds the tier of last month’s paid GMV to the 500 CNY basic deposit, lower bounds inclusive', () => {
    const cases: [gmvFen: number, variableFen: number][] = [
      [0, 0],
      [499_999, 0],
      [500_000, 10_000],
      [999_999, 10_000],
      [1_000_000, 20_000],
      [4_999_999, 20_000],
      [5_000_000, 50_000],
      [9_999_999, 50_000],
      [10_000_000, 100_000],
      [49_999_999, 100_000],
      [50_000_000, 200_000],
      [10_000_000_000, 200_000],
    ];
    for (const [gmv, variable] of cases) {
      expect(creatorDepositVariableFen(gmv), `GMV ${gmv}`).toBe(variable);
      expect(creatorDepositRequiredFen(gmv, 50_000)).toBe(50_000 + variable);
    }
    expect(CREATOR_DEPOSIT_TIERS.map((tier) => tier.fromGmvFen)).toEqual([
      0, 500_000, 1_000_000, 5_000_000, 10_000_000, 50_000_000,
    ]);
  });

  it('reads last month in the platform time zone', () => {
    // 00:30 on 1 March in China is still 28 February in UTC.
    const w = previousLocalMonth(new Date('2026-02-28T16:30:00.000Z'), 480);
    expect(w).toEqual({
      month: '2026-03',
      from: new Date('2026-01-31T16:00:00.000Z'),
      to: new Date('2026-02-28T16:00:00.000Z'),
    });
    expect(previousLocalMonth(new Date('2026-01-15T00:00:00.000Z'), 480)).toMatchObject({
      month: '2026-01',
      from: new Date('2025-11-30T16:00:00.000Z'),
    });
  });
});

let t: TestContext;
beforeAll(async () => {
  // The clock moves weeks ahead here; sessions outlive it.
  t = await startTestApp({ SESSION_TTL_HOURS: 24 * 365 });
});
afterAll(() => t.close());

async function ok(res: Promise<LightMyRequestResponse>, status = 200) {
  const r = await res;
  if (r.statusCode !== status) throw new Error(`expected ${status}, got ${r.statusCode} ${r.body}`);
  return r.json();
}

const offset = () => t.app.platform.config.PLATFORM_UTC_OFFSET_MINUTES;
const ledger = () => t.app.services.ledger;

async function expectBooksBalance() {
  const v = await ledger().verify();
  expect(v, JSON.stringify(v)).toMatchObject({ ok: true, trialBalanceFen: 0 });
}

/** A paid order of the creator's, booked by the ledger as the `order.paid` handler would. */
async function bookGmv(creatorId: string, paidFen: number, paidAt: Date) {
  await inTransaction(t.app.platform.db, (tx) =>
    ledger().bookOrderPayment(tx, {
      orderId: newId('order'),
      shopId: newId('shop'),
      paidAt: paidAt.toISOString(),
      payableFen: paidFen,
      platformDiscountFen: 0,
      creatorAccountId: creatorId,
      lines: [
        {
          lineId: newId('orderLine'),
          categoryId: 'cat_gmv',
          paidFen,
          platformDiscountFen: 0,
          commissionBps: 1000,
        },
      ],
    }),
  );
}

const lastMonthAt = () => new Date(previousLocalMonth(t.clock.now(), offset()).from.getTime() + DAY);

/** Moves the clock to 01:00 on the first day of the next local month. */
function toNextMonth() {
  const { month } = previousLocalMonth(t.clock.now(), offset());
  const [y, m] = month.split('-').map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  t.clock.set(new Date(startOfLocalDay(`${next}-01`, offset()).getTime() + HOUR));
}

const depositOf = (token: string) =>
  ok(t.request({ method: 'GET', url: '/api/creator/finance/deposit', token }));

function lock(token: string, amountFen: number, key = unique('dep-')) {
  return t.request({
    method: 'POST',
    url: '/api/creator/finance/deposit/lock',
    token,
    headers: { 'idempotency-key': key },
    payload: { amountFen },
  });
}

function payoutAccount(token: string, accountNumber: string, url = '/api/creator/finance/payout-accounts') {
  return ok(
    t.request({
      method: 'POST',
      url,
      token,
      payload: { bankName: '中国工商银行', holderName: '李达人', accountNumber },
    }),
    201,
  );
}

function penalize(operatorToken: string, creatorId: string, amountFen: number, key = unique('pen-')) {
  return t.request({
    method: 'POST',
    url: `/api/operator/creators/${creatorId}/deposit/penalties`,
    token: operatorToken,
    headers: { 'idempotency-key': key },
    payload: { amountFen, reason: '直播中虚假宣传' },
  });
}

describe('creator deposit (保证金)', () => {
  it('requires 500 CNY plus the tier of last month’s paid GMV, and grants sharing once the deposit covers it', async () => {
    const creator = await t.account(['creator']);
    // 10,000 CNY last month (the 10k–50k tier: +200 CNY); this month's and older sales do not count.
    await bookGmv(creator.id, 600_000, lastMonthAt());
    await bookGmv(creator.id, 400_000, lastMonthAt());
    await bookGmv(creator.id, 9_000_000, t.clock.now());
    await bookGmv(creator.id, 9_000_000, new Date(lastMonthAt().getTime() - 40 * DAY));

    const before = await depositOf(creator.token);
    expect(before).toMatchObject({
      status: 'open',
      balanceFen: 0,
      requiredFen: 70_000,
      shortfallFen: 70_000,
      covered: false,
      requirement: { lastMonthGmvFen: 1_000_000, baseFen: 50_000, variableFen: 20_000 },
      sharingPermission: 'none',
    });

    const first = await ok(lock(creator.token, 50_000), 201);
    expect(first.payment).toMatchObject({ amountFen: 50_000, status: 'succeeded' });
    expect(first.deposit).toMatchObject({ balanceFen: 50_000, shortfallFen: 20_000, covered: false });
    expect((await depositOf(creator.token)).sharingPermission).toBe('none');

    const key = unique('dep-');
    const topUp = await lock(creator.token, 20_000, key);
    expect(topUp.statusCode, topUp.body).toBe(201);
    expect(topUp.json().deposit).toMatchObject({ balanceFen: 70_000, shortfallFen: 0, covered: true });
    expect(await depositOf(creator.token)).toMatchObject({
      balanceFen: 70_000,
      sharingPermission: 'granted',
    });

    // A retried request is answered from the first one; the same key for another amount is refused.
    const replay = await lock(creator.token, 20_000, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().payment.id).toBe(topUp.json().payment.id);
    const reused = await lock(creator.token, 30_000, key);
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await depositOf(creator.token)).balanceFen).toBe(70_000);

    // The provider's webhook for the charge finds it already booked.
    await t.app.paymentProvider.settle();
    await t.app.platform.outbox.drain();
    expect((await depositOf(creator.token)).balanceFen).toBe(70_000);
    const journals = await t.app.platform.db
      .select()
      .from(ledgerJournals)
      .where(eq(ledgerJournals.ref, first.payment.id));
    expect(journals.map((j) => j.kind)).toEqual(['deposit_lock']);
    await expectBooksBalance();
  });

  it('refuses a deposit without an Idempotency-Key or with a bad amount, and changes nothing', async () => {
    const creator = await t.account(['creator']);
    const noKey = await t.request({
      method: 'POST',
      url: '/api/creator/finance/deposit/lock',
      token: creator.token,
      payload: { amountFen: 50_000 },
    });
    expect(noKey.statusCode).toBe(400);
    expect(noKey.json().message).toContain('Idempotency-Key');
    for (const amountFen of [0, -5, 1.5]) {
      const bad = await lock(creator.token, amountFen);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toContain('body.amountFen');
    }
    expect(await depositOf(creator.token)).toMatchObject({ balanceFen: 0, sharingPermission: 'none' });
  });

  it('books a deposit paid asynchronously when the provider’s webhook confirms it', async () => {
    const other = await startTestApp({ PAYMENT_SIM_MODE: 'async', SESSION_TTL_HOURS: 24 * 365 });
    try {
      other.clock.set(t.clock.now());
      const creator = await other.account(['creator']);
      const res = await other.request({
        method: 'POST',
        url: '/api/creator/finance/deposit/lock',
        token: creator.token,
        headers: { 'idempotency-key': unique('dep-') },
        payload: { amountFen: 50_000 },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ payment: { status: 'pending' }, deposit: { balanceFen: 0 } });
      await other.app.paymentProvider.settle();
      const after = await other.request({
        method: 'GET',
        url: '/api/creator/finance/deposit',
        token: creator.token,
      });
      expect(after.json()).toMatchObject({ balanceFen: 50_000, covered: true, sharingPermission: 'granted' });
    } finally {
      await other.close();
    }
    await expectBooksBalance();
  });

  it('deducts a penalty, never more than the deposit holds, and suspends sharing until topped up', async () => {
    const w = await sellingWorld(t, { categorySlug: unique('dep-pen-') });
    const operator = w.operator;
    expect((await ok(lock(w.creator.token, 50_000), 201)).deposit.covered).toBe(true);
    const revenue = async () =>
      (await ledger().balances(t.app.platform.db, [PLATFORM.penaltyRevenue]))[PLATFORM.penaltyRevenue]!;
    const revenueBefore = await revenue();

    const tooMuch = await penalize(operator.token, w.creator.id, 50_001);
    expect(tooMuch.statusCode).toBe(409);
    expect(tooMuch.json()).toMatchObject({
      code: 'PENALTY_EXCEEDS_DEPOSIT',
      details: { balanceFen: 50_000 },
    });
    const noKey = await t.request({
      method: 'POST',
      url: `/api/operator/creators/${w.creator.id}/deposit/penalties`,
      token: operator.token,
      payload: { amountFen: 100, reason: '直播中虚假宣传' },
    });
    expect(noKey.statusCode).toBe(400);
    expect((await depositOf(w.creator.token)).balanceFen).toBe(50_000);

    const key = unique('pen-');
    const fined = await penalize(operator.token, w.creator.id, 1_000, key);
    expect(fined.statusCode, fined.body).toBe(201);
    expect(fined.json()).toMatchObject({
      deduction: { kind: 'penalty', amountFen: 1_000, reason: '直播中虚假宣传' },
      deposit: { balanceFen: 49_000, shortfallFen: 1_000, covered: false },
    });
    const replay = await penalize(operator.token, w.creator.id, 1_000, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await revenue()).toBe(revenueBefore + 1_000);

    const status = await depositOf(w.creator.token);
    expect(status).toMatchObject({ balanceFen: 49_000, sharingPermission: 'suspended' });
    expect(status.deductions).toHaveLength(1);
    const cart = await t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${w.room.id}/cart`,
      token: w.creator.token,
      payload: { productId: w.product.id },
    });
    expect(cart.statusCode).toBe(403);
    expect(cart.json()).toMatchObject({
      code: 'SHARING_PERMISSION_REQUIRED',
      details: { sharingPermission: 'suspended' },
    });

    await ok(lock(w.creator.token, 1_000), 201);
    expect(await depositOf(w.creator.token)).toMatchObject({
      balanceFen: 50_000,
      sharingPermission: 'granted',
    });
    await expectBooksBalance();
  });

  it('forfeits the whole deposit on a permanent ban and revokes sharing for good', async () => {
    const operator = await t.account(['operator']);
    const creator = await t.account(['creator']);
    await ok(lock(creator.token, 80_000), 201);
    const banned = await ok(
      t.request({
        method: 'POST',
        url: `/api/operator/creators/${creator.id}/ban`,
        token: operator.token,
        payload: { reason: '售假，永久封禁' },
      }),
    );
    expect(banned).toMatchObject({
      forfeiture: { kind: 'forfeiture', amountFen: 80_000, reason: 'forfeited', note: '售假，永久封禁' },
      deposit: { status: 'forfeited', balanceFen: 0, sharingPermission: 'banned' },
    });
    const again = await ok(
      t.request({
        method: 'POST',
        url: `/api/operator/creators/${creator.id}/ban`,
        token: operator.token,
        payload: { reason: '售假，永久封禁' },
      }),
    );
    expect(again.forfeiture).toBeNull();

    const relock = await lock(creator.token, 50_000);
    expect(relock.statusCode).toBe(409);
    expect(relock.json().code).toBe('DEPOSIT_FORFEITED');
    const grant = await t.request({
      method: 'PUT',
      url: `/api/admin/creators/${creator.id}/sharing-permission`,
      token: operator.token,
      payload: { granted: true, reason: '申诉' },
    });
    expect(grant.statusCode).toBe(409);
    expect((await depositOf(creator.token)).sharingPermission).toBe('banned');
    await expectBooksBalance();
  });

  it('closes sharing on a withdrawal request, deducts what the review finds, waits out a freeze, then pays back the rest', async () => {
    const operator = await t.account(['operator']);
    const creator = await t.account(['creator']);
    await ok(lock(creator.token, 50_000), 201);
    const account = await payoutAccount(creator.token, '6222020200112233445');
    expect(account).toMatchObject({ accountLast4: '3445', accountMask: '**** 3445' });
    const accounts = await t.request({
      method: 'GET',
      url: '/api/creator/finance/payout-accounts',
      token: creator.token,
    });
    expect(accounts.body).not.toContain('6222020200112233445');
    expect(accounts.body).not.toContain('spt_');

    const asked = await ok(
      t.request({
        method: 'POST',
        url: '/api/creator/finance/deposit/withdrawal',
        token: creator.token,
        payload: { payoutAccountId: account.id },
      }),
    );
    expect(asked.status).toBe('reviewing');
    expect(new Date(asked.withdrawal.reviewEndsAt).getTime()).toBe(t.clock.now().getTime() + 7 * DAY);
    expect((await depositOf(creator.token)).sharingPermission).toBe('closed');
    expect((await lock(creator.token, 1_000)).statusCode).toBe(409);

    // Found during the review: deducted before the payout.
    expect((await penalize(operator.token, creator.id, 5_000)).statusCode).toBe(201);
    await t.app.platform.jobs.runNow('ledger.deposit-reviews');
    expect((await depositOf(creator.token)).status).toBe('reviewing');

    await ok(
      t.request({
        method: 'PUT',
        url: `/api/operator/creators/${creator.id}/deposit/freeze`,
        token: operator.token,
        payload: { reason: '违规调查中' },
      }),
    );
    t.clock.advance(7 * DAY + MINUTE);
    await t.app.platform.jobs.runNow('ledger.deposit-reviews');
    expect(await depositOf(creator.token)).toMatchObject({
      status: 'reviewing',
      frozen: { reason: '违规调查中' },
    });

    await ok(
      t.request({
        method: 'DELETE',
        url: `/api/operator/creators/${creator.id}/deposit/freeze`,
        token: operator.token,
      }),
    );
    expect(
      (await t.app.platform.jobs.runNow('ledger.deposit-reviews'))['ledger.deposit-reviews'],
    ).toBeGreaterThanOrEqual(1);
    await t.app.platform.outbox.drain();

    const done = await depositOf(creator.token);
    expect(done).toMatchObject({
      status: 'open',
      balanceFen: 0,
      withdrawal: null,
      sharingPermission: 'closed',
    });
    const list = await ok(
      t.request({ method: 'GET', url: '/api/creator/finance/withdrawals', token: creator.token }),
    );
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({
      purpose: 'deposit_refund',
      amountFen: 45_000,
      status: 'succeeded',
      payoutAccount: { id: account.id, accountLast4: '3445' },
    });
    await expectBooksBalance();
  });

  it('returns the money to the deposit when its payout fails', async () => {
    const creator = await t.account(['creator']);
    await ok(lock(creator.token, 50_000), 201);
    const failing = await payoutAccount(creator.token, '6222020200110000');
    await ok(
      t.request({
        method: 'POST',
        url: '/api/creator/finance/deposit/withdrawal',
        token: creator.token,
        payload: { payoutAccountId: failing.id },
      }),
    );
    t.clock.advance(7 * DAY + MINUTE);
    await t.app.platform.jobs.runNow('ledger.deposit-reviews');
    await t.app.platform.outbox.drain();
    expect(await depositOf(creator.token)).toMatchObject({ status: 'open', balanceFen: 50_000 });
    const [payout] = await t.app.platform.db.select().from(payouts).where(eq(payouts.ownerId, creator.id));
    expect(payout).toMatchObject({
      status: 'failed',
      failureReason: 'account_rejected_by_bank',
      amountFen: 50_000,
    });
    await expectBooksBalance();
  });

  it('suspends sharing when a month’s higher requirement leaves the deposit short, and restores it on top-up', async () => {
    const creator = await t.account(['creator']);
    const steady = await t.account(['creator']);
    await ok(lock(creator.token, 50_000), 201);
    await ok(lock(steady.token, 50_000), 201);
    expect((await depositOf(creator.token)).sharingPermission).toBe('granted');
    // 6,000 CNY sold this month: next month's requirement is 500 + 100 CNY.
    await bookGmv(creator.id, 600_000, t.clock.now());

    toNextMonth();
    const ran = await t.app.platform.jobs.runNow('ledger.deposit-requirements');
    expect(ran['ledger.deposit-requirements']).toBeGreaterThanOrEqual(2);
    expect(await depositOf(creator.token)).toMatchObject({
      requiredFen: 60_000,
      shortfallFen: 10_000,
      requirement: { lastMonthGmvFen: 600_000, variableFen: 10_000 },
      sharingPermission: 'suspended',
    });
    expect(await depositOf(steady.token)).toMatchObject({
      requiredFen: 50_000,
      sharingPermission: 'granted',
    });
    // Run again: nothing left to re-evaluate this month.
    await t.app.platform.jobs.runNow('ledger.deposit-requirements');
    expect((await depositOf(creator.token)).sharingPermission).toBe('suspended');

    await ok(lock(creator.token, 10_000), 201);
    expect(await depositOf(creator.token)).toMatchObject({ covered: true, sharingPermission: 'granted' });
    await expectBooksBalance();
  });
});

describe('shop category deposits', () => {
  it('lets an operator set a category’s deposit, the shop lock and withdraw it, and deducts penalties and forfeitures', async () => {
    const w = await sellingWorld(t, { categorySlug: unique('dep-shop-') });
    const { operator, merchant, shop } = w;
    const category = w.category;
    const other = await t.app.services.catalog.ensureCategory(t.app.platform.db, {
      slug: unique('dep-shop-b-'),
      nameZh: '珠宝',
      nameEn: 'Jewellery',
    });
    const setRequirement = (categoryId: string, requiredFen: unknown) =>
      t.request({
        method: 'PUT',
        url: `/api/operator/categories/${categoryId}/deposit-requirement`,
        token: operator.token,
        payload: { requiredFen },
      });
    expect((await setRequirement(category.id, -1)).statusCode).toBe(400);
    expect((await setRequirement('cat_00000000000000000000000000', 1000)).statusCode).toBe(404);
    expect((await setRequirement(category.id, 200_000)).statusCode).toBe(200);
    expect((await setRequirement(other.id, 30_000)).statusCode).toBe(200);

    const depositsOf = async () =>
      (
        await ok(
          t.request({ method: 'GET', url: `/api/shops/${shop.id}/finance/deposits`, token: merchant.token }),
        )
      ).items as { categoryId: string; balanceFen: number; covered: boolean; status: string }[];
    const mine = async (categoryId: string) => (await depositsOf()).find((d) => d.categoryId === categoryId)!;
    expect(await mine(category.id)).toMatchObject({ requiredFen: 200_000, balanceFen: 0, covered: false });

    const lockShop = (token: string, categoryId: string, amountFen: number) =>
      t.request({
        method: 'POST',
        url: `/api/shops/${shop.id}/finance/deposits/${categoryId}/lock`,
        token,
        headers: { 'idempotency-key': unique('sdep-') },
        payload: { amountFen },
      });
    const clerk = await t.account(['merchant'], 'clerk');
    await ok(
      t.request({
        method: 'PUT',
        url: `/api/shops/${shop.id}/staff`,
        token: merchant.token,
        payload: { login: clerk.login, permissions: ['finance.read'] },
      }),
    );
    const refused = await lockShop(clerk.token, category.id, 200_000);
    expect(refused.statusCode).toBe(403);

    const locked = await ok(lockShop(merchant.token, category.id, 200_000), 201);
    expect(locked.deposit).toMatchObject({ balanceFen: 200_000, covered: true });

    const fine = await t.request({
      method: 'POST',
      url: `/api/operator/shops/${shop.id}/deposits/${category.id}/penalties`,
      token: operator.token,
      headers: { 'idempotency-key': unique('spen-') },
      payload: { amountFen: 50_000, reason: '发货超时' },
    });
    expect(fine.statusCode, fine.body).toBe(201);
    expect(await mine(category.id)).toMatchObject({ balanceFen: 150_000, covered: false });

    const account = await payoutAccount(
      merchant.token,
      '6217000010001234567',
      `/api/shops/${shop.id}/finance/payout-accounts`,
    );
    const asked = await ok(
      t.request({
        method: 'POST',
        url: `/api/shops/${shop.id}/finance/deposits/${category.id}/withdrawal`,
        token: merchant.token,
        payload: { payoutAccountId: account.id },
      }),
    );
    expect(asked.status).toBe('reviewing');
    t.clock.advance(7 * DAY + MINUTE);
    await t.app.platform.jobs.runNow('ledger.deposit-reviews');
    await t.app.platform.outbox.drain();
    expect(await mine(category.id)).toMatchObject({ status: 'open', balanceFen: 0 });
    const paid = await ok(
      t.request({ method: 'GET', url: `/api/shops/${shop.id}/finance/withdrawals`, token: merchant.token }),
    );
    expect(paid.items[0]).toMatchObject({
      purpose: 'deposit_refund',
      amountFen: 150_000,
      status: 'succeeded',
    });

    await ok(lockShop(merchant.token, other.id, 30_000), 201);
    const forfeited = await ok(
      t.request({
        method: 'POST',
        url: `/api/operator/shops/${shop.id}/deposits/${other.id}/forfeit`,
        token: operator.token,
        payload: { reason: '售假' },
      }),
    );
    expect(forfeited).toMatchObject({
      forfeiture: { amountFen: 30_000, reason: 'forfeited' },
      deposit: { status: 'forfeited', balanceFen: 0 },
    });
    const again = await lockShop(merchant.token, other.id, 30_000);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('DEPOSIT_FORFEITED');
    await expectBooksBalance();
  });
});
