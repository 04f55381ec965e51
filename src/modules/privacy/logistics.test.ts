import { randomInt } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkout,
  pay,
  recipient,
  sellingWorld,
  startTestApp,
  type TestContext,
} from '../../../test/harness.js';
import { DAY, HOUR } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import { createHttpServer, type HttpServer } from '../../platform/http.js';
import { newId } from '../../platform/ids.js';
import { ephemeralMasterKey } from '../../platform/keys.js';
import { signPayload } from '../../platform/signing.js';
import { inTransaction } from '../../platform/tx.js';
import { SIGNATURE_HEADER } from '../../platform/webhooks.js';
import { orders } from '../orders/schema.js';
import { type PrivacyAuditEvent, privacyLogisticsRoutes, TELEPHONY_WEBHOOK_URL } from './logistics-routes.js';
import { recipients, virtualNumberBindings, waybills } from './schema.js';
import { parseNumberPool, VirtualNumbers } from './virtual-numbers.js';
import { type IssueWaybillInput, Waybills } from './waybills.js';

const NUMBER = /^17[01]\d{8}-\d{4}$/;
const PLAIN = { name: '张三丰', phone: '13812345678', detail: '文三路 90 号 3 幢 501 室' };

let t: TestContext;
let world: Awaited<ReturnType<typeof sellingWorld>>;
let numbers: VirtualNumbers;
let wb: Waybills;
const dialled: { bindingId: string; phone: string }[] = [];

type OrderRow = typeof orders.$inferSelect;

/** A paid order made through the HTTP API, read back with its recipient reference and masks. */
async function paidOrder(w = world): Promise<OrderRow> {
  const buyer = await t.account(['buyer']);
  const created = await checkout(t, buyer.token, {
    venue: { type: 'live_room', id: w.room.id },
    items: [{ skuId: w.sku.id, quantity: 1 }],
    recipient: recipient(),
  });
  expect(created.statusCode).toBe(201);
  expect((await pay(t, buyer.token, created.json().id)).statusCode).toBe(200);
  const [row] = await t.app.platform.db.select().from(orders).where(eq(orders.id, created.json().id));
  expect(row!.status).toBe('paid');
  return row!;
}

const issueInput = (o: OrderRow, over: Partial<IssueWaybillInput> = {}): IssueWaybillInput => ({
  orderId: o.id,
  shopId: o.shopId,
  carrier: 'SF',
  trackingNo: `SF${randomInt(1e9, 1e10)}${randomInt(1e3, 1e4)}`,
  recipientId: o.recipientId,
  masks: { name: o.recipientNameMask, phone: o.recipientPhoneMask, address: o.recipientAddressMask },
  afterSalesEndsAt: new Date(t.clock.now().getTime() + 7 * DAY),
  ...over,
});

const issue = (input: IssueWaybillInput, w = wb) =>
  inTransaction(t.app.platform.db, (tx) => w.issue(tx, input));

/** Main numbers no other test uses (171 range, clear of the default pool), so reruns on one database never collide. */
function privateMains(count: number): { pool: string; mains: string[] } {
  const first = 17_100_001_000 + randomInt(0, 98_000_000);
  const last = first + count - 1;
  return {
    pool: count === 1 ? String(first) : `${first}-${last}`,
    mains: parseNumberPool(`${first}-${last}`),
  };
}

function withPool(pool: string): Platform {
  return { ...t.app.platform, config: { ...t.app.platform.config, VIRTUAL_NUMBER_POOL: pool } };
}

beforeAll(async () => {
  t = await startTestApp();
  world = await sellingWorld(t);
  numbers = new VirtualNumbers(t.app.platform, t.app.services.vault);
  numbers.dialer = async (call) => void dialled.push(call);
  wb = new Waybills(t.app.platform, t.app.services.vault, numbers, ephemeralMasterKey());
});
afterAll(() => t.close());

