import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flashSaleBuckets } from '../src/modules/flashsales/schema.js';
import { MINUTE } from '../src/platform/clock.js';
import { rowsOf } from '../src/platform/db.js';
import { manyBuyers, slotLedger } from './flash-helpers.js';
import { sellingWorld, startTestApp, type TestContext, unique } from './harness.js';

/**
 * A flash sale under a crowd, through the HTTP API (`app.http.inject`, all requests in flight
 * at once) on whichever database the suite runs on: 2,000 buyers, 5 attempts each, for 1,000
 * units with a limit of 1.
 */
let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const BUYERS = 2_000;
const ATTEMPTS_EACH = 5;
const UNITS = 1_000;
const SKU_STOCK = 1_500;

describe('flash sale under a crowd (stress)', () => {
  it('sells exactly 1,000 units to 10,000 concurrent attempts by 2,000 buyers, none over the limit, no bucket below zero', async () => {
    const w = await sellingWorld(t, { stock: SKU_STOCK, priceFen: 19_900 });
    const buyers = await manyBuyers(t, BUYERS);
    const now = t.clock.now().getTime();
    const created = await t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${w.room.id}/flash-sales`,
      token: w.creator.token,
      payload: {
        cartItemId: w.item.id,
        skuId: w.sku.id,
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 30 * MINUTE).toISOString(),
        priceFen: 9_900,
        quantity: UNITS,
        perBuyerLimit: 1,
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const slot = created.json();

    // Every attempt has its own Idempotency-Key (five separate taps), in a shuffled order.
    const attempts = buyers.flatMap((b) =>
      Array.from({ length: ATTEMPTS_EACH }, () => ({ buyer: b, key: unique('tap-') })),
    );
    for (let i = attempts.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [attempts[i], attempts[j]] = [attempts[j]!, attempts[i]!];
    }

    // Meanwhile, the buckets are watched: none may ever be seen below zero.
    let lowest = Number.POSITIVE_INFINITY;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const [row] = rowsOf<{ low: number }>(
          await t.app.platform.db.execute(
            sql`select min(remaining)::int as low from ${flashSaleBuckets} where slot_id = ${slot.id}`,
          ),
        );
        lowest = Math.min(lowest, Number(row?.low ?? 0));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const started = performance.now();
    const answers = await Promise.all(
      attempts.map((a) =>
        t.request({
          method: 'POST',
          url: `/api/flash-sales/${slot.id}/reservations`,
          token: a.buyer.token,
          payload: { quantity: 1 },
          headers: { 'idempotency-key': a.key },
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    watching = false;
    await watcher;
    await t.app.services.flashSales.settle();

    const byCode = new Map<string, number>();
    const winners = new Map<string, number>();
    answers.forEach((res, i) => {
      const code = res.statusCode === 201 ? 'reserved' : res.json().code;
      byCode.set(code, (byCode.get(code) ?? 0) + 1);
      if (res.statusCode === 201) {
        const id = attempts[i]!.buyer.id;
        winners.set(id, (winners.get(id) ?? 0) + 1);
      } else {
        expect(res.statusCode).toBe(409);
      }
    });
    console.log(
      `stress (${t.app.database.kind}): ${attempts.length} attempts in ${seconds.toFixed(1)} s`,
      Object.fromEntries(byCode),
    );
    expect(byCode.get('reserved')).toBe(UNITS);
    expect((byCode.get('FLASH_SALE_SOLD_OUT') ?? 0) + (byCode.get('FLASH_SALE_LIMIT_REACHED') ?? 0)).toBe(
      attempts.length - UNITS,
    );
    expect(Math.max(...winners.values())).toBe(1);
    expect(lowest).toBeGreaterThanOrEqual(0);

    const ledger = await slotLedger(t.app.platform.db, slot.id);
    expect(ledger.held).toBe(UNITS);
    expect(ledger.heldByBuyer.size).toBe(UNITS);
    expect(Math.max(...ledger.heldByBuyer.values())).toBe(1);
    for (const [buyer, units] of ledger.countedByBuyer)
      expect(units).toBe(ledger.heldByBuyer.get(buyer) ?? 0);
    expect(Math.min(...ledger.buckets)).toBeGreaterThanOrEqual(0);
    expect(ledger.remaining).toBe(0);
    // Every unit is somewhere: the SKU, a bucket, or a reservation.
    expect(ledger.skuStock + ledger.remaining + ledger.held).toBe(SKU_STOCK);
    expect(ledger.slot.soldOutAt).not.toBeNull();
  }, 180_000);
});
