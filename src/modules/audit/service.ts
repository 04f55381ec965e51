import { createHash } from 'node:crypto';
import { and, asc, desc, eq, gt, gte, lt, or, type SQL, sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../platform/auth.js';
import type { Platform } from '../../platform/context.js';
import type { Db, Executor, Tx } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { inTransaction, isUniqueViolation } from '../../platform/tx.js';
import { shopMembers } from '../identity/schema.js';
import { securityEvents } from './schema.js';

/**
 * What was done to order data. The first group maps to Douyin's
 * `security.batchReportOrderSecurityEvent` operation_type (1 view_order, 2 view_order_list,
 * 5 print_order, 6 print_order_list, 7 export_order, 8 export_order_list, 9 delete_order);
 * the rest are Livecart's own: plaintext decrypt, a carrier redeeming a waybill payload,
 * a virtual-number call, and a refused attempt at any of these.
 */
export const AUDIT_OPERATIONS = [
  'view_order',
  'view_order_list',
  'print_order',
  'print_order_list',
  'export_order',
  'export_order_list',
  'delete_order',
  'decrypt',
  'redeem_waybill',
  'call',
  'denied',
] as const;
export type AuditOperation = (typeof AUDIT_OPERATIONS)[number];

export const ACCOUNT_TYPES = [
  'buyer',
  'merchant_owner',
  'merchant_staff',
  'service_provider',
  'operator',
  'carrier',
  'telephony',
  'system',
] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

/** Who acted, from where. `ip` is the real client (Fastify's `req.ip` honours TRUSTED_PROXIES). */
export interface AuditActor {
  accountId: string | null;
  accountType: AccountType;
  ip: string | null;
  userAgent: string | null;
}

export interface AuditInput {
  operation: AuditOperation;
  actor: AuditActor;
  /** The shop whose orders were touched; null for platform-wide actions (its chain is `platform`). */
  shopId: string | null;
  /** Any number: more than MAX_ORDER_IDS_PER_EVENT are written as several events. */
  orderIds: string[];
  /** Why (decrypt, export, raise): free text the actor typed. */
  reason?: string;
  /**
   * Ids and figures only (counts, filters, page size, export format, quota left, error code).
   * NEVER plain PII — no names, phones, addresses, decrypted text or masks: the log is
   * append-only, so PII written here could never be shredded.
   */
  details?: Record<string, unknown>;
}

export interface SecurityEventView {
  id: string;
  chain: string;
  seq: number;
  operation: string;
  accountId: string | null;
  accountType: string;
  shopId: string | null;
  orderIds: string[];
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  occurredAt: string;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  shopId?: string | undefined;
  /** `platform` or `shop:<shopId>`. */
  chain?: string | undefined;
  accountId?: string | undefined;
  operation?: AuditOperation | undefined;
  orderId?: string | undefined;
  /** Inclusive. */
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

export interface VerifyResult {
  ok: boolean;
  chains: number;
  events: number;
  firstBroken?: { chain: string; seq: number; id: string; problem: string };
}

/** The platform rule (Douyin: order_ids ≤ 50 per event). */
export const MAX_ORDER_IDS_PER_EVENT = 50;
export const MAX_QUERY_LIMIT = 200;
export const USER_AGENT_MAX = 300;
/** prev_hash of a chain's first event. */
export const GENESIS_HASH = 'genesis';
const VERIFY_BATCH = 5_000;
/** Events a coalesced standalone flush writes in one transaction (a larger single record() still goes whole). */
const FLUSH_MAX_EVENTS = 500;
const INSERT_CHUNK = 1_000;
/**
 * Namespace for the two-key form of pg_advisory_xact_lock(ns, hashtext(chain)): two-key
 * advisory locks never collide with one-key ones (the migration lock in db.ts uses one key).
 * 0x61756474 = 'audt'.
 */
const LOCK_NAMESPACE = 0x61756474;

const SHOP_SIDE = new Set<string>(['merchant_owner', 'merchant_staff', 'service_provider']);

export const chainOf = (shopId: string | null): string => (shopId ? `shop:${shopId}` : 'platform');

// ---------------------------------------------------------------------------------------------
// Hashing. The algorithm, so an outside verifier can reproduce it:
//   hash = base64url(sha256(prev_hash || canonical))
// where prev_hash is the previous event's hash in the same chain (GENESIS_HASH for seq 1) and
// canonical is JSON.stringify of an object with exactly these keys in this order:
//   id, chain, seq, operation, accountId, accountType, shopId, orderIds, reason, ip,
//   userAgent, details (object keys sorted recursively), occurredAt (ISO 8601, UTC, ms)
// ---------------------------------------------------------------------------------------------

interface HashedFields {
  id: string;
  chain: string;
  seq: number;
  operation: string;
  accountId: string | null;
  accountType: string;
  shopId: string | null;
  orderIds: string[];
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  occurredAt: Date;
}

export function eventHash(prevHash: string, e: HashedFields): string {
  const [before, after] = canonicalAround(e);
  return createHash('sha256').update(prevHash).update(`${before}${e.seq}${after}`).digest('base64url');
}

/**
 * The canonical JSON of an event split around its seq (`before + seq + after`), so the one
 * place that knows its seq — the database, for a standalone append — can finish the hash.
 */
function canonicalAround(e: Omit<HashedFields, 'seq'>): [string, string] {
  const head = JSON.stringify({ id: e.id, chain: e.chain });
  const tail = JSON.stringify({
    operation: e.operation,
    accountId: e.accountId,
    accountType: e.accountType,
    shopId: e.shopId,
    orderIds: e.orderIds,
    reason: e.reason,
    ip: e.ip,
    userAgent: e.userAgent,
    details: sortKeys(e.details),
    occurredAt: e.occurredAt.toISOString(),
  });
  return [`${head.slice(0, -1)},"seq":`, `,${tail.slice(1)}`];
}

/** jsonb reorders object keys, so the hash covers details with keys sorted at every level. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

// A NUL is refused by PostgreSQL text and jsonb, and a lone surrogate is stored as U+FFFD: either
// would make the stored row differ from what was hashed, so strings are made storable first.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this must find
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const storable = (s: string): string => s.replace(UNSTORABLE, '\uFFFD');
const storableOrNull = (s: string | null | undefined): string | null => (s == null ? null : storable(s));

/** Details as they come back from jsonb: JSON round trip (drops undefined, Dates → ISO), clean strings, sorted keys. */
function normaliseDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!details) return {};
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') return storable(v);
    if (Array.isArray(v)) return v.map(clean);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[storable(k)] = clean(x);
      return out;
    }
    return v;
  };
  return sortKeys(clean(JSON.parse(JSON.stringify(details)))) as Record<string, unknown>;
}