describe('virtual numbers', () => {
  it('parses the pool setting', () => {
    expect(parseNumberPool('17000000000-17000000002, 17100000005')).toEqual([
      '17000000000',
      '17000000001',
      '17000000002',
      '17100000005',
    ]);
    expect(() => parseNumberPool('17000000009-17000000001')).toThrow(/ends before/);
    expect(() => parseNumberPool('13800000000')).toThrow(/170\/171/);
  });

  it('binds one main-ext number per order and returns it again for the same order', async () => {
    const o = await paidOrder();
    const expiresAt = new Date(t.clock.now().getTime() + 7 * DAY);
    const input = { orderId: o.id, shopId: o.shopId, recipientId: o.recipientId, expiresAt };
    const first = await numbers.bindForOrder(t.app.platform.db, input);
    expect(first.number).toMatch(NUMBER);
    expect(first.number).toBe(`${first.mainNumber}-${first.extension}`);
    expect(first.expiresAt).toEqual(expiresAt);
    const again = await numbers.bindForOrder(t.app.platform.db, input);
    expect(again.number).toBe(first.number);
    // A later after-sales deadline moves the expiry out; the number stays.
    const later = new Date(expiresAt.getTime() + DAY);
    const moved = await numbers.bindForOrder(t.app.platform.db, { ...input, expiresAt: later });
    expect(moved).toMatchObject({ number: first.number, expiresAt: later });
    const earlier = await numbers.bindForOrder(t.app.platform.db, input);
    expect(earlier).toMatchObject({ number: first.number, expiresAt: later });
    await expect(
      numbers.bindForOrder(t.app.platform.db, { ...input, expiresAt: t.clock.now() }),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('allocates distinct numbers under concurrency, and one binding for concurrent binds of one order', async () => {
    const { pool, mains } = privateMains(2);
    const small = new VirtualNumbers(withPool(pool), t.app.services.vault);
    const db = t.app.platform.db;
    const expiresAt = new Date(t.clock.now().getTime() + DAY);
    const orderIds = Array.from({ length: 100 }, () => newId('order'));
    const bound = await Promise.all(
      orderIds.map((orderId) =>
        small.bindForOrder(db, { orderId, shopId: world.shop.id, recipientId: 'rcp_concurrency', expiresAt }),
      ),
    );
    for (const b of bound) {
      expect(b.number).toMatch(NUMBER);
      expect(mains).toContain(b.mainNumber);
    }
    expect(new Set(bound.map((b) => b.number)).size).toBe(100);
    const active = await db
      .select()
      .from(virtualNumberBindings)
      .where(
        and(
          sql`${virtualNumberBindings.mainNumber} in (${mains[0]!}, ${mains[1]!})`,
          isNull(virtualNumberBindings.releasedAt),
        ),
      );
    expect(active).toHaveLength(100);

    const orderId = newId('order');
    const same = await Promise.all(
      Array.from({ length: 10 }, () =>
        small.bindForOrder(db, { orderId, shopId: world.shop.id, recipientId: 'rcp_concurrency', expiresAt }),
      ),
    );
    expect(new Set(same.map((b) => b.number)).size).toBe(1);
    await db
      .update(virtualNumberBindings)
      .set({ releasedAt: t.clock.now() })
      .where(sql`${virtualNumberBindings.mainNumber} in (${mains[0]!}, ${mains[1]!})`);
  });

  it('binds a batch set-based: new numbers at once, the same ones again, expiries moved out together', async () => {
    const db = t.app.platform.db;
    const day = (n: number) => new Date(t.clock.now().getTime() + n * DAY);
    const inputs = (expiresAt: Date, ids: string[]) =>
      ids.map((orderId) => ({ orderId, shopId: world.shop.id, recipientId: 'rcp_batch', expiresAt }));
    const ids = Array.from({ length: 12 }, () => newId('order'));
    const first = await inTransaction(db, (tx) => numbers.bindForOrders(tx, inputs(day(3), ids)));
    expect([...first.keys()].sort()).toEqual([...ids].sort());
    expect(new Set([...first.values()].map((b) => b.number)).size).toBe(12);
    for (const b of first.values())
      expect(b).toMatchObject({ number: expect.stringMatching(NUMBER), expiresAt: day(3) });
    const active = () =>
      db
        .select()
        .from(virtualNumberBindings)
        .where(
          and(sql`${virtualNumberBindings.orderId} in ${ids}`, isNull(virtualNumberBindings.releasedAt)),
        );
    expect(await active()).toHaveLength(12);

    // Again, and with an earlier expiry: nothing moves. With a later one: every expiry moves, no number does.
    for (const expiresAt of [day(3), day(2)]) {
      const again = await numbers.bindForOrders(db, inputs(expiresAt, ids));
      for (const id of ids) expect(again.get(id)).toEqual(first.get(id));
    }
    const later = await numbers.bindForOrders(db, inputs(day(5), ids));
    for (const id of ids) expect(later.get(id)).toEqual({ ...first.get(id)!, expiresAt: day(5) });
    expect((await active()).map((r) => r.expiresAt)).toEqual(Array(12).fill(day(5)));

    // One order's binding has expired (not yet swept): it is rebound afresh, the others stay.
    const [gone, ...kept] = ids as [string, ...string[]];
    await db
      .update(virtualNumberBindings)
      .set({ expiresAt: t.clock.now() })
      .where(and(eq(virtualNumberBindings.orderId, gone), isNull(virtualNumberBindings.releasedAt)));
    const mixed = await numbers.bindForOrders(db, inputs(day(5), [...ids, newId('order')]));
    expect(mixed.size).toBe(13);
    expect(mixed.get(gone)!.bindingId).not.toBe(first.get(gone)!.bindingId);
    for (const id of kept) expect(mixed.get(id)).toEqual(later.get(id));
    expect(await active()).toHaveLength(12);
    await expect(numbers.bindForOrders(db, inputs(t.clock.now(), [newId('order')]))).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
    await db
      .update(virtualNumberBindings)
      .set({ releasedAt: t.clock.now() })
      .where(eq(virtualNumberBindings.recipientId, 'rcp_batch'));
  });

  it('settles batch binds that collide (concurrent batches, a nearly full pool) one binding per order', async () => {
    const { pool, mains } = privateMains(1);
    const main = mains[0]!;
    const db = t.app.platform.db;
    const far = new Date(t.clock.now().getTime() + 30 * DAY);
    // Every extension but 0000–0079 is taken, so random picks mostly collide.
    await db.execute(sql`
      insert into virtual_number_bindings
        (id, main_number, extension, order_id, shop_id, recipient_id, created_at, expires_at)
      select 'vn_fill_' || ${main} || '_' || g, ${main}, lpad(g::text, 4, '0'), 'ord_fill_' || ${main} || '_' || g,
             'shp_fill', 'rcp_fill', ${t.clock.now().toISOString()}::timestamptz, ${far.toISOString()}::timestamptz
      from generate_series(80, 9999) as g`);
    try {
      const dense = new VirtualNumbers(withPool(pool), t.app.services.vault);
      const ids = Array.from({ length: 30 }, () => newId('order'));
      const input = (orderId: string) => ({
        orderId,
        shopId: world.shop.id,
        recipientId: 'rcp_fill',
        expiresAt: far,
      });
      // Two batches overlapping on 10 orders, at once.
      const [a, b] = await Promise.all([
        inTransaction(db, (tx) => dense.bindForOrders(tx, ids.slice(0, 20).map(input))),
        inTransaction(db, (tx) => dense.bindForOrders(tx, ids.slice(10).map(input))),
      ]);
      for (const id of ids.slice(10, 20)) expect(a.get(id)).toEqual(b.get(id));
      const all = new Map([...a, ...b]);
      expect(all.size).toBe(30);
      expect(new Set([...all.values()].map((x) => x.number)).size).toBe(30);
      for (const x of all.values()) expect(Number(x.extension)).toBeLessThan(80);
      const active = await db
        .select()
        .from(virtualNumberBindings)
        .where(
          and(sql`${virtualNumberBindings.orderId} in ${ids}`, isNull(virtualNumberBindings.releasedAt)),
        );
      expect(active).toHaveLength(30);
    } finally {
      await db
        .update(virtualNumberBindings)
        .set({ releasedAt: t.clock.now() })
        .where(eq(virtualNumberBindings.mainNumber, main));
    }
  });

  it('connects a live binding without revealing the number, refuses an expired one, and rebinds afresh', async () => {
    const o = await paidOrder();
    const input = {
      orderId: o.id,
      shopId: o.shopId,
      recipientId: o.recipientId,
      expiresAt: new Date(t.clock.now().getTime() + DAY),
    };
    const old = await numbers.bindForOrder(t.app.platform.db, input);
    const call = { virtualNumber: old.mainNumber, extension: old.extension, callerNumber: '13900001111' };

    dialled.length = 0;
    const ok = await numbers.connectCall(call);
    expect(ok).toMatchObject({ connected: true, orderId: o.id });
    expect(dialled).toEqual([{ bindingId: old.bindingId, phone: PLAIN.phone }]);
    expect(JSON.stringify(ok)).not.toContain(PLAIN.phone);
    expect(ok.connected && ok.audit).toMatchObject({
      operation: 'call',
      shopId: o.shopId,
      orderIds: [o.id],
      details: { virtualNumber: old.number, callerMask: '139****1111' },
    });

    // Expired at exactly expires_at, before any sweep has released it.
    t.clock.set(input.expiresAt);
    dialled.length = 0;
    expect(await numbers.connectCall(call)).toEqual({ connected: false, reason: 'expired' });
    expect(dialled).toEqual([]);

    const fresh = await numbers.bindForOrder(t.app.platform.db, {
      ...input,
      expiresAt: new Date(t.clock.now().getTime() + DAY),
    });
    expect(fresh.bindingId).not.toBe(old.bindingId);
    expect(
      await numbers.connectCall({ virtualNumber: fresh.mainNumber, extension: fresh.extension }),
    ).toMatchObject({
      connected: true,
      orderId: o.id,
    });
    // The old binding was released by the rebind and still reads as expired.
    expect(await numbers.connectCall(call)).toEqual({ connected: false, reason: 'expired' });
    expect(await numbers.connectCall({ virtualNumber: '17199999999', extension: '0000' })).toEqual({
      connected: false,
      reason: 'unknown',
    });
  });

  it('releases expired bindings in the sweep, so their extension can be bound again', async () => {
    const o = await paidOrder();
    const b = await numbers.bindForOrder(t.app.platform.db, {
      orderId: o.id,
      shopId: o.shopId,
      recipientId: o.recipientId,
      expiresAt: new Date(t.clock.now().getTime() + HOUR),
    });
    const reuse = () =>
      t.app.platform.db.insert(virtualNumberBindings).values({
        id: newId('virtualNumber'),
        mainNumber: b.mainNumber,
        extension: b.extension,
        orderId: newId('order'),
        shopId: o.shopId,
        recipientId: o.recipientId,
        createdAt: t.clock.now(),
        expiresAt: new Date(t.clock.now().getTime() + HOUR),
      });
    await expect(reuse()).rejects.toThrow();
    const active = async () =>
      (
        await t.app.platform.db
          .select()
          .from(virtualNumberBindings)
          .where(eq(virtualNumberBindings.id, b.bindingId))
      )[0]!.releasedAt;
    await numbers.releaseExpired();
    expect(await active()).toBeNull();

    t.clock.advance(2 * HOUR);
    expect(await numbers.releaseExpired()).toBeGreaterThanOrEqual(1);
    expect(await active()).toEqual(t.clock.now());
    expect(await numbers.connectCall({ virtualNumber: b.mainNumber, extension: b.extension })).toEqual({
      connected: false,
      reason: 'expired',
    });
    await reuse();
    expect(await numbers.releaseExpired()).toBe(0);
    await t.app.platform.db
      .update(virtualNumberBindings)
      .set({ releasedAt: t.clock.now() })
      .where(
        and(eq(virtualNumberBindings.mainNumber, b.mainNumber), isNull(virtualNumberBindings.releasedAt)),
      );
  });

  it('shares the last free extensions of a dense pool between concurrent binds', async () => {
    const { pool, mains } = privateMains(1);
    const main = mains[0]!;
    const db = t.app.platform.db;
    const far = new Date(t.clock.now().getTime() + 30 * DAY).toISOString();
    // Every extension but 0000–0059 is taken; 40 binds race for the 60 left.
    await db.execute(sql`
      insert into virtual_number_bindings
        (id, main_number, extension, order_id, shop_id, recipient_id, created_at, expires_at)
      select 'vn_fill_' || ${main} || '_' || g, ${main}, lpad(g::text, 4, '0'), 'ord_fill_' || ${main} || '_' || g,
             'shp_fill', 'rcp_fill', ${t.clock.now().toISOString()}::timestamptz, ${far}::timestamptz
      from generate_series(60, 9999) as g`);
    try {
      const dense = new VirtualNumbers(withPool(pool), t.app.services.vault);
      const bound = await Promise.all(
        Array.from({ length: 40 }, () =>
          dense.bindForOrder(db, {
            orderId: newId('order'),
            shopId: world.shop.id,
            recipientId: 'rcp_fill',
            expiresAt: new Date(far),
          }),
        ),
      );
      expect(new Set(bound.map((b) => b.number)).size).toBe(40);
      for (const b of bound) expect(Number(b.extension)).toBeLessThan(60);
    } finally {
      await db
        .update(virtualNumberBindings)
        .set({ releasedAt: t.clock.now() })
        .where(eq(virtualNumberBindings.mainNumber, main));
    }
  });

  it('finds the last free extension of a dense pool, then reports the pool exhausted', async () => {
    const { pool, mains } = privateMains(1);
    const main = mains[0]!;
    const db = t.app.platform.db;
    const far = new Date(t.clock.now().getTime() + 30 * DAY).toISOString();
    const now = t.clock.now().toISOString();
    await db.execute(sql`
      insert into virtual_number_bindings
        (id, main_number, extension, order_id, shop_id, recipient_id, created_at, expires_at)
      select 'vn_fill_' || ${main} || '_' || g, ${main}, lpad(g::text, 4, '0'), 'ord_fill_' || ${main} || '_' || g,
             'shp_fill', 'rcp_fill', ${now}::timestamptz, ${far}::timestamptz
      from generate_series(0, 9999) as g where g <> 4321`);
    try {
      const tiny = new VirtualNumbers(withPool(pool), t.app.services.vault);
      const input = () => ({
        orderId: newId('order'),
        shopId: world.shop.id,
        recipientId: 'rcp_fill',
        expiresAt: new Date(far),
      });
      const last = await tiny.bindForOrder(db, input());
      expect(last.number).toBe(`${main}-4321`);
      const err = await tiny.bindForOrder(db, input()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_STATE', status: 409 });
      expect((err as Error).message).toMatch(/virtual number pool is exhausted/);
    } finally {
      await db
        .update(virtualNumberBindings)
        .set({ releasedAt: t.clock.now() })
        .where(eq(virtualNumberBindings.mainNumber, main));
    }
  });
});

describe('privacy waybills', () => {
  let sf: { id: string; token: string };
  let yto: { id: string; token: string };

  beforeAll(async () => {
    sf = await t.account(['carrier'], 'sf');
    yto = await t.account(['carrier'], 'yto');
    await wb.registerCarrierAccount(sf.id, 'SF');
    await wb.registerCarrierAccount(yto.id, 'YTO');
  });

  it('prints masks and the virtual number only; the recipient travels encrypted and signed', async () => {
    const o = await paidOrder();
    const issued = await issue(issueInput(o));
    expect(issued.label).toEqual({
      trackingNo: issued.trackingNo,
      carrier: 'SF',
      recipient: {
        nameMask: '张**',
        phoneMask: '138****5678',
        virtualNumber: expect.stringMatching(NUMBER),
        addressMask: '浙江省杭州市西湖区****',
      },
      masked: true,
    });
    expect(issued.printPayload).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(issued.signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [row] = await t.app.platform.db.select().from(waybills).where(eq(waybills.id, issued.id));
    for (const text of [JSON.stringify(issued.label), JSON.stringify(row)]) {
      for (const plain of Object.values(PLAIN)) expect(text).not.toContain(plain);
      expect(text).not.toContain('文三路');
    }
    // The virtual number on the label connects to the buyer until the after-sales window closes.
    const [main, ext] = issued.label.recipient.virtualNumber.split('-') as [string, string];
    expect(await numbers.connectCall({ virtualNumber: main, extension: ext })).toMatchObject({
      connected: true,
      orderId: o.id,
    });

    // Issuing again for the same order and tracking number is a reprint; another order may not reuse it.
    const reprint = await issue(issueInput(o, { trackingNo: issued.trackingNo }));
    expect(reprint).toMatchObject({
      id: issued.id,
      printPayload: issued.printPayload,
      signature: issued.signature,
    });
    const other = await paidOrder();
    await expect(issue(issueInput(other, { trackingNo: issued.trackingNo }))).rejects.toMatchObject({
      code: 'INVALID_STATE',
    });
  });

  it('refuses plain values where masks belong', async () => {
    const o = await paidOrder();
    await expect(
      issue(issueInput(o, { masks: { name: PLAIN.name, phone: PLAIN.phone, address: PLAIN.detail } })),
    ).rejects.toThrow(/masks/);
    await expect(
      issue(
        issueInput(o, {
          masks: { name: '张**', phone: '138****5678', address: `浙江省杭州市${PLAIN.detail}` },
        }),
      ),
    ).rejects.toThrow(/masks/);
  });

  it('gives the address to a registered account of the right carrier only, with the issued payload and signature', async () => {
    const o = await paidOrder();
    const issued = await issue(issueInput(o));
    const presented = {
      trackingNo: issued.trackingNo,
      printPayload: issued.printPayload,
      signature: issued.signature,
    };
    const opened = await wb.redeem(sf.id, presented);
    expect(opened.trackingNo).toBe(issued.trackingNo);
    expect(opened.recipient).toEqual({
      name: PLAIN.name,
      phone: PLAIN.phone,
      province: '浙江省',
      city: '杭州市',
      district: '西湖区',
      detail: PLAIN.detail,
    });
    expect(opened.audit).toMatchObject({
      operation: 'redeem_waybill',
      shopId: o.shopId,
      orderIds: [o.id],
      details: { waybillId: issued.id, carrier: 'SF', carrierAccountId: sf.id, redeemedCount: 1 },
    });

    // Another carrier's account cannot tell the waybill from a missing one.
    await expect(wb.redeem(yto.id, presented)).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    const stranger = await t.account(['carrier']);
    await expect(wb.redeem(stranger.id, presented)).rejects.toMatchObject({ code: 'FORBIDDEN' });

    const flip = (s: string) => s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    await expect(
      wb.redeem(sf.id, { ...presented, signature: flip(presented.signature) }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(
      wb.redeem(sf.id, { ...presented, printPayload: flip(presented.printPayload) }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // A genuine payload and signature of another waybill do not open this one.
    const second = await issue(issueInput(await paidOrder()));
    await expect(
      wb.redeem(sf.id, { ...presented, printPayload: second.printPayload, signature: second.signature }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Another deployment's keys (a forged platform) sign nothing this one accepts.
    const forger = new Waybills(t.app.platform, t.app.services.vault, numbers, ephemeralMasterKey());
    const forged = await issue(issueInput(await paidOrder()), forger);
    await expect(
      wb.redeem(sf.id, {
        trackingNo: forged.trackingNo,
        printPayload: forged.printPayload,
        signature: forged.signature,
      }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });

    const [row] = await t.app.platform.db.select().from(waybills).where(eq(waybills.id, issued.id));
    expect(row!.redeemedCount).toBe(1);
    expect((await wb.redeem(sf.id, presented)).audit.details.redeemedCount).toBe(2);
  });

  it('refuses to redeem or connect once the data key is shredded, and the purge blanks the payload', async () => {
    const w = await sellingWorld(t);
    const o = await paidOrder(w);
    const issued = await issue(issueInput(o));
    const presented = {
      trackingNo: issued.trackingNo,
      printPayload: issued.printPayload,
      signature: issued.signature,
    };
    expect((await wb.redeem(sf.id, presented)).recipient.name).toBe(PLAIN.name);

    const [r] = await t.app.platform.db.select().from(recipients).where(eq(recipients.id, o.recipientId));
    expect(await t.app.services.vault.shredDataKeys([r!.dataKeyId])).toBe(1);

    const err = await wb.redeem(sf.id, presented).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RECIPIENT_SHREDDED' });
    expect((err as Error).message).toMatch(/retention policy/);
    const [main, ext] = issued.label.recipient.virtualNumber.split('-') as [string, string];
    dialled.length = 0;
    expect(await numbers.connectCall({ virtualNumber: main, extension: ext })).toEqual({
      connected: false,
      reason: 'expired',
    });
    expect(dialled).toEqual([]);

    expect(await wb.purgeShreddedPayloads()).toBeGreaterThanOrEqual(1);
    const [row] = await t.app.platform.db.select().from(waybills).where(eq(waybills.id, issued.id));
    expect(row).toMatchObject({ printPayload: '', signature: '', label: issued.label });
    expect(await wb.redeem(sf.id, presented).catch((e: unknown) => e)).toMatchObject({
      code: 'RECIPIENT_SHREDDED',
    });
    expect(await wb.purgeShreddedPayloads()).toBe(0);
  });
});

describe('logistics routes (on a server of their own until app.ts wires them)', () => {
  let http: HttpServer;
  const audited: { req: boolean; event: PrivacyAuditEvent }[] = [];

  beforeAll(async () => {
    http = await createHttpServer({ logger: t.app.platform.log, auth: t.app.services.identity });
    privacyLogisticsRoutes(http, {
      waybills: wb,
      numbers,
      telephonySecret: t.app.platform.config.TELEPHONY_WEBHOOK_SECRET,
      getAccount: (id) => t.app.services.identity.getAccount(id),
      audit: async (req, event) => void audited.push({ req: req !== null, event }),
    });
    await http.ready();
  });
  afterAll(() => http.close());

  const call = (body: object, secret = t.app.platform.config.TELEPHONY_WEBHOOK_SECRET) => {
    const payload = JSON.stringify(body);
    return http.inject({
      method: 'POST',
      url: TELEPHONY_WEBHOOK_URL,
      payload,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signPayload(secret, payload, Math.floor(Date.now() / 1000)),
      },
    });
  };

  it('registers carrier accounts, redeems over HTTP, and answers the telephony callback', async () => {
    const operator = await t.account(['operator']);
    const carrier = await t.account(['carrier']);
    const register = (accountId: string, token: string, carrierCode = 'JD') =>
      http.inject({
        method: 'PUT',
        url: `/api/admin/carriers/${accountId}`,
        headers: { authorization: `Bearer ${token}` },
        payload: { carrier: carrierCode },
      });
    expect((await register(carrier.id, carrier.token)).statusCode).toBe(403);
    expect((await register(world.merchant.id, operator.token)).json().code).toBe('INVALID_STATE');
    expect((await register(carrier.id, operator.token, 'NOPE')).statusCode).toBe(400);
    const ok = await register(carrier.id, operator.token);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ accountId: carrier.id, carrier: 'JD' });

    const o = await paidOrder();
    const issued = await issue(issueInput(o, { carrier: 'JD', trackingNo: `JD${randomInt(1e9, 1e10)}` }));
    const redeem = (token: string, body: object) =>
      http.inject({
        method: 'POST',
        url: '/api/carrier/waybills/redeem',
        headers: { authorization: `Bearer ${token}` },
        payload: body,
      });
    const body = {
      trackingNo: issued.trackingNo,
      printPayload: issued.printPayload,
      signature: issued.signature,
    };
    expect((await redeem(world.merchant.token, body)).statusCode).toBe(403);
    expect((await redeem(carrier.token, { ...body, signature: 'short' })).statusCode).toBe(400);
    audited.length = 0;
    const res = await redeem(carrier.token, body);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({
      trackingNo: issued.trackingNo,
      recipient: expect.objectContaining({ name: PLAIN.name, phone: PLAIN.phone, detail: PLAIN.detail }),
    });
    expect(audited).toEqual([
      {
        req: true,
        event: expect.objectContaining({ operation: 'redeem_waybill', shopId: o.shopId, orderIds: [o.id] }),
      },
    ]);

    const [main, extension] = issued.label.recipient.virtualNumber.split('-') as [string, string];
    audited.length = 0;
    const connected = await call({ callId: 'call-1', virtualNumber: main, extension });
    expect(connected.statusCode).toBe(200);
    expect(connected.json()).toEqual({ connected: true, orderId: o.id });
    expect(connected.body).not.toContain(PLAIN.phone);
    expect(audited).toEqual([
      {
        req: false,
        event: expect.objectContaining({
          operation: 'call',
          orderIds: [o.id],
          details: expect.objectContaining({ callId: 'call-1' }),
        }),
      },
    ]);
    expect(
      (await call({ callId: 'call-2', virtualNumber: '17199999999', extension: '0001' })).json(),
    ).toEqual({
      connected: false,
      reason: 'unknown',
    });
    expect(
      (await call({ callId: 'call-3', virtualNumber: main, extension }, 'wrong-secret-wrong-secret'))
        .statusCode,
    ).toBe(401);
    expect((await call({ callId: 'call-4', virtualNumber: main, extension: '12' })).statusCode).toBe(400);
  });

  it('connects no call the audit log cannot record', async () => {
    const failing = await createHttpServer({ logger: t.app.platform.log, auth: t.app.services.identity });
    privacyLogisticsRoutes(failing, {
      waybills: wb,
      numbers,
      telephonySecret: t.app.platform.config.TELEPHONY_WEBHOOK_SECRET,
      getAccount: (id) => t.app.services.identity.getAccount(id),
      audit: async () => {
        throw new Error('audit store down');
      },
    });
    await failing.ready();
    try {
      const o = await paidOrder();
      const b = await numbers.bindForOrder(t.app.platform.db, {
        orderId: o.id,
        shopId: o.shopId,
        recipientId: o.recipientId,
        expiresAt: new Date(t.clock.now().getTime() + DAY),
      });
      dialled.length = 0;
      const payload = JSON.stringify({
        callId: 'call-x',
        virtualNumber: b.mainNumber,
        extension: b.extension,
      });
      const res = await failing.inject({
        method: 'POST',
        url: TELEPHONY_WEBHOOK_URL,
        payload,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signPayload(
            t.app.platform.config.TELEPHONY_WEBHOOK_SECRET,
            payload,
            Math.floor(Date.now() / 1000),
          ),
        },
      });
      expect(res.statusCode).toBe(500);
      expect(dialled).toEqual([]);
    } finally {
      await failing.close();
    }
  });
});
