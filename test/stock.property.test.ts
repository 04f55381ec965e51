import { and, eq, inArray, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skus } from '../src/modules/catalog/schema.js';
import { orderLines, orders } from '../src/modules/orders/schema.js';
import { MINUTE } from '../src/platform/clock.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

type Op =
  | { kind: 'checkout'; buyer: number; qty: number }
  | { kind: 'pay'; pick: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'timeout' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('checkout' as const),
    buyer: fc.nat(3),
    qty: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({ kind: fc.constant('pay' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.constant({ kind: 'timeout' as const }),
);

describe('stock invariant (property)', () => {
  it('stock never goes negative and stock + units held by live orders always equals the initial stock', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(op, { minLength: 1, maxLength: 12 }),
        async (initial, ops) => {
          const w = await sellingWorld(t, { stock: initial });
          const buyers = await Promise.all([0, 1, 2, 3].map(() => t.account(['buyer'])));
          const placed: { id: string; token: string }[] = [];
          // Operations run in concurrent pairs, so races between them are part of the property.
          for (let i = 0; i < ops.length; i += 2) {
            await Promise.all(
              ops.slice(i, i + 2).map(async (o) => {
                if (o.kind === 'checkout') {
                  const b = buyers[o.buyer]!;
                  const res = await checkout(t, b.token, {
                    venue: { type: 'live_room', id: w.room.id },
                    items: [{ skuId: w.sku.id, quantity: o.qty }],
                    recipient: recipient(),
                  });
                  if (res.statusCode === 201) placed.push({ id: res.json().id, token: b.token });
                  else expect(res.json().code).toBe('INSUFFICIENT_STOCK');
                } else if (o.kind === 'pay' && placed.length) {
                  const p = placed[o.pick % placed.length]!;
                  await pay(t, p.token, p.id);
                } else if (o.kind === 'cancel' && placed.length) {
                  const p = placed[o.pick % placed.length]!;
                  await t.request({ method: 'POST', url: `/api/orders/${p.id}/cancel`, token: p.token });
                } else if (o.kind === 'timeout') {
                  t.clock.advance(t.app.platform.config.PAYMENT_TIMEOUT_MINUTES * MINUTE + 1);
                  await t.app.platform.jobs.runNow('orders.cancel-unpaid');
                }
              }),
            );
            const [sku] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
            const [held] = await t.app.platform.db
              .select({ units: sql<number>`coalesce(sum(${orderLines.quantity}), 0)::int` })
              .from(orderLines)
              .innerJoin(orders, eq(orders.id, orderLines.orderId))
              .where(
                and(eq(orderLines.skuId, w.sku.id), inArray(orders.status, ['pending_payment', 'paid'])),
              );
            expect(sku!.stock).toBeGreaterThanOrEqual(0);
            expect(sku!.stock + held!.units).toBe(initial);
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});
