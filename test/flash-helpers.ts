import { and, eq, inArray, sql } from 'drizzle-orm';
import { skus } from '../src/modules/catalog/schema.js';
import {
  flashSaleBuckets,
  flashSaleBuyers,
  flashSaleReservations,
  flashSaleSlots,
} from '../src/modules/flashsales/schema.js';
import type { Db } from '../src/platform/db.js';
import { type TestContext, unique } from './harness.js';

/** `n` buyer accounts with sessions, created straight through the identity service (no KDF each). */
export async function manyBuyers(t: TestContext, n: number): Promise<{ id: string; token: string }[]> {
  const out: { id: string; token: string }[] = [];
  const tag = unique('fsb');
  for (let i = 0; i < n; i += 100) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, async (_, j) => {
        const acc = await t.app.services.identity.createAccount({
          login: `${tag}-${i + j}`,
          passwordHash: 'test-only',
          displayName: `买家${i + j}`,
          roles: ['buyer'],
        });
        const { token } = await t.app.services.identity.issueSession(acc.id);
        return { id: acc.id, token };
      }),
    );
    out.push(...chunk);
  }
  return out;
}

/** What a slot's rows say: units left per bucket, held per buyer, reserved, and the SKU's stock. */
export async function slotLedger(db: Db, slotId: string) {
  const [slot] = await db.select().from(flashSaleSlots).where(eq(flashSaleSlots.id, slotId));
  const buckets = await db.select().from(flashSaleBuckets).where(eq(flashSaleBuckets.slotId, slotId));
  const buyers = await db.select().from(flashSaleBuyers).where(eq(flashSaleBuyers.slotId, slotId));
  const held = await db
    .select({
      buyer: flashSaleReservations.buyerAccountId,
      units: sql<number>`sum(${flashSaleReservations.quantity})::int`,
    })
    .from(flashSaleReservations)
    .where(
      and(
        eq(flashSaleReservations.slotId, slotId),
        inArray(flashSaleReservations.status, ['reserved', 'ordered']),
      ),
    )
    .groupBy(flashSaleReservations.buyerAccountId);
  const [sku] = await db.select().from(skus).where(eq(skus.id, slot!.skuId));
  return {
    slot: slot!,
    buckets: buckets.map((b) => b.remaining),
    remaining: buckets.reduce((s, b) => s + b.remaining, 0),
    heldByBuyer: new Map(held.map((h) => [h.buyer, Number(h.units)])),
    held: held.reduce((s, h) => s + Number(h.units), 0),
    countedByBuyer: new Map(buyers.map((b) => [b.buyerAccountId, b.units])),
    skuStock: sku!.stock,
  };
}
