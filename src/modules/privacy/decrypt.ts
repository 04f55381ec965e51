import { and, eq, isNull, sql } from 'drizzle-orm';
import { DAY, localDay, startOfLocalDay } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import type { Executor } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { inTransaction } from '../../platform/tx.js';
import type { AuditActor, AuditLog } from '../audit/service.js';
import { decryptQuotas, privacyGrants } from './schema.js';
import type { PrivacyVault } from './service.js';
import type { VirtualNumbers } from './virtual-numbers.js';

/** What the decrypt use case needs to know about orders (a port the orders module fills). */
export interface OrderFact {
  id: string;
  shopId: string;
  status: string;
  recipientId: string;
  paidAt: Date | null;
  shippedAt: Date | null;
  deliveredAt: Date | null;
  completedAt: Date | null;
}

export interface DecryptPorts {
  orderFacts(shopId: string, orderIds: string[]): Promise<OrderFact[]>;
  /** Paid orders of the shop per local day in [from, to). */
  paidOrdersByDay(shopId: string, from: Date, to: Date): Promise<number[]>;
}

export interface DecryptCaller {
  accountId: string;
  roles: readonly string[];
  /** Who to audit; may still be resolving (the route looks it up while decrypt reads). */
  audit: AuditActor | Promise<AuditActor>;
}

export interface DecryptedRecipient {
  orderId: string;
  name: string;
  /** A virtual number (`main-ext`) bound to the order: the real phone is never handed out. */
  phone: string;
  phoneIsVirtual: true;
  phoneExpiresAt: Date;
  province: string;
  city: string;
  district: string;
  detail: string;
}

const DECRYPTABLE = new Set(['paid', 'shipped', 'delivered', 'completed']);
export const DECRYPT_BATCH_MAX = 50;

/**
 * Decryption is a privileged act (订单解密): a permitted role, a stated reason, an order that
 * is paid and still inside its after-sales window, the shop's daily quota, and an audit
 * event for every attempt, refused ones included.
 */
export class DecryptService {
  /** `shop|day` of quota rows known to exist, so a decrypt need not look for its row again. */
  private readonly quotaDays = new Set<string>();

  constructor(
    private readonly p: Platform,
    private readonly vault: PrivacyVault,
    private readonly numbers: VirtualNumbers,
    private readonly audit: AuditLog,
    private readonly ports: DecryptPorts,
  ) {}

  private get offset() {
    return this.p.config.PLATFORM_UTC_OFFSET_MINUTES;
  }

  /** When after-sales can no longer be opened: AFTER_SALES_DAYS after delivery (or receipt). */
  afterSalesEndsAt(o: Pick<OrderFact, 'deliveredAt' | 'completedAt'>): Date | null {
    const from = o.deliveredAt ?? o.completedAt;
    return from ? new Date(from.getTime() + this.p.config.AFTER_SALES_DAYS * DAY) : null;
  }

  /**
   * How long a virtual number handed out now should last: the end of the after-sales window
   * once delivery is known, else the latest it can be (auto-confirmation plus after-sales,
   * counted from shipping or payment). Stable across calls, so re-decrypting moves nothing.
   */
  private numberExpiry(o: OrderFact): Date {
    const known = this.afterSalesEndsAt(o);
    if (known) return known;
    const from = (o.shippedAt ?? o.paidAt ?? this.p.clock.now()).getTime();
    return new Date(from + (this.p.config.AUTO_CONFIRM_DAYS + this.p.config.AFTER_SALES_DAYS) * DAY);
  }

