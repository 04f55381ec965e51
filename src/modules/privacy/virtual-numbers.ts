import { randomInt } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import { type Executor, inJson, rowsOf } from '../../platform/db.js';
import { AppError, invalidState } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { inTransaction } from '../../platform/tx.js';
import { maskPhone } from './masks.js';
import { virtualNumberBindings } from './schema.js';
import type { PlainRecipient, PrivacyVault } from './service.js';

/** What a route hands to the audit log after a use case that reached buyer PII. */
export interface PrivacyAuditHint {
  operation: 'redeem_waybill' | 'call';
  shopId: string;
  orderIds: string[];
  details: Record<string, unknown>;
}

export interface VirtualNumberBinding {
  bindingId: string;
  /** `main-ext`, as printed on the waybill: `17000001234-5678`. */
  number: string;
  mainNumber: string;
  extension: string;
  expiresAt: Date;
}

export type CallDecision =
  | { connected: true; orderId: string; audit: PrivacyAuditHint }
  | { connected: false; reason: 'expired' | 'unknown' };

/**
 * Where a connected call goes. The real number is handed only to this function; the
 * simulated provider rings nothing, a real one would bridge the caller to it.
 */
export type Dialer = (call: { bindingId: string; phone: string }) => Promise<void>;

const MAIN_NUMBER = /^17[01]\d{8}$/;
const EXTENSIONS = 10_000;
/** A pool larger than this is a configuration mistake (it would be expanded in memory). */
const MAX_MAINS = 100_000;
/** Random extensions tried before the pool is treated as dense and searched. */
const FAST_PROBES = 4;
/** Insert attempts once the pool is dense (each one lost to a concurrent binder), and candidates per search. */
const DENSE_ATTEMPTS = 32;
const DENSE_BATCH = 8;
const SWEEP_BATCH = 500;

/** Expands `VIRTUAL_NUMBER_POOL` (`17000000000-17000000099,17100000005`) into main numbers. */
export function parseNumberPool(spec: string): string[] {
  const mains = new Set<string>();
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [from = '', to = from, extra] = part.split('-').map((s) => s.trim());
    if (extra !== undefined || !MAIN_NUMBER.test(from) || !MAIN_NUMBER.test(to)) {
      throw new Error(`VIRTUAL_NUMBER_POOL: "${part}" is not a 170/171 number or range of them`);
    }
    const first = Number(from);
    const last = Number(to);
    if (last < first) throw new Error(`VIRTUAL_NUMBER_POOL: range "${part}" ends before it starts`);
    if (mains.size + (last - first + 1) > MAX_MAINS) {
      throw new Error(`VIRTUAL_NUMBER_POOL holds more than ${MAX_MAINS} main numbers`);
    }
    for (let n = first; n <= last; n++) mains.add(String(n));
  }
  if (mains.size === 0) throw new Error('VIRTUAL_NUMBER_POOL is empty');
  return [...mains];
}

const randomExtension = () => String(randomInt(EXTENSIONS)).padStart(4, '0');

type BindingRow = typeof virtualNumberBindings.$inferSelect;

const view = (r: BindingRow): VirtualNumberBinding => ({
  bindingId: r.id,
  number: `${r.mainNumber}-${r.extension}`,
  mainNumber: r.mainNumber,
  extension: r.extension,
  expiresAt: r.expiresAt,
});

/**
 * Virtual numbers (隐私号): a `main-ext` pair from the configured pool bound to one order,
 * so courier and merchant can call the buyer without seeing the number. A binding lives until
 * the after-sales window closes; released bindings free their extension for reuse.
 */
/** A new binding of a number and extension to an order's recipient. */
const bindingRow = (
  input: { orderId: string; shopId: string; recipientId: string; expiresAt: Date },
  mainNumber: string,
  extension: string,
  now: Date,
) => ({
  id: newId('virtualNumber'),
  mainNumber,
  extension,
  orderId: input.orderId,
  shopId: input.shopId,
  recipientId: input.recipientId,
  createdAt: now,
  expiresAt: input.expiresAt,
});

export class VirtualNumbers {
  private readonly pool: string[];
  /** The simulated provider's line: swap for a real bridge; tests capture what it was given. */
  dialer: Dialer = async () => {};

  constructor(
    private readonly p: Platform,
    private readonly vault: PrivacyVault,
  ) {
    this.pool = parseNumberPool(p.config.VIRTUAL_NUMBER_POOL);
  }

