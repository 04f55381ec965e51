import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { asc, eq, type SQL, sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApp, type TestContext } from '../../../test/harness.js';
import { requirePrincipal } from '../../platform/auth.js';
import { MINUTE } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import { type Db, openDatabase } from '../../platform/db.js';
import { createHttpServer, type HttpServer } from '../../platform/http.js';
import { newId } from '../../platform/ids.js';
import { createLogger } from '../../platform/logger.js';
import { inTransaction } from '../../platform/tx.js';
import { auditRoutes } from './routes.js';
import { securityEvents } from './schema.js';
import {
  type AuditActor,
  AuditLog,
  actorFrom,
  chainOf,
  GENESIS_HASH,
  SYSTEM_ACTOR,
  verifyChains,
} from './service.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let t: TestContext;
let audit: AuditLog;
let db: Db;
beforeAll(async () => {
  t = await startTestApp();
  audit = new AuditLog(t.app.platform);
  db = t.app.platform.db;
});
afterAll(() => t.close());

const shopId = () => newId('shop');
const orderIds = (n: number) => Array.from({ length: n }, () => newId('order'));
const actor = (over: Partial<AuditActor> = {}): AuditActor => ({
  accountId: newId('account'),
  accountType: 'merchant_owner',
  ip: '203.0.113.7',
  userAgent: 'vitest',
  ...over,
});

const chainRows = (chain: string) =>
  db.select().from(securityEvents).where(eq(securityEvents.chain, chain)).orderBy(asc(securityEvents.seq));

/** Every message along an error's cause chain (drizzle wraps the driver's error). */
function messages(err: unknown): string {
  const out: string[] = [];
  for (let e: any = err, d = 0; e && d < 6; e = e.cause, d++) out.push(String(e.message));
  return out.join(' <- ');
}

const TRIGGER = 'security_events_no_update_delete';
/**
 * Goes around the append-only trigger the way an attacker with the table owner's rights
 * could. The ALTERs run inside the transaction, so no other session ever sees the trigger off;
 * the `finally` re-enables it in case the transaction did not roll it back.
 */
async function tamper(statement: SQL, on: Db = db): Promise<void> {
  try {
    await inTransaction(on, async (tx) => {
      await tx.execute(sql.raw(`alter table security_events disable trigger ${TRIGGER}`));
      await tx.execute(statement);
      await tx.execute(sql.raw(`alter table security_events enable trigger ${TRIGGER}`));
    });
  } finally {
    await on.execute(sql.raw(`alter table security_events enable trigger ${TRIGGER}`));
  }
}