  async decrypt(
    caller: DecryptCaller,
    shopId: string,
    orderIds: string[],
    reason: string,
  ): Promise<DecryptedRecipient[]> {
    const ids = [...new Set(orderIds)];
    const now = this.p.clock.now();
    const day = localDay(now, this.offset);
    // Independent reads side by side: the caller's audit identity, the grant (service providers
    // only), the orders, and today's quota row (made at the first decrypt of the day; its base
    // depends on days before today only, so making it for a refused call changes nothing).
    const [actor, granted, facts] = await settled([
      caller.audit,
      caller.roles.includes('service_provider') ? this.hasGrant(shopId, caller.accountId) : true,
      this.ports.orderFacts(shopId, ids),
      this.ensureDay(shopId, day),
    ] as const);
    const refuse = async (err: AppError, details: Record<string, unknown> = {}) => {
      await this.audit.record(this.p.db, {
        operation: 'denied',
        actor,
        shopId,
        orderIds: ids,
        reason,
        details: { attempted: 'decrypt', code: err.code, ...details },
      });
      return err;
    };
    if (!granted) {
      throw await refuse(
        new AppError(
          'FORBIDDEN',
          'Service providers cannot decrypt buyer data unless the shop has granted it to this account.',
        ),
      );
    }
    const missing = ids.filter((id) => !facts.some((f) => f.id === id));
    if (missing.length)
      throw new AppError('ORDER_NOT_FOUND', `Order ${missing[0]} was not found`, { missing });
    const closed = facts.filter((f) => {
      const end = this.afterSalesEndsAt(f);
      return !DECRYPTABLE.has(f.status) || (end !== null && end <= now);
    });
    if (closed.length) {
      throw await refuse(
        new AppError(
          'DECRYPT_NOT_ALLOWED',
          `Only paid orders inside their after-sales window can be decrypted; ${closed.map((c) => `${c.id} is ${c.status}`).join(', ')}.`,
          { orderIds: closed.map((c) => c.id) },
        ),
      );
    }
    try {
      return await inTransaction(this.p.db, async (tx) => {
        // The quota, the recipients, the number bindings and the audit event are issued side by
        // side (pipelined on PostgreSQL's one transaction connection). The event is known before
        // anything is read and commits only with the rest; its chain lock adds no wait between
        // decrypts of a shop, which the quota row already serialises. Every statement settles
        // before the transaction ends, even when one of them fails.
        const [[spent], plain, numbers] = await settled([
          tx
            .update(decryptQuotas)
            .set({ used: sql`${decryptQuotas.used} + ${ids.length}` })
            .where(
              and(
                eq(decryptQuotas.shopId, shopId),
                eq(decryptQuotas.day, day),
                sql`${decryptQuotas.used} + ${ids.length} <= ${decryptQuotas.base} + ${decryptQuotas.raised}`,
              ),
            )
            .returning({ used: decryptQuotas.used }),
          this.vault.openRecipients(
            tx,
            shopId,
            facts.map((f) => f.recipientId),
          ),
          this.numbers.bindForOrders(
            tx,
            facts.map((f) => ({
              orderId: f.id,
              shopId,
              recipientId: f.recipientId,
              expiresAt: this.numberExpiry(f),
            })),
          ),
          this.audit.record(tx, { operation: 'decrypt', actor, shopId, orderIds: ids, reason }),
        ] as const);
        if (!spent) {
          const q = await this.readQuota(tx, shopId, day);
          throw new AppError(
            'DECRYPT_QUOTA_EXCEEDED',
            `Today's decrypt quota is spent (${q.used} of ${q.base + q.raised} used; ${ids.length} asked). It resets at 00:00; a temporary raise needs a reason.`,
            { ...q },
          );
        }
        const byRecipient = new Map(plain.map((p) => [p.id, p]));
        return facts.map((f): DecryptedRecipient => {
          const r = byRecipient.get(f.recipientId)!;
          const vn = numbers.get(f.id)!;
          return {
            orderId: f.id,
            name: r.name,
            phone: vn.number,
            phoneIsVirtual: true,
            phoneExpiresAt: vn.expiresAt,
            province: r.province,
            city: r.city,
            district: r.district,
            detail: r.detail,
          };
        });
      });
    } catch (err) {
      if (
        err instanceof AppError &&
        (err.code === 'DECRYPT_QUOTA_EXCEEDED' || err.code === 'RECIPIENT_SHREDDED')
      ) {
        throw await refuse(err);
      }
      throw err;
    }
  }