  /**
   * The order's active binding when it has one that has not expired (its expiry is moved out
   * if `expiresAt` is later), else a new one. Runs in the caller's transaction; conflicts are
   * settled with `ON CONFLICT DO NOTHING`, which never aborts that transaction.
   */
  async bindForOrder(
    ex: Executor,
    input: { orderId: string; shopId: string; recipientId: string; expiresAt: Date },
  ): Promise<VirtualNumberBinding> {
    const now = this.p.clock.now();
    if (input.expiresAt <= now) {
      throw invalidState(
        `A virtual number for order ${input.orderId} would expire at once: the after-sales window closed at ${input.expiresAt.toISOString()}.`,
        { orderId: input.orderId },
      );
    }
    // A concurrent bind of the same order can win the insert; the next round returns its binding.
    for (let round = 0; round < 3; round++) {
      const current = await this.activeForOrder(ex, input.orderId);
      if (current && current.expiresAt > now) {
        if (input.expiresAt <= current.expiresAt) return view(current);
        const [extended] = await ex
          .update(virtualNumberBindings)
          .set({ expiresAt: input.expiresAt })
          .where(and(eq(virtualNumberBindings.id, current.id), isNull(virtualNumberBindings.releasedAt)))
          .returning();
        if (extended) return view(extended);
        continue;
      }
      if (current) await this.release(ex, current.id, now);
      const fresh = await this.allocate(ex, input, now);
      if (fresh) return view(fresh);
    }
    throw invalidState(`Order ${input.orderId} is being bound to a virtual number concurrently; try again.`, {
      orderId: input.orderId,
    });
  }

  /**
   * bindForOrder for a batch (decrypt asks for up to 50), set-based: one read finds the live
   * bindings; those that already last long enough are returned as they are, the ones to move
   * out are extended by one UPDATE, and orders without a binding get theirs from one multi-row
   * INSERT of random free-looking `main-ext` pairs (`ON CONFLICT DO NOTHING`). Whatever that
   * does not settle — a pair or the order taken concurrently, an expired binding still to be
   * released, a dense pool — goes through bindForOrder one by one.
   */
  async bindForOrders(
    ex: Executor,
    inputs: { orderId: string; shopId: string; recipientId: string; expiresAt: Date }[],
  ): Promise<Map<string, VirtualNumberBinding>> {
    const out = new Map<string, VirtualNumberBinding>();
    if (inputs.length === 0) return out;
    const now = this.p.clock.now();
    const rows = await ex
      .select()
      .from(virtualNumberBindings)
      .where(
        and(
          inJson(
            virtualNumberBindings.orderId,
            inputs.map((i) => i.orderId),
          ),
          isNull(virtualNumberBindings.releasedAt),
        ),
      );
    const live = new Map(rows.map((r) => [r.orderId, r]));
    const extend: { input: (typeof inputs)[number]; row: BindingRow }[] = [];
    const fresh: (typeof inputs)[number][] = [];
    const oneByOne: (typeof inputs)[number][] = [];
    for (const input of inputs) {
      const row = live.get(input.orderId);
      if (row && row.expiresAt > now && row.expiresAt >= input.expiresAt) {
        out.set(input.orderId, view(row));
      } else if (input.expiresAt <= now || (row && row.expiresAt <= now)) {
        oneByOne.push(input); // refused there, or the expired binding is released first
      } else if (row) {
        extend.push({ input, row });
      } else {
        fresh.push(input);
      }
    }
    // Rows are written in order-id order, so two overlapping batches lock them in the same order.
    const byOrderId = (a: { orderId: string }, b: { orderId: string }) =>
      a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0;
    if (extend.length > 0) {
      extend.sort((a, b) => byOrderId(a.input, b.input));
      const moves = JSON.stringify(extend.map((e) => ({ id: e.row.id, e: e.input.expiresAt.toISOString() })));
      const moved = rowsOf<{ id: string; ms: number | string }>(
        await ex.execute(sql`
          update ${virtualNumberBindings} b set expires_at = greatest(b.expires_at, x.e)
          from jsonb_to_recordset(${moves}::jsonb) as x(id text, e timestamptz)
          where b.id = x.id and b.released_at is null
          returning b.id, (extract(epoch from b.expires_at) * 1000)::float8 as ms`),
      );
      const byId = new Map(moved.map((m) => [m.id, new Date(Math.round(Number(m.ms)))]));
      for (const { input, row } of extend) {
        const expiresAt = byId.get(row.id);
        if (expiresAt) out.set(input.orderId, view({ ...row, expiresAt }));
        else oneByOne.push(input); // released meanwhile
      }
    }
    if (fresh.length > 0) {
      fresh.sort(byOrderId);
      const taken = new Set<string>();
      const values = fresh.map((input) => {
        let mainNumber: string;
        let extension: string;
        do {
          mainNumber = this.pool[randomInt(this.pool.length)]!;
          extension = randomExtension();
        } while (taken.has(`${mainNumber}-${extension}`) && taken.size < this.pool.length * EXTENSIONS);
        taken.add(`${mainNumber}-${extension}`);
        return bindingRow(input, mainNumber, extension, now);
      });
      const inserted = await ex
        .insert(virtualNumberBindings)
        .values(values)
        .onConflictDoNothing()
        .returning();
      const byOrder = new Map(inserted.map((r) => [r.orderId, r]));
      for (const input of fresh) {
        const row = byOrder.get(input.orderId);
        if (row) out.set(input.orderId, view(row));
        else oneByOne.push(input);
      }
    }
    for (const input of oneByOne) out.set(input.orderId, await this.bindForOrder(ex, input));
    return out;
  }