describe('recording', () => {
  it('serialises concurrent appends to one chain: seq 1..50, linked, no gaps', async () => {
    const shop = shopId();
    const chain = chainOf(shop);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2
          ? audit.record(db, {
              operation: 'view_order',
              actor: actor(),
              shopId: shop,
              orderIds: orderIds(1),
              details: { n: i },
            })
          : // Half inside a caller's transaction with other work in it, as a use case would.
            inTransaction(db, async (tx) => {
              await tx.execute(sql`select 1`);
              await audit.record(tx, {
                operation: 'view_order_list',
                actor: actor(),
                shopId: shop,
                orderIds: orderIds(3),
                details: { n: i, page: { limit: 20, status: 'paid' } },
              });
            }),
      ),
    );
    const rows = await chainRows(chain);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
    expect(new Set(rows.map((r) => (r.details as { n: number }).n)).size).toBe(50);
    expect(await verifyChains(db, { chain })).toEqual({ ok: true, chains: 1, events: 50 });
  });

  it('coalesces concurrent standalone appends, and one bad event fails only its own caller', async () => {
    const shop = shopId();
    const chain = chainOf(shop);
    const sizes: number[] = [];
    const original = (audit as any).append.bind(audit);
    const spy = vi.spyOn(audit as any, 'append').mockImplementation(async (tx: any, c: any, events: any) => {
      sizes.push(events.length);
      if (events.some((e: { reason: string | null }) => e.reason === 'poison')) throw new Error('bad event');
      return original(tx, c, events);
    });
    const lone = vi.spyOn(audit as any, 'appendStatement');
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          audit.record(db, {
            operation: 'view_order_list',
            actor: actor(),
            shopId: shop,
            orderIds: orderIds(2),
            reason: i === 7 ? 'poison' : `ok${i}`,
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(
        Array.from({ length: 12 }, (_, i) => (i === 7 ? 'rejected' : 'fulfilled')),
      );
      // The first went alone (one statement); the rest queued behind it and were tried as one
      // batch, then each on its own once the batch failed.
      expect(lone).toHaveBeenCalledTimes(1);
      expect(sizes).toEqual([11, ...Array(11).fill(1)]);
    } finally {
      spy.mockRestore();
      lone.mockRestore();
    }
    const rows = await chainRows(chain);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(rows.some((r) => r.reason === 'poison')).toBe(false);
    expect(await verifyChains(db, { chain })).toEqual({ ok: true, chains: 1, events: 11 });
  });

  it('appends a lone event in one statement, and falls back when the chain moved while it waited', async () => {
    const shop = shopId();
    const chain = chainOf(shop);
    const lone = vi.spyOn(audit as any, 'appendStatement');
    const event = (n: number) => ({
      operation: 'view_order_list' as const,
      actor: actor({ userAgent: `vitest 测试 "quoted" \\ ${n}` }),
      shopId: shop,
      orderIds: orderIds(3),
      reason: n === 1 ? undefined : `第 ${n} 次`,
      details: { n, nested: { z: 1, a: [true, null, 'x'] }, status: 'paid' },
    });
    try {
      await audit.record(db, event(1));
      expect(await lone.mock.results[0]!.value).toBe(true);
      if (t.app.database.kind === 'postgres') {
        // A use case holds the chain (its event written, not committed) when a lone append
        // arrives: that statement's snapshot predates the use case's event, so its seq is taken.
        let commit!: () => void;
        const held = new Promise<void>((r) => (commit = r));
        let written!: () => void;
        const inside = new Promise<void>((r) => (written = r));
        const useCase = inTransaction(db, async (tx) => {
          await audit.record(tx, event(2));
          written();
          await held;
        });
        await inside;
        const standalone = audit.record(db, event(3));
        await new Promise((r) => setTimeout(r, 100));
        commit();
        await Promise.all([useCase, standalone]);
        expect(await lone.mock.results[1]!.value).toBe(false);
      } else {
        await inTransaction(db, (tx) => audit.record(tx, event(2)));
        await audit.record(db, event(3));
      }
    } finally {
      lone.mockRestore();
    }
    const rows = await chainRows(chain);
    expect(rows.map((r) => [r.seq, (r.details as { n: number }).n])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
    expect(rows[2]!.userAgent).toBe('vitest 测试 "quoted" \\ 3');
    expect(rows[2]!.orderIds).toHaveLength(3);
    expect(await verifyChains(db, { chain })).toEqual({ ok: true, chains: 1, events: 3 });
  });

  it('keeps one chain per shop and one for the platform', async () => {
    const [a, b] = [shopId(), shopId()];
    for (const s of [a, b, a, a, b]) {
      await audit.record(db, { operation: 'print_order', actor: actor(), shopId: s, orderIds: orderIds(1) });
    }
    await audit.record(db, { operation: 'call', actor: SYSTEM_ACTOR, shopId: null, orderIds: orderIds(1) });
    expect((await chainRows(chainOf(a))).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect((await chainRows(chainOf(b))).map((r) => r.seq)).toEqual([1, 2]);
    expect((await chainRows(chainOf(b))).every((r) => r.shopId === b)).toBe(true);
    expect(chainOf(null)).toBe('platform');
    const platform = await chainRows('platform');
    expect(platform.at(-1)!.accountType).toBe('system');
    for (const chain of [chainOf(a), chainOf(b), 'platform']) {
      expect((await verifyChains(db, { chain })).ok).toBe(true);
    }
  });

  it('splits more than 50 order ids into several consecutive events', async () => {
    const shop = shopId();
    const ids = orderIds(120);
    await audit.record(db, {
      operation: 'export_order_list',
      actor: actor(),
      shopId: shop,
      orderIds: ids,
      reason: '月度对账',
      details: { format: 'csv', rows: 120 },
    });
    const rows = await chainRows(chainOf(shop));
    expect(rows.map((r) => r.orderIds.length)).toEqual([50, 50, 20]);
    expect(rows.flatMap((r) => r.orderIds)).toEqual(ids);
    expect(rows.map((r) => r.details)).toEqual(
      [1, 2, 3].map((part) => ({ format: 'csv', rows: 120, part, parts: 3 })),
    );
    expect(rows.every((r) => r.reason === '月度对账' && r.operation === 'export_order_list')).toBe(true);
    expect((await verifyChains(db, { chain: chainOf(shop) })).events).toBe(3);
  });

  it("commits and rolls back with the caller's transaction", async () => {
    const shop = shopId();
    await expect(
      inTransaction(db, async (tx) => {
        await audit.record(tx, { operation: 'decrypt', actor: actor(), shopId: shop, orderIds: orderIds(2) });
        throw new Error('use case failed');
      }),
    ).rejects.toThrow('use case failed');
    expect(await chainRows(chainOf(shop))).toEqual([]);
    await audit.record(db, { operation: 'decrypt', actor: actor(), shopId: shop, orderIds: orderIds(2) });
    expect((await chainRows(chainOf(shop))).map((r) => r.seq)).toEqual([1]);
  });

  it('hashes what jsonb and text give back: key order, nested details, odd strings', async () => {
    const shop = shopId();
    await audit.record(db, {
      operation: 'view_order_list',
      actor: actor({ userAgent: 'UA \u0000 with NUL and lone \uD800 surrogate', ip: '2001:db8::1' }),
      shopId: shop,
      orderIds: [],
      reason: 'emoji 👍 and 中文',
      details: {
        zeta: 1,
        alpha: { b: [3, { y: 1, x: 0.1 }], a: null },
        big: 1e21,
        skipped: undefined,
        at: new Date('2026-11-11T00:00:00Z'),
      },
    });
    const [row] = await chainRows(chainOf(shop));
    expect(row!.userAgent).toBe('UA \uFFFD with NUL and lone \uFFFD surrogate');
    expect(row!.details).toEqual({
      alpha: { a: null, b: [3, { x: 0.1, y: 1 }] },
      at: '2026-11-11T00:00:00.000Z',
      big: 1e21,
      zeta: 1,
    });
    expect(await verifyChains(db, { chain: chainOf(shop) })).toEqual({ ok: true, chains: 1, events: 1 });
  });
});

describe('actors', () => {
  it('takes the real client IP and a user agent cut to 300 characters', () => {
    const req = {
      principal: { accountId: 'acc_x', roles: ['merchant'] },
      ip: '198.51.100.4',
      headers: { 'user-agent': 'M'.repeat(1000) },
    } as unknown as FastifyRequest;
    const a = actorFrom(req, 'merchant_staff');
    expect(a).toEqual({
      accountId: 'acc_x',
      accountType: 'merchant_staff',
      ip: '198.51.100.4',
      userAgent: 'M'.repeat(300),
    });
    expect(actorFrom({ principal: null, ip: '', headers: {} } as unknown as FastifyRequest, 'buyer')).toEqual(
      {
        accountId: null,
        accountType: 'buyer',
        ip: null,
        userAgent: null,
      },
    );
  });

  it('tells owner, staff, service provider and operator apart for a shop', async () => {
    const shop = shopId();
    const owner = await t.account(['merchant']);
    const staff = await t.account(['merchant']);
    const isv = await t.account(['merchant', 'service_provider']);
    const operator = await t.account(['operator']);
    const identity = t.app.services.identity;
    await identity.addShopOwner(db, shop, owner.id);
    await identity.setShopStaff(shop, staff.login, ['orders.read']);
    await identity.setShopStaff(shop, isv.login, ['orders.read']);
    const type = (id: string, roles: string[]) =>
      audit.accountTypeForShop({ accountId: id, roles } as any, shop);
    expect(await type(owner.id, ['merchant'])).toBe('merchant_owner');
    expect(await type(staff.id, ['merchant'])).toBe('merchant_staff');
    expect(await type(isv.id, ['merchant', 'service_provider'])).toBe('service_provider');
    expect(await type(operator.id, ['operator'])).toBe('operator');
  });
});

describe('append-only and tamper evidence', () => {
  it('refuses UPDATE and DELETE', async () => {
    const shop = shopId();
    await audit.record(db, { operation: 'view_order', actor: actor(), shopId: shop, orderIds: orderIds(1) });
    const [row] = await chainRows(chainOf(shop));
    const update = db.execute(sql`update security_events set reason = 'edited' where id = ${row!.id}`);
    await expect(update.then(() => 'ran', messages)).resolves.toMatch(/append-only/);
    const del = db.execute(sql`delete from security_events where id = ${row!.id}`);
    await expect(del.then(() => 'ran', messages)).resolves.toMatch(/append-only/);
    expect(await chainRows(chainOf(shop))).toEqual([row]);
  });

  it('finds an edited event as the first broken link of its chain', async () => {
    const shop = shopId();
    const chain = chainOf(shop);
    for (let i = 0; i < 6; i++) {
      await audit.record(db, {
        operation: 'decrypt',
        actor: actor(),
        shopId: shop,
        orderIds: orderIds(1),
        reason: `r${i}`,
      });
    }
    const rows = await chainRows(chain);
    await tamper(sql`update security_events set reason = 'nothing to see' where id = ${rows[3]!.id}`);
    const result = await verifyChains(db, { chain });
    expect(result).toEqual({
      ok: false,
      chains: 1,
      events: 6,
      firstBroken: {
        chain,
        seq: 4,
        id: rows[3]!.id,
        problem: 'hash mismatch: the event was changed after it was written',
      },
    });
    // The whole-database walk also reports it (as this chain's first break, whatever else is broken).
    const all = await verifyChains(db);
    expect(all.ok).toBe(false);
    // The trigger is back on.
    await expect(
      db.execute(sql`delete from security_events where id = ${rows[0]!.id}`).then(() => 'ran', messages),
    ).resolves.toMatch(/append-only/);
  });

  it('finds a deleted event as a gap, and a rewritten hash as a broken link', async () => {
    const shop = shopId();
    const chain = chainOf(shop);
    for (let i = 0; i < 5; i++) {
      await audit.record(db, {
        operation: 'print_order',
        actor: actor(),
        shopId: shop,
        orderIds: orderIds(1),
      });
    }
    const rows = await chainRows(chain);
    await tamper(sql`delete from security_events where id = ${rows[2]!.id}`);
    expect((await verifyChains(db, { chain })).firstBroken).toEqual({
      chain,
      seq: 4,
      id: rows[3]!.id,
      problem: 'gap: seq 3 is missing',
    });

    // An attacker who edits a row and recomputes its hash still breaks the next link.
    const other = shopId();
    for (let i = 0; i < 3; i++) {
      await audit.record(db, {
        operation: 'view_order',
        actor: actor(),
        shopId: other,
        orderIds: orderIds(1),
      });
    }
    const o = await chainRows(chainOf(other));
    const { eventHash } = await import('./service.js');
    const forged = eventHash(o[0]!.prevHash, { ...o[0]!, reason: 'forged', details: {} });
    await tamper(sql`update security_events set reason = 'forged', hash = ${forged} where id = ${o[0]!.id}`);
    expect((await verifyChains(db, { chain: chainOf(other) })).firstBroken).toMatchObject({
      seq: 2,
      problem: 'prev_hash does not match the previous event',
    });
  });

  it('walks large chains in keyset batches', async () => {
    const shop = shopId();
    const chain = chainOf(shop);
    await audit.record(db, {
      operation: 'export_order_list',
      actor: actor(),
      shopId: shop,
      orderIds: orderIds(230),
    });
    expect(await verifyChains(db, { chain, batchSize: 2 })).toEqual({ ok: true, chains: 1, events: 5 });
    const rows = await chainRows(chain);
    await tamper(sql`update security_events set order_ids = order_ids[1:10] where id = ${rows[4]!.id}`);
    expect((await verifyChains(db, { chain, batchSize: 2 })).firstBroken?.seq).toBe(5);
  });

  it('npm run audit:verify exits 1 on a tampered log and names the row', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'livecart-audit-'));
    try {
      const scratch = await openDatabase({ pgliteDir: dir });
      const log = new AuditLog({ ...t.app.platform, db: scratch.db, dbKind: 'pglite' } as Platform);
      const shop = shopId();
      for (let i = 0; i < 4; i++) {
        await log.record(scratch.db, {
          operation: 'view_order',
          actor: actor(),
          shopId: shop,
          orderIds: orderIds(2),
        });
      }
      await log.record(scratch.db, {
        operation: 'call',
        actor: SYSTEM_ACTOR,
        shopId: null,
        orderIds: orderIds(1),
      });
      // The intact case in-process: each spawn costs seconds (tsx start, PGlite boot), one is enough.
      expect(await verifyChains(scratch.db)).toEqual({ ok: true, chains: 2, events: 5 });
      const [victim] = await scratch.db
        .select()
        .from(securityEvents)
        .where(sql`${securityEvents.chain} = ${chainOf(shop)} and ${securityEvents.seq} = 2`);
      await tamper(sql`update security_events set ip = '10.0.0.1' where id = ${victim!.id}`, scratch.db);
      await scratch.close();

      const broken = await runCli(dir);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain(`BROKEN at ${chainOf(shop)} seq 2 (${victim!.id})`);
      expect(JSON.parse(broken.stdout.trim().split('\n').at(-1)!)).toMatchObject({
        ok: false,
        chains: 2,
        events: 5,
        firstBroken: { chain: chainOf(shop), seq: 2, id: victim!.id },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function runCli(pgliteDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PGLITE_DIR: pgliteDir };
  delete env.DATABASE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/modules/audit/verify-cli.ts'], {
      cwd: ROOT,
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('querying', () => {
  it('filters for operators, pages newest first, and scopes a shop to its own chain', async () => {
    const [a, b] = [shopId(), shopId()];
    const staffActor = actor({ accountType: 'merchant_staff' });
    const opActor = actor({ accountType: 'operator', ip: '10.1.2.3', userAgent: 'ops-console' });
    const buyerActor = actor({ accountType: 'buyer', ip: '198.51.100.77', userAgent: 'buyer-phone' });
    const target = newId('order');
    const start = t.clock.now();
    for (let i = 0; i < 7; i++) {
      t.clock.advance(MINUTE);
      await audit.record(db, {
        operation: i % 2 ? 'view_order' : 'view_order_list',
        actor: i === 6 ? opActor : i === 0 ? buyerActor : staffActor,
        shopId: a,
        orderIds: i === 3 ? [target, newId('order')] : orderIds(1),
      });
    }
    await audit.record(db, { operation: 'view_order', actor: staffActor, shopId: b, orderIds: [target] });

    const p1 = await audit.query({ shopId: a, limit: 3 });
    expect(p1.items.map((e) => e.seq)).toEqual([7, 6, 5]);
    const p2 = await audit.query({ shopId: a, limit: 3, cursor: p1.nextCursor! });
    const p3 = await audit.query({ shopId: a, limit: 3, cursor: p2.nextCursor! });
    expect([...p2.items, ...p3.items].map((e) => e.seq)).toEqual([4, 3, 2, 1]);
    expect(p3.nextCursor).toBeNull();

    expect((await audit.query({ orderId: target })).items.map((e) => e.shopId).sort()).toEqual([a, b].sort());
    expect((await audit.query({ shopId: a, operation: 'view_order' })).items).toHaveLength(3);
    expect((await audit.query({ accountId: staffActor.accountId! })).items).toHaveLength(6);
    const window = await audit.query({
      shopId: a,
      from: new Date(start.getTime() + 2 * MINUTE),
      to: new Date(start.getTime() + 5 * MINUTE),
    });
    expect(window.items.map((e) => e.seq)).toEqual([4, 3, 2]);
    await expect(audit.query({ cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });

    const own = await audit.queryShop(a, { limit: 200 });
    expect(own.items).toHaveLength(7);
    expect(own.items.every((e) => e.chain === chainOf(a))).toBe(true);
    // The operator's network details stay with the platform, the buyer's with the buyer.
    expect(own.items[0]).toMatchObject({ accountType: 'operator', ip: null, userAgent: null });
    expect(own.items[1]).toMatchObject({ accountType: 'merchant_staff', ip: '203.0.113.7' });
    expect(own.items[6]).toMatchObject({ accountType: 'buyer', ip: null, userAgent: null });
    expect((await audit.query({ shopId: a })).items[6]).toMatchObject({ ip: '198.51.100.77' });
    expect((await audit.queryShop(a, { orderId: target })).items.map((e) => e.shopId)).toEqual([a]);
  });
});

describe('routes (on a server of their own until app.ts wires the module)', () => {
  let http: HttpServer;
  beforeAll(async () => {
    http = await createHttpServer({
      logger: createLogger('silent'),
      auth: t.app.services.identity,
      trustedProxies: ['127.0.0.1'],
    });
    auditRoutes(http, audit);
    // A stand-in for an audited merchant route, to see what a request records.
    http.get(
      '/api/shops/:shopId/probe',
      { config: { access: { roles: ['merchant'], shopPermission: 'orders.read' } } },
      async (req) => {
        const { shopId } = req.params as { shopId: string };
        await audit.record(db, {
          operation: 'view_order_list',
          actor: await audit.actorForShop(req, shopId),
          shopId,
          orderIds: [],
          details: { count: 0, by: requirePrincipal(req).accountId },
        });
        return { ok: true };
      },
    );
    await http.ready();
  });
  afterAll(() => http.close());

  it('records the real client IP behind a trusted proxy; serves each shop only its own events', async () => {
    const ownerA = await t.account(['merchant']);
    const ownerB = await t.account(['merchant']);
    const operator = await t.account(['operator']);
    const buyer = await t.account(['buyer']);
    const [a, b] = [shopId(), shopId()];
    await t.app.services.identity.addShopOwner(db, a, ownerA.id);
    await t.app.services.identity.addShopOwner(db, b, ownerB.id);
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });

    const probe = await http.inject({
      method: 'GET',
      url: `/api/shops/${a}/probe`,
      headers: {
        ...auth(ownerA.token),
        'x-forwarded-for': '198.51.100.23',
        'user-agent': 'Mozilla/5.0 test',
      },
    });
    expect(probe.statusCode).toBe(200);
    const [ev] = await chainRows(chainOf(a));
    expect(ev).toMatchObject({
      accountId: ownerA.id,
      accountType: 'merchant_owner',
      ip: '198.51.100.23',
      userAgent: 'Mozilla/5.0 test',
    });

    const mine = await http.inject({
      method: 'GET',
      url: `/api/shops/${a}/security-events`,
      headers: auth(ownerA.token),
    });
    expect(mine.statusCode).toBe(200);
    expect(mine.json().items.map((e: { id: string }) => e.id)).toEqual([ev!.id]);
    // Another shop's log answers 404, like a missing shop.
    const theirs = await http.inject({
      method: 'GET',
      url: `/api/shops/${a}/security-events`,
      headers: auth(ownerB.token),
    });
    expect(theirs.statusCode).toBe(404);
    const emptyB = await http.inject({
      method: 'GET',
      url: `/api/shops/${b}/security-events`,
      headers: auth(ownerB.token),
    });
    expect(emptyB.json()).toEqual({ items: [], nextCursor: null });

    const admin = await http.inject({
      method: 'GET',
      url: `/api/admin/security-events?shopId=${a}&operation=view_order_list&limit=200`,
      headers: auth(operator.token),
    });
    expect(admin.statusCode).toBe(200);
    expect(admin.json().items).toHaveLength(1);
    const denied = await http.inject({
      method: 'GET',
      url: '/api/admin/security-events',
      headers: auth(buyer.token),
    });
    expect(denied.statusCode).toBe(403);
    const bad = await http.inject({
      method: 'GET',
      url: '/api/admin/security-events?limit=201',
      headers: auth(operator.token),
    });
    expect(bad.statusCode).toBe(400);
    // Reading the log wrote nothing.
    expect(await chainRows(chainOf(a))).toHaveLength(1);
  });
});
