import { and, asc, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Db, Executor, Tx } from './db.js';
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

/** Handlers run in their own transaction; their effects and the dedup row commit together. */
export type EventHandler = (event: DomainEvent<any>, tx: Tx) => Promise<void>;

const LEASE_MS = 30_000;

interface Subscription {
  name: string;
  topic: string;
  handle: EventHandler;
}

/** Records an event in the caller's transaction; it is delivered after commit. */
export async function recordEvent(
  tx: Executor,
  clock: Clock,
  topic: string,
  aggregateId: string,
  payload: Record<string, unknown>,
): Promise<string> {
  const id = newId('event');
  await tx.insert(outboxEvents).values({ id, topic, aggregateId, payload, createdAt: clock.now() });
  return id;
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
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  subscribe(name: string, topic: string, handle: EventHandler): void {
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
    await this.running;
  }

  /** Ask for a delivery round soon (called after a commit that recorded events). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.deliverAll()
      .then(() => undefined)
      .catch((err) => this.log.error({ err }, 'outbox delivery round failed'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Delivers everything due, after any round in flight; resolves when the outbox is drained (tests, shutdown). */
  async drain(): Promise<number> {
    while (this.running) await this.running;
    return this.deliverAll();
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
   * Claims a batch with a short lease (SKIP LOCKED, committed at once), then runs the handlers
   * outside that transaction: a node that dies mid-batch leaves rows that another node takes
   * once the lease lapses. Leases use wall time, not the injected domain clock.
   */
  private async deliverBatch(limit: number): Promise<number> {
    const now = new Date();
    const leaseUntil = new Date(now.getTime() + LEASE_MS);
    const batch = await inTransaction(this.db, async (tx) => {
      const rows = await tx
        .select()
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
      if (rows.length > 0) {
        await tx
          .update(outboxEvents)
          .set({ nextAttemptAt: leaseUntil })
          .where(
            inArray(
              outboxEvents.id,
              rows.map((r) => r.id),
            ),
          );
      }
      return rows;
    });
    if (batch.length === 0) return 0;
    const done: string[] = [];
    for (const row of batch) {
      const event: DomainEvent = {
        id: row.id,
        topic: row.topic,
        aggregateId: row.aggregateId,
        payload: row.payload as Record<string, unknown>,
        createdAt: row.createdAt,
      };
      try {
        for (const sub of this.subs) {
          if (sub.topic === event.topic || sub.topic === '*') await this.runHandler(sub, event);
        }
        done.push(row.id);
      } catch (err) {
        const attempts = row.attempts + 1;
        this.log.warn(
          { eventId: row.id, topic: row.topic, attempts, err },
          'event handler failed; will retry',
        );
        await this.db
          .update(outboxEvents)
          .set({
            attempts,
            lastError: String((err as Error)?.message ?? err).slice(0, 500),
            nextAttemptAt: new Date(Date.now() + Math.min(60_000, 250 * 2 ** attempts)),
          })
          .where(eq(outboxEvents.id, row.id));
      }
    }
    if (done.length > 0) {
      await this.db
        .update(outboxEvents)
        .set({ publishedAt: new Date() })
        .where(inArray(outboxEvents.id, done));
    }
    return done.length;
  }

  private async runHandler(sub: Subscription, event: DomainEvent): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      const claimed = await tx
        .insert(eventHandlerRuns)
        .values({ handler: sub.name, eventId: event.id, handledAt: this.clock.now() })
        .onConflictDoNothing()
        .returning({ eventId: eventHandlerRuns.eventId });
      if (claimed.length === 0) return; // already handled in an earlier delivery
      await sub.handle(event, tx);
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