  /**
   * The simulated telephony provider asks where a call to `main-ext` goes. The recipient's
   * phone is opened here and handed only to the dialer; the answer names the order, never
   * the number. A binding whose expiry is at or before `at` refuses the call. `beforeDial`
   * (the audit hook) runs before the dialer; if it throws, nothing is dialled.
   */
  async connectCall(
    call: { virtualNumber: string; extension: string; callerNumber?: string | undefined },
    at: Date = this.p.clock.now(),
    opts: { beforeDial?: (audit: PrivacyAuditHint) => Promise<void> } = {},
  ): Promise<CallDecision> {
    const db = this.p.db;
    const [binding] = await db
      .select()
      .from(virtualNumberBindings)
      .where(
        and(
          eq(virtualNumberBindings.mainNumber, call.virtualNumber),
          eq(virtualNumberBindings.extension, call.extension),
          isNull(virtualNumberBindings.releasedAt),
        ),
      );
    if (!binding) {
      // A released binding reads as expired to the caller; a number never issued is unknown.
      const [past] = await db
        .select({ id: virtualNumberBindings.id })
        .from(virtualNumberBindings)
        .where(
          and(
            eq(virtualNumberBindings.mainNumber, call.virtualNumber),
            eq(virtualNumberBindings.extension, call.extension),
          ),
        )
        .limit(1);
      return { connected: false, reason: past ? 'expired' : 'unknown' };
    }
    if (binding.expiresAt <= at) return { connected: false, reason: 'expired' };
    let plain: PlainRecipient | undefined;
    try {
      [plain] = await this.vault.openRecipients(db, binding.shopId, [binding.recipientId]);
    } catch (err) {
      // Shredded under the retention policy or erased: there is no one left to call.
      if (err instanceof AppError && err.code === 'RECIPIENT_SHREDDED')
        return { connected: false, reason: 'expired' };
      throw err;
    }
    if (!plain) return { connected: false, reason: 'expired' };
    const audit: PrivacyAuditHint = {
      operation: 'call',
      shopId: binding.shopId,
      orderIds: [binding.orderId],
      details: {
        bindingId: binding.id,
        virtualNumber: `${binding.mainNumber}-${binding.extension}`,
        ...(call.callerNumber ? { callerMask: maskPhone(call.callerNumber) } : {}),
        at: at.toISOString(),
      },
    };
    // The audit record comes first: a call that cannot be audited is not connected.
    await opts.beforeDial?.(audit);
    await this.dialer({ bindingId: binding.id, phone: plain.phone });
    return { connected: true, orderId: binding.orderId, audit };
  }

  /**
   * Once delivery is known, the after-sales window has a fixed end: the order's binding
   * expires then (it was bound at shipping with the latest possible end).
   */
  async expireWithAfterSales(ex: Executor, orderId: string, endsAt: Date): Promise<void> {
    await ex
      .update(virtualNumberBindings)
      .set({ expiresAt: endsAt })
      .where(and(eq(virtualNumberBindings.orderId, orderId), isNull(virtualNumberBindings.releasedAt)));
  }