  /** Today's quota (created at first use: highest daily paid orders of the last 7 days × coefficient). */
  async quota(shopId: string) {
    const day = localDay(this.p.clock.now(), this.offset);
    await this.ensureDay(shopId, day);
    return this.readQuota(this.p.db, shopId, day);
  }

  private async readQuota(ex: Executor, shopId: string, day: string) {
    const [q] = await ex
      .select()
      .from(decryptQuotas)
      .where(and(eq(decryptQuotas.shopId, shopId), eq(decryptQuotas.day, day)));
    const { base, raised, used, raiseReason } = q!;
    return { day, base, raised, used, remaining: Math.max(0, base + raised - used), raiseReason };
  }

  /**
   * A temporary raise for today, with a written reason; it lapses at 23:59:59 because quotas
   * are kept per local day. As on Douyin Shop, it can be asked only once the base is spent.
   */
  async raise(shopId: string, amount: number, reason: string) {
    const q = await this.quota(shopId);
    if (q.used < q.base) {
      throw new AppError(
        'INVALID_STATE',
        `A raise can be requested only once today's base quota is spent (${q.used} of ${q.base} used).`,
      );
    }
    await this.p.db
      .update(decryptQuotas)
      .set({ raised: sql`${decryptQuotas.raised} + ${amount}`, raiseReason: reason })
      .where(and(eq(decryptQuotas.shopId, shopId), eq(decryptQuotas.day, q.day)));
    return this.quota(shopId);
  }

  /** Makes the shop's quota row for `day` (a local day) unless it exists; rows are never deleted. */
  private async ensureDay(shopId: string, day: string): Promise<void> {
    const known = `${shopId}|${day}`;
    if (this.quotaDays.has(known)) return;
    const [exists] = await this.p.db
      .select({ day: decryptQuotas.day })
      .from(decryptQuotas)
      .where(and(eq(decryptQuotas.shopId, shopId), eq(decryptQuotas.day, day)));
    if (!exists) await this.createDay(shopId, day);
    if (this.quotaDays.size >= 10_000) this.quotaDays.clear();
    this.quotaDays.add(known);
  }

  private async createDay(shopId: string, day: string): Promise<void> {
    const todayStart = startOfLocalDay(day, this.offset);
    const counts = await this.ports.paidOrdersByDay(
      shopId,
      new Date(todayStart.getTime() - 7 * DAY),
      todayStart,
    );
    const base = Math.max(
      this.p.config.DECRYPT_QUOTA_MIN,
      Math.ceil(Math.max(0, ...counts) * this.p.config.DECRYPT_QUOTA_COEFFICIENT),
    );
    await this.p.db.insert(decryptQuotas).values({ shopId, day, base }).onConflictDoNothing();
  }

  async hasGrant(shopId: string, accountId: string): Promise<boolean> {
    const [g] = await this.p.db
      .select()
      .from(privacyGrants)
      .where(
        and(
          eq(privacyGrants.shopId, shopId),
          eq(privacyGrants.accountId, accountId),
          isNull(privacyGrants.revokedAt),
        ),
      );
    return !!g;
  }

  async setGrant(shopId: string, accountId: string, grantedBy: string, granted: boolean, reason: string) {
    const now = this.p.clock.now();
    await this.p.db
      .insert(privacyGrants)
      .values({ shopId, accountId, grantedBy, reason, grantedAt: now, revokedAt: granted ? null : now })
      .onConflictDoUpdate({
        target: [privacyGrants.shopId, privacyGrants.accountId],
        set: { grantedBy, reason, grantedAt: now, revokedAt: granted ? null : now },
      });
    return { shopId, accountId, granted };
  }
}

/**
 * Promise.all that waits for every promise to settle before it rejects with the first
 * failure: statements issued side by side in a transaction must all be finished before it
 * rolls back, or a late one would run on the connection after the transaction is gone.
 */
async function settled<const T extends readonly unknown[]>(
  work: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