function isTransaction(ex: Executor): ex is Tx {
  return typeof (ex as { rollback?: unknown }).rollback === 'function';
}

/**
 * A duplicate (chain, seq) can only happen when the caller's transaction read the chain head
 * from a snapshot older than the lock (repeatable read / serializable). Reported as a
 * serialization failure so inTransaction retries the use case.
 */
class ChainConflict extends Error {
  readonly code = '40001';
  constructor(chain: string, cause: unknown) {
    super(`security event chain ${chain} moved under a stale snapshot; retry`, { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// Actors
// ---------------------------------------------------------------------------------------------

/** Jobs and webhooks acting on their own. */
export const SYSTEM_ACTOR: AuditActor = { accountId: null, accountType: 'system', ip: null, userAgent: null };

/** The actor of an HTTP request: the authenticated account, the real client IP and the user agent. */
export function actorFrom(req: FastifyRequest, accountType: AccountType): AuditActor {
  const ua = req.headers['user-agent'];
  return {
    accountId: req.principal?.accountId ?? null,
    accountType,
    ip: req.ip || null,
    userAgent: typeof ua === 'string' && ua.length > 0 ? storable(ua.slice(0, USER_AGENT_MAX)) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// The log
// ---------------------------------------------------------------------------------------------

type Row = typeof securityEvents.$inferSelect;

/** An event ready to append: everything but its place in the chain. */
type Pending = Omit<HashedFields, 'seq'>;
interface Waiter {
  events: Pending[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class AuditLog {
  /** Standalone appends waiting for their chain's running flush, per database handle. */
  private readonly queues = new WeakMap<Db, Map<string, Waiter[]>>();

  constructor(private readonly p: Platform) {}

  /**
   * Appends an event (several when orderIds exceed 50) to its chain.
   *
   * Given a transaction, the event commits or rolls back with the use case. Appends to one
   * chain are serialised by a transaction-scoped advisory lock held until the caller commits:
   * call record() last in a use case (or issue it with its last statements, as decrypt does),
   * and only from read-committed transactions (the project default).
   *
   * Given the bare database (read paths such as order lists), the event is written in its own
   * transaction — one statement when it is alone (appendStatement) — and the promise settles
   * once it has committed. Concurrent standalone appends
   * to one chain on this node share a transaction (one lock, one insert, one commit), so a
   * busy shop's chain is not limited to one commit per append.
   */
  async record(ex: Executor, e: AuditInput): Promise<void> {
    const chain = chainOf(e.shopId);
    const events = this.prepare(chain, e);
    if (isTransaction(ex)) return this.append(ex, chain, events);
    return this.enqueue(ex, chain, events);
  }

  private prepare(chain: string, e: AuditInput): Pending[] {
    const occurredAt = this.p.clock.now();
    const details = normaliseDetails(e.details);
    const orderIds = e.orderIds.map(storable);
    const parts: string[][] = [];
    for (let i = 0; i < orderIds.length; i += MAX_ORDER_IDS_PER_EVENT) {
      parts.push(orderIds.slice(i, i + MAX_ORDER_IDS_PER_EVENT));
    }
    if (parts.length === 0) parts.push([]);
    return parts.map((ids, i) => ({
      id: newId('securityEvent'),
      chain,
      operation: e.operation,
      accountId: e.actor.accountId,
      accountType: e.actor.accountType,
      shopId: e.shopId,
      orderIds: ids,
      reason: storableOrNull(e.reason),
      ip: storableOrNull(e.actor.ip),
      userAgent: storableOrNull(e.actor.userAgent),
      details:
        parts.length > 1
          ? (sortKeys({ ...details, part: i + 1, parts: parts.length }) as Record<string, unknown>)
          : details,
      occurredAt,
    }));
  }

  private enqueue(db: Db, chain: string, events: Pending[]): Promise<void> {
    let byChain = this.queues.get(db);
    if (!byChain) {
      byChain = new Map();
      this.queues.set(db, byChain);
    }
    const chains = byChain;
    return new Promise<void>((resolve, reject) => {
      const waiter = { events, resolve, reject };
      const running = chains.get(chain);
      if (running) {
        running.push(waiter); // the flush in progress takes it next round
        return;
      }
      const queue = [waiter];
      chains.set(chain, queue);
      void this.drain(db, chains, chain, queue);
    });
  }

  private async drain(db: Db, chains: Map<string, Waiter[]>, chain: string, queue: Waiter[]): Promise<void> {
    while (queue.length > 0) {
      const batch: Waiter[] = [];
      let rows = 0;
      while (queue.length > 0 && (batch.length === 0 || rows + queue[0]!.events.length <= FLUSH_MAX_EVENTS)) {
        const w = queue.shift()!;
        batch.push(w);
        rows += w.events.length;
      }
      try {
        const events = batch.flatMap((w) => w.events);
        const alone = events.length === 1 && (await this.appendStatement(db, events[0]!));
        if (!alone) await inTransaction(db, (tx) => this.append(tx, chain, events));
        for (const w of batch) w.resolve();
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        // One caller's bad event must not fail the others: each goes again on its own.
        else await Promise.all(batch.map((w) => this.appendAlone(db, chain, w)));
      }
    }
    chains.delete(chain);
  }

  private async appendAlone(db: Db, chain: string, w: Waiter): Promise<void> {
    try {
      await inTransaction(db, (tx) => this.append(tx, chain, w.events));
      w.resolve();
    } catch (err) {
      w.reject(err);
    }
  }

  /**
   * One standalone event in one statement (its own transaction, one round trip): see
   * insertAfterHead. Its snapshot is taken before the lock is granted: if another append
   * committed meanwhile, the seq is taken and the unique (chain, seq) index refuses the row;
   * then false, and the caller appends the usual way.
   */
  private async appendStatement(db: Db, e: Pending): Promise<boolean> {
    try {
      await this.insertAfterHead(db, e);
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Takes the chain's lock, reads its head and inserts the event after it, in one statement;
   * the hash is finished in SQL from the canonical text made here: base64url(sha256(prev_hash
   * || before || seq || after)), the bytes eventHash hashes. The head comes from the
   * statement's snapshot, so it is current only if the lock was held before the statement
   * began (append) or nobody committed to the chain while it waited (appendStatement).
   */
  private insertAfterHead(ex: Executor, e: Pending) {
    const [before, after] = canonicalAround(e);
    return ex.execute(sql`
      with locked as (select pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, hashtext(${e.chain}))),
      head as (select seq, hash from ${securityEvents} where chain = ${e.chain} order by seq desc limit 1),
      next as (
        select coalesce((select seq from head), 0) + 1 as seq,
               coalesce((select hash from head), ${GENESIS_HASH}) as prev_hash
        from locked)
      insert into ${securityEvents} (id, chain, seq, prev_hash, hash, operation, account_id, account_type,
        shop_id, order_ids, reason, ip, user_agent, details, occurred_at)
      select ${e.id}, ${e.chain}, next.seq, next.prev_hash,
        rtrim(translate(encode(sha256(convert_to(next.prev_hash || ${before} || next.seq::text || ${after}, 'UTF8')),
          'base64'), '+/', '-_'), '='),
        ${e.operation}, ${e.accountId}, ${e.accountType}, ${e.shopId},
        array(select x from jsonb_array_elements_text(${JSON.stringify(e.orderIds)}::jsonb) with ordinality as o(x, n) order by n),
        ${e.reason}, ${e.ip}, ${e.userAgent}, ${JSON.stringify(e.details)}::jsonb, ${e.occurredAt.toISOString()}::timestamptz
      from next`);
  }

  /** Locks the chain, reads its head and inserts the events after it, in the given transaction. */
  private async append(tx: Tx, chain: string, events: Pending[]): Promise<void> {
    const lock = tx.execute(sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, hashtext(${chain}))`);
    if (events.length === 1) {
      // Issued together: on one connection the insert starts once the lock is granted, so its
      // snapshot holds the chain as the previous holder committed it (read committed). One
      // round trip for the whole append.
      try {
        await Promise.all([lock, this.insertAfterHead(tx, events[0]!)]);
        return;
      } catch (err) {
        if (isUniqueViolation(err)) throw new ChainConflict(chain, err);
        throw err;
      }
    }
    // Likewise the head read runs after the lock is granted.
    const [, [head]] = await Promise.all([
      lock,
      tx
        .select({ seq: securityEvents.seq, hash: securityEvents.hash })
        .from(securityEvents)
        .where(eq(securityEvents.chain, chain))
        .orderBy(desc(securityEvents.seq))
        .limit(1),
    ]);
    let seq = head?.seq ?? 0;
    let prevHash = head?.hash ?? GENESIS_HASH;
    const rows: Row[] = events.map((e) => {
      seq += 1;
      const fields: HashedFields = { ...e, seq };
      const hash = eventHash(prevHash, fields);
      const row: Row = { ...fields, prevHash, hash };
      prevHash = hash;
      return row;
    });
    try {
      // Chunked to stay far below PostgreSQL's 65,535 bind parameters per statement.
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        await tx.insert(securityEvents).values(rows.slice(i, i + INSERT_CHUNK));
      }
    } catch (err) {
      if (isUniqueViolation(err)) throw new ChainConflict(chain, err);
      throw err;
    }
  }

  /**
   * The account type of a merchant-route caller for `shopId`: owner, staff, a service
   * provider (服务商) working as staff, or an operator. Reads identity's shop_members table
   * directly — one primary-key lookup, read-only — rather than widening IdentityService's
   * AuthResolver surface for a single column.
   */
  async accountTypeForShop(
    principal: Principal,
    shopId: string,
    ex: Executor = this.p.db,
  ): Promise<AccountType> {
    const [m] = await ex
      .select({ role: shopMembers.role })
      .from(shopMembers)
      .where(and(eq(shopMembers.shopId, shopId), eq(shopMembers.accountId, principal.accountId)));
    if (m?.role === 'owner') return 'merchant_owner';
    if (principal.roles.includes('service_provider')) return 'service_provider';
    if (m) return 'merchant_staff';
    if (principal.roles.includes('operator')) return 'operator';
    return 'merchant_staff';
  }

  /** actorFrom for a merchant route with `:shopId` (the caller is authenticated by then). */
  async actorForShop(req: FastifyRequest, shopId: string): Promise<AuditActor> {
    if (!req.principal) return actorFrom(req, 'merchant_staff');
    return actorFrom(req, await this.accountTypeForShop(req.principal, shopId));
  }

  /** Operators: every chain, filtered; newest first with a keyset cursor. */
  async query(filter: AuditQuery): Promise<{ items: SecurityEventView[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), MAX_QUERY_LIMIT);
    const conds: SQL[] = [];
    if (filter.shopId) conds.push(eq(securityEvents.shopId, filter.shopId));
    if (filter.chain) conds.push(eq(securityEvents.chain, filter.chain));
    if (filter.accountId) conds.push(eq(securityEvents.accountId, filter.accountId));
    if (filter.operation) conds.push(eq(securityEvents.operation, filter.operation));
    // `@>` rather than `= any(...)` so a GIN index on order_ids would serve it.
    if (filter.orderId) conds.push(sql`${securityEvents.orderIds} @> array[${filter.orderId}]::text[]`);
    if (filter.from) conds.push(gte(securityEvents.occurredAt, filter.from));
    if (filter.to) conds.push(lt(securityEvents.occurredAt, filter.to));
    if (filter.cursor) {
      const c = decodeCursor(filter.cursor);
      conds.push(
        or(
          lt(securityEvents.occurredAt, c.at),
          and(eq(securityEvents.occurredAt, c.at), lt(securityEvents.id, c.id)),
        )!,
      );
    }
    const rows = await this.p.db
      .select()
      .from(securityEvents)
      .where(and(...conds))
      .orderBy(desc(securityEvents.occurredAt), desc(securityEvents.id))
      .limit(limit);
    const last = rows.length === limit ? rows[rows.length - 1]! : null;
    return { items: rows.map(toView), nextCursor: last ? encodeCursor(last.occurredAt, last.id) : null };
  }

  /**
   * A shop's own chain only. IP and user agent are shown for the shop's own people (owner,
   * staff, service providers) only: a buyer's are the buyer's personal data, and those of
   * operators, carriers, telephony and jobs belong to the platform.
   */
  async queryShop(
    shopId: string,
    filter: Omit<AuditQuery, 'shopId' | 'chain'>,
  ): Promise<{ items: SecurityEventView[]; nextCursor: string | null }> {
    const page = await this.query({ ...filter, shopId, chain: chainOf(shopId) });
    return {
      items: page.items.map((e) => (SHOP_SIDE.has(e.accountType) ? e : { ...e, ip: null, userAgent: null })),
      nextCursor: page.nextCursor,
    };
  }

  /**
   * Recomputes every chain (or one) in seq order: seq starts at 1 with no gaps (a deleted row
   * shows as a gap), each prev_hash is the previous hash, each hash matches the row. Streams
   * with keyset pagination on (chain, seq). Removing a chain's newest rows leaves a valid
   * shorter chain: anchoring heads elsewhere is what would catch that.
   */
  async verifyChains(opts: { chain?: string } = {}): Promise<VerifyResult> {
    return verifyChains(this.p.db, opts);
  }
}

export async function verifyChains(
  db: Db,
  opts: { chain?: string; batchSize?: number } = {},
): Promise<VerifyResult> {
  const batch = opts.batchSize ?? VERIFY_BATCH;
  let chains = 0;
  let events = 0;
  let firstBroken: VerifyResult['firstBroken'];
  let chain: string | null = null;
  let lastSeq = 0;
  let lastHash = GENESIS_HASH;
  let cursor: { chain: string; seq: number } | null = null;
  for (;;) {
    const conds: SQL[] = [];
    if (opts.chain) conds.push(eq(securityEvents.chain, opts.chain));
    if (cursor) {
      conds.push(
        opts.chain
          ? gt(securityEvents.seq, cursor.seq)
          : sql`(${securityEvents.chain}, ${securityEvents.seq}) > (${cursor.chain}, ${cursor.seq})`,
      );
    }
    const rows = await db
      .select()
      .from(securityEvents)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(asc(securityEvents.chain), asc(securityEvents.seq))
      .limit(batch);
    for (const r of rows) {
      events++;
      if (r.chain !== chain) {
        chains++;
        chain = r.chain;
        lastSeq = 0;
        lastHash = GENESIS_HASH;
      }
      const problem = checkRow(r, lastSeq, lastHash);
      if (problem && !firstBroken) firstBroken = { chain: r.chain, seq: r.seq, id: r.id, problem };
      lastSeq = r.seq;
      lastHash = r.hash;
    }
    if (rows.length < batch) break;
    const last = rows[rows.length - 1]!;
    cursor = { chain: last.chain, seq: last.seq };
  }
  return firstBroken ? { ok: false, chains, events, firstBroken } : { ok: true, chains, events };
}

function checkRow(r: Row, lastSeq: number, lastHash: string): string | null {
  if (r.seq !== lastSeq + 1) {
    return lastSeq + 1 === r.seq - 1
      ? `gap: seq ${lastSeq + 1} is missing`
      : `gap: seq ${lastSeq + 1}–${r.seq - 1} are missing`;
  }
  if (r.prevHash !== lastHash) return 'prev_hash does not match the previous event';
  if (r.chain !== chainOf(r.shopId)) return `chain does not match shop_id ${r.shopId ?? 'null'}`;
  const expected = eventHash(r.prevHash, {
    ...r,
    details: (r.details ?? {}) as Record<string, unknown>,
  });
  if (expected !== r.hash) return 'hash mismatch: the event was changed after it was written';
  return null;
}

function toView(r: Row): SecurityEventView {
  return {
    id: r.id,
    chain: r.chain,
    seq: r.seq,
    operation: r.operation,
    accountId: r.accountId,
    accountType: r.accountType,
    shopId: r.shopId,
    orderIds: r.orderIds,
    reason: r.reason,
    ip: r.ip,
    userAgent: r.userAgent,
    details: r.details as Record<string, unknown>,
    occurredAt: r.occurredAt.toISOString(),
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const at = new Date(iso ?? '');
  if (!id || !/^sev_[0-9a-z]{26}$/.test(id) || Number.isNaN(at.getTime())) {
    throw new AppError('VALIDATION_FAILED', 'querystring.cursor: not a cursor returned by this list', {});
  }
  return { at, id };
}
