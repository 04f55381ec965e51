import { and, asc, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { type Db, type Executor, inJson, insertJson, type Tx } from './db.js';
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

/** Handlers run in a transaction; their effects and the dedup row commit together. */
export type EventHandler = (event: DomainEvent<any>, tx: Tx) => Promise<void>;
/**
 * A handler that takes its events together (in outbox order, each new to it), so it can write
 * them with a few set-based statements instead of a few statements each.
 */
export type BatchEventHandler = (events: DomainEvent<any>[], tx: Tx) => Promise<void>;

const LEASE_MS = 30_000;

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

/**
 * In-process dispatcher: at-least-once delivery of outbox rows to subscribers. Rows are
 * claimed with SKIP LOCKED so several nodes can run it side by side.
 */
export class OutboxDispatcher {
  private readonly subs: Subscription[] = [];
  private running: Promise<void> | null = null;
  private again = false;
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
    this.timer = setInterval(() => this.wake(), pollMs);
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
        this.round();
      }, this.windowMs);
      return;
    }
    this.round();
  }

  private round(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.deliverAsRound().catch((err) => this.log.error({ err }, 'outbox delivery round failed'));
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
    return this.deliverAsRound();
  }

  /** The one round in flight: wake-ups meanwhile ask for another once it is done. */
  private async deliverAsRound(): Promise<number> {
    const round = this.deliverAll();
    this.running = round.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await round;
    } finally {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    }
  }

  private async deliverAll(): Promise<number> {
    let delivered = 0;
    for (;;) {
      const n = await this.deliverBatch(100);
      delivered += n;
      if (n === 0) return delivered;
    }
  }

  /**
   * Claims a batch with a short lease (one statement: SKIP LOCKED, committed at once), then
   * runs the handlers outside that claim: a node that dies mid-batch leaves rows that another
   * node takes once the lease lapses. Leases use wall time, not the injected domain clock.
   *
   * Fast path: every subscription's handler over the batch, the dedup rows and the published
   * mark in ONE transaction (a handful of round trips for the whole batch). If anything in it
   * fails, it rolls back and the batch goes the careful way: one transaction per subscription,
   * and a failing subscription retried event by event so one bad event holds up nothing else.
   */
  private async deliverBatch(limit: number): Promise<number> {
    const now = new Date();
    const leaseUntil = new Date(now.getTime() + LEASE_MS);
    const due = this.db
      .select({ id: outboxEvents.id })
      .from(outboxEvents)
      .where(
        and(
          isNull(outboxEvents.publishedAt),
          or(isNull(outboxEvents.nextAttemptAt), lte(outboxEvents.nextAttemptAt, now)),
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
    const plan = this.subs
      .map((sub) => ({ sub, mine: events.filter((e) => sub.topic === '*' || sub.topic === e.topic) }))
      .filter((p) => p.mine.length > 0);
    const ids = batch.map((row) => row.id);
    try {
      await inTransaction(this.db, async (tx) => {
        if (plan.length > 0) {
          const handledAt = this.clock.now();
          const claimed = await insertJson<typeof eventHandlerRuns, { handler: string; event_id: string }>(
            tx,
            eventHandlerRuns,
            plan.flatMap(({ sub, mine }) =>
              mine.map((e) => ({ handler: sub.name, eventId: e.id, handledAt })),
            ),
            sql`on conflict do nothing returning handler, event_id`,
          );
          const fresh = new Set(claimed.map((c) => `${c.handler}\u0000${c.event_id}`));
          for (const { sub, mine } of plan) {
            const todo = mine.filter((e) => fresh.has(`${sub.name}\u0000${e.id}`));
            if (todo.length > 0) await sub.handle(todo, tx);
          }
        }
        await tx.update(outboxEvents).set({ publishedAt: new Date() }).where(inJson(outboxEvents.id, ids));
      });
      return batch.length;
    } catch (err) {
      this.log.debug({ err }, 'outbox batch failed as a whole; delivering subscription by subscription');
    }
    const failed = new Map<string, unknown>();
    for (const { sub, mine: all } of plan) {
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
