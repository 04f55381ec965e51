import { and, asc, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { type Db, type Executor, inJson, insertJson, prebuilt, type Tx } from './db.js';
import { newId } from './ids.js';
import { eventHandlerRuns, outboxEvents } from './schema.js';
import { inTransaction } from './tx.js';

export interface DomainEvent<P = Record<string, unknown>> {
  id: string;
  topic: string;
  aggregateId: string;
  payload: P;
  createdAt: Date;
}

/** Handlers run in a transaction; their effects and the delivery record commit together. */
export type EventHandler = (event: DomainEvent<any>, tx: Tx) => Promise<void>;
/**
 * A handler that takes its events together (in outbox order, each new to it), so it can write
 * them with a few set-based statements instead of a few statements each.
 */
export type BatchEventHandler = (events: DomainEvent<any>[], tx: Tx) => Promise<void>;

const LEASE_MS = 30_000;
const BATCH = 100;

interface Subscription {
  name: string;
  topic: string;
  handle: BatchEventHandler;
}

/** Records an event in the caller's transaction; it is delivered after commit. */
export async function recordEvent(
  tx: Executor,
  clock: Clock,
  topic: string,
  aggregateId: string,
  payload: Record<string, unknown>,
): Promise<string> {
  return (await recordEvents(tx, clock, [{ topic, aggregateId, payload }]))[0]!;
}

/** Records several events with one statement, in the given order (ids ascend). */
export async function recordEvents(
  tx: Executor,
  clock: Clock,
  events: { topic: string; aggregateId: string; payload: Record<string, unknown> }[],
): Promise<string[]> {
  const rows = eventRows(clock, events);
  await insertJson(tx, outboxEvents, rows);
  return rows.map((r) => r.id);
}

/** Outbox rows for events, for a statement that inserts them itself (see insertJsonSql). */
export function eventRows(
  clock: Clock,
  events: { topic: string; aggregateId: string; payload: Record<string, unknown> }[],
) {
  const createdAt = clock.now();
  return events.map((e) => ({ id: newId('event'), ...e, createdAt }));
}

/** Events never delivered nor leased, locked in order (SKIP LOCKED): the fast path's batch. */
const lockFresh = prebuilt((ex) =>
  ex
    .select({
      id: outboxEvents.id,
      topic: outboxEvents.topic,
      aggregateId: outboxEvents.aggregateId,
      payload: outboxEvents.payload,
      createdAt: outboxEvents.createdAt,
    })
    .from(outboxEvents)
    .where(and(isNull(outboxEvents.publishedAt), isNull(outboxEvents.nextAttemptAt)))
    .orderBy(asc(outboxEvents.id))
    .limit(sql.placeholder('limit'))
    .for('update', { skipLocked: true }),
);

/**
 * In-process dispatcher: at-least-once delivery of outbox rows to subscribers. Rows are
 * claimed with SKIP LOCKED so several nodes can run it side by side.
 */
export class OutboxDispatcher {
  private readonly subs: Subscription[] = [];
  private running: Promise<void> | null = null;
  private again = false;
  private againCareful = false;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log: Logger,
    /**
     * How long a wake-up waits before its round, so the events of the commits around it are
     * delivered together (one transaction per round): under load that is a round per many
     * orders instead of one per commit. 0 delivers at once.
     */
    private readonly windowMs = 0,
  ) {}

  subscribe(name: string, topic: string, handle: EventHandler): void {
    this.subscribeBatch(name, topic, async (events, tx) => {
      for (const e of events) await handle(e, tx);
    });
  }

  subscribeBatch(name: string, topic: string, handle: BatchEventHandler): void {
    if (this.subs.some((s) => s.name === name)) throw new Error(`duplicate handler name ${name}`);
    this.subs.push({ name, topic, handle });
  }

  start(pollMs = 1_000): void {
    this.stopped = false;
    // The poll also looks for leases that lapsed (a node died mid-batch) and retries now due.
    this.timer = setInterval(() => this.round(true), pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.soon = null;
    await this.running;
  }

  /** Ask for a delivery round soon (called after a commit that recorded events). */
  wake(): void {
    if (this.stopped || this.soon) return;
    if (this.windowMs > 0 && !this.running) {
      this.soon = setTimeout(() => {
        this.soon = null;
        this.round(false);
      }, this.windowMs);
      return;
    }
    this.round(false);
  }

  private round(careful: boolean): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      this.againCareful ||= careful;
      return;
    }
    this.deliverAsRound(careful).catch((err) => this.log.error({ err }, 'outbox delivery round failed'));
  }

  /**
   * Delivers everything due, after any round in flight; resolves when the outbox is drained
   * (tests, shutdown). It is a round itself: a wake-up meanwhile waits for it, rather than
   * starting a round that would lease rows this one then cannot see.
   */
  async drain(): Promise<number> {
    if (this.soon) clearTimeout(this.soon);
    this.soon = null;
    while (this.running) await this.running;
    return this.deliverAsRound(true);
  }

  /** The one round in flight: wake-ups meanwhile ask for another once it is done. */
  private async deliverAsRound(careful: boolean): Promise<number> {
    const round = this.deliverAll(careful);
    this.running = round.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await round;
    } finally {
      this.running = null;
      if (this.again) {
        const again = this.againCareful;
        this.again = false;
        this.againCareful = false;
        if (again) this.round(true);
        else this.wake();
      }
    }
  }

  /**
   * New events go the fast way, batch by batch. The careful way takes what the fast way could
   * not deliver, and (in `careful` rounds: the poll, drain) leases that lapsed and retries due.
   */
  private async deliverAll(careful: boolean): Promise<number> {
    let delivered = 0;
    for (;;) {
      const n = await this.deliverFresh(BATCH);
      if (n === 'failed') {
        // The batch goes the careful way (which leases it, so it never comes back here).
        delivered += await this.deliverLeased(BATCH, true);
        continue;
      }
      delivered += n;
      if (n < BATCH) break;
    }
    if (!careful) return delivered;
    for (;;) {
      const n = await this.deliverLeased(BATCH, false);
      delivered += n;
      if (n === 0) return delivered;
    }
  }

  /**
   * Fast path: ONE transaction locks a batch of events never delivered nor leased (SKIP LOCKED,
   * so nodes side by side take different ones), runs every subscription's handler over it and
   * marks it published. Handlers and the mark commit together or not at all, so no dedup rows
   * are needed: an event is either delivered here, once, or not at all and still unleased. The
   * handlers' statements go out together on the transaction's connection.
   */
  private async deliverFresh(limit: number): Promise<number | 'failed'> {
    try {
      return await inTransaction(
        this.db,
        async (tx) => {
          const batch = await lockFresh(tx, { limit });
          if (batch.length === 0) return 0;
          const events = batch as DomainEvent[];
          // Every handler settles before the transaction ends: one failing must not leave
          // another's later statements to run on the connection after the rollback.
          const settled = await Promise.allSettled([
            ...this.planFor(events).map(({ sub, mine }) => sub.handle(mine, tx)),
            tx
              .update(outboxEvents)
              .set({ publishedAt: new Date() })
              .where(
                inJson(
                  outboxEvents.id,
                  events.map((e) => e.id),
                ),
              ),
          ]);
          for (const r of settled) if (r.status === 'rejected') throw r.reason;
          return batch.length;
        },
        { maxAttempts: 1 },
      );
    } catch (err) {
      this.log.debug({ err }, 'outbox batch failed as a whole; delivering subscription by subscription');
      return 'failed';
    }
  }

  private planFor(events: DomainEvent[]) {
    return this.subs
      .map((sub) => ({ sub, mine: events.filter((e) => sub.topic === '*' || sub.topic === e.topic) }))
      .filter((p) => p.mine.length > 0);
  }

  /**
   * The careful way: claims a batch (of due retries and lapsed leases; `unleasedToo`: also new
   * events the fast way failed on) with a short lease (one statement: SKIP LOCKED, committed at
   * once), then runs each subscription in its own transaction with a dedup row per event, and a
   * failing subscription event by event, so one bad event holds up nothing else. A node that
   * dies mid-batch leaves rows another node takes once the lease lapses; a leased event never
   * goes the fast way again, so the dedup rows keep what already ran from running twice.
   * Leases use wall time, not the injected domain clock.
   */
  private async deliverLeased(limit: number, unleasedToo: boolean): Promise<number> {
    const now = new Date();
    const leaseUntil = new Date(now.getTime() + LEASE_MS);
    const due = this.db
      .select({ id: outboxEvents.id })
      .from(outboxEvents)
      .where(
        and(
          isNull(outboxEvents.publishedAt),
          // Never-leased events are the fast way's, unless it just failed on them.
          unleasedToo
            ? or(isNull(outboxEvents.nextAttemptAt), lte(outboxEvents.nextAttemptAt, now))
            : lte(outboxEvents.nextAttemptAt, now),
        ),
      )
      .orderBy(asc(outboxEvents.id))
      .limit(limit)
      .for('update', { skipLocked: true });
    const batch = (
      await this.db
        .update(outboxEvents)
        .set({ nextAttemptAt: leaseUntil })
        .where(inArray(outboxEvents.id, due))
        .returning()
    ).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (batch.length === 0) return 0;
    const events: DomainEvent[] = batch.map((row) => ({
      id: row.id,
      topic: row.topic,
      aggregateId: row.aggregateId,
      payload: row.payload as Record<string, unknown>,
      createdAt: row.createdAt,
    }));
    const failed = new Map<string, unknown>();
    for (const { sub, mine: all } of this.planFor(events)) {
      const mine = all.filter((e) => !failed.has(e.id));
      if (mine.length === 0) continue;
      try {
        await this.runHandler(sub, mine);
      } catch {
        // Isolate the failing event: the others still get delivered.
        for (const e of mine) {
          try {
            await this.runHandler(sub, [e]);
          } catch (err) {
            failed.set(e.id, err);
          }
        }
      }
    }
    for (const row of batch) {
      const err = failed.get(row.id);
      if (!failed.has(row.id)) continue;
      const attempts = row.attempts + 1;
      this.log.warn({ eventId: row.id, topic: row.topic, attempts, err }, 'event handler failed; will retry');
      await this.db
        .update(outboxEvents)
        .set({
          attempts,
          lastError: String((err as Error)?.message ?? err).slice(0, 500),
          nextAttemptAt: new Date(Date.now() + Math.min(60_000, 250 * 2 ** attempts)),
        })
        .where(eq(outboxEvents.id, row.id));
    }
    const done = batch.filter((row) => !failed.has(row.id)).map((row) => row.id);
    if (done.length > 0) {
      await this.db
        .update(outboxEvents)
        .set({ publishedAt: new Date() })
        .where(inArray(outboxEvents.id, done));
    }
    return done.length;
  }

  /** Runs one handler over events in one transaction, skipping those it already handled. */
  private async runHandler(sub: Subscription, events: DomainEvent[]): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      const now = this.clock.now();
      const claimed = await tx
        .insert(eventHandlerRuns)
        .values(events.map((e) => ({ handler: sub.name, eventId: e.id, handledAt: now })))
        .onConflictDoNothing()
        .returning({ eventId: eventHandlerRuns.eventId });
      const fresh = new Set(claimed.map((c) => c.eventId));
      const todo = events.filter((e) => fresh.has(e.id));
      if (todo.length > 0) await sub.handle(todo, tx);
    });
  }

  /** Events not yet delivered (for health checks and tests). */
  async pendingCount(): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(outboxEvents)
      .where(isNull(outboxEvents.publishedAt));
    return row?.n ?? 0;
  }
}