  /** Job: releases bindings past their expiry, in SKIP LOCKED batches, so extensions are reused. */
  async releaseExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = this.p.clock.now().toISOString();
      const n = await inTransaction(this.p.db, async (tx) => {
        const released = rowsOf<{ id: string }>(
          await tx.execute(sql`
            update ${virtualNumberBindings} set released_at = ${now}
            where released_at is null and id in (
              select id from ${virtualNumberBindings}
              where released_at is null and expires_at <= ${now}
              order by expires_at limit ${SWEEP_BATCH}
              for update skip locked)
            returning id`),
        );
        return released.length;
      });
      total += n;
      if (n < SWEEP_BATCH) break;
    }
    return total;
  }

  private async activeForOrder(ex: Executor, orderId: string): Promise<BindingRow | undefined> {
    const [row] = await ex
      .select()
      .from(virtualNumberBindings)
      .where(and(eq(virtualNumberBindings.orderId, orderId), isNull(virtualNumberBindings.releasedAt)));
    return row;
  }

  private async release(ex: Executor, id: string, at: Date): Promise<void> {
    await ex
      .update(virtualNumberBindings)
      .set({ releasedAt: at })
      .where(and(eq(virtualNumberBindings.id, id), isNull(virtualNumberBindings.releasedAt)));
  }

  /**
   * Picks a main from a random start (spreading load), tries random extensions, and when
   * those keep colliding searches the mains that still have room. Null means a concurrent
   * bind of the same order won.
   */
  private async allocate(
    ex: Executor,
    input: { orderId: string; shopId: string; recipientId: string; expiresAt: Date },
    now: Date,
  ): Promise<BindingRow | null> {
    const n = this.pool.length;
    const start = randomInt(n);
    for (let i = 0; i < FAST_PROBES; i++) {
      const r = await this.tryInsert(ex, input, this.pool[(start + i) % n]!, randomExtension(), now);
      if (r !== 'taken') return r;
    }
    // Dense pool: count active extensions per main once, then search the mains with room.
    const counts = new Map(
      rowsOf<{ main_number: string; n: number | string }>(
        await ex.execute(sql`
          select main_number, count(*) as n from ${virtualNumberBindings}
          where released_at is null group by main_number`),
      ).map((r) => [r.main_number, Number(r.n)]),
    );
    let attempts = 0;
    let withRoom = 0;
    for (let i = 0; i < n && attempts < DENSE_ATTEMPTS; i++) {
      const main = this.pool[(start + i) % n]!;
      if ((counts.get(main) ?? 0) >= EXTENSIONS) continue;
      withRoom++;
      while (attempts < DENSE_ATTEMPTS) {
        // A few random free extensions at once: concurrent binders rarely pick the same ones.
        const free = rowsOf<{ ext: string }>(
          await ex.execute(sql`
            select lpad(g::text, 4, '0') as ext from generate_series(0, ${EXTENSIONS - 1}) as g
            where not exists (
              select 1 from ${virtualNumberBindings} b
              where b.main_number = ${main} and b.extension = lpad(g::text, 4, '0') and b.released_at is null)
            order by random() limit ${DENSE_BATCH}`),
        );
        if (free.length === 0) break; // filled up since it was counted
        for (const { ext } of free) {
          if (attempts >= DENSE_ATTEMPTS) break;
          attempts++;
          const r = await this.tryInsert(ex, input, main, ext, now);
          if (r !== 'taken') return r;
        }
      }
    }
    if (withRoom === 0) {
      throw invalidState(
        `The virtual number pool is exhausted: all ${n * EXTENSIONS} main-extension pairs of VIRTUAL_NUMBER_POOL are bound. ` +
          'Add main numbers to the pool or release expired bindings.',
        { poolMains: n, orderId: input.orderId },
      );
    }
    throw invalidState(
      `No free virtual number could be claimed for order ${input.orderId} after ${attempts} attempts; the pool is nearly exhausted. Try again.`,
      { poolMains: n, orderId: input.orderId },
    );
  }

  /** The new row; null when the order got a binding concurrently; 'taken' when main-ext is in use. */
  private async tryInsert(
    ex: Executor,
    input: { orderId: string; shopId: string; recipientId: string; expiresAt: Date },
    mainNumber: string,
    extension: string,
    now: Date,
  ): Promise<BindingRow | null | 'taken'> {
    const [row] = await ex
      .insert(virtualNumberBindings)
      .values(bindingRow(input, mainNumber, extension, now))
      .onConflictDoNothing()
      .returning();
    if (row) return row;
    return (await this.activeForOrder(ex, input.orderId)) ? null : 'taken';
  }
}
