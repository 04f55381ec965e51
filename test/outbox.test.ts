import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxDispatcher, recordEvent } from '../src/platform/outbox.js';
import { eventHandlerRuns, outboxEvents } from '../src/platform/schema.js';
import { inTransaction } from '../src/platform/tx.js';
import { startTestApp, type TestContext, unique } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('transactional outbox', () => {
  it('delivers each event to each handler once, isolates a failing event, and retries it', async () => {
    const { db, clock, log } = t.app.platform;
    // Only this test's dispatcher may deliver: the app's own would publish these events too.
    await t.app.platform.outbox.stop();
    const topic = unique('test.topic.');
    const dispatcher = new OutboxDispatcher(db, clock, log);
    let downstreamUp = false;
    const count = unique('count-');
    const flaky = unique('flaky-');
    dispatcher.subscribe(count, topic, async () => {});
    dispatcher.subscribe(flaky, topic, async (e) => {
      if (e.payload.n === 2 && !downstreamUp) throw new Error('downstream unavailable');
    });
    // What each handler has committed, by event payload n.
    const handled = async () => {
      const rows = await db
        .select({ handler: eventHandlerRuns.handler, n: sql<number>`(${outboxEvents.payload}->>'n')::int` })
        .from(eventHandlerRuns)
        .innerJoin(outboxEvents, eq(outboxEvents.id, eventHandlerRuns.eventId))
        .where(inArray(eventHandlerRuns.handler, [count, flaky]));
      return rows.map((r) => `${r.handler === count ? 'count' : 'flaky'}:${r.n}`).sort();
    };
    const ids = await inTransaction(db, async (tx) =>
      Promise.all([1, 2, 3].map((n) => recordEvent(tx, clock, topic, `agg_${n}`, { n }))),
    );
    // A rolled-back transaction leaves no event behind.
    await expect(
      inTransaction(db, async (tx) => {
        await recordEvent(tx, clock, topic, 'agg_x', { n: 99 });
        throw new Error('use case failed');
      }),
    ).rejects.toThrow('use case failed');

    await dispatcher.drain();
    expect(await handled()).toEqual(['count:1', 'count:2', 'count:3', 'flaky:1', 'flaky:3']);
    const rows = await db
      .select()
      .from(outboxEvents)
      .where(inArray(outboxEvents.id, ids))
      .orderBy(outboxEvents.id);
    expect(rows.filter((r) => r.publishedAt).map((r) => r.payload)).toEqual([{ n: 1 }, { n: 3 }]);
    const failed = rows.find((r) => !r.publishedAt)!;
    expect(failed).toMatchObject({ attempts: 1, lastError: 'downstream unavailable' });

    // The retry is due after its backoff; the handler that already succeeded is not run again.
    downstreamUp = true;
    await db.update(outboxEvents).set({ nextAttemptAt: null }).where(eq(outboxEvents.id, failed.id));
    await dispatcher.drain();
    const all = ['count:1', 'count:2', 'count:3', 'flaky:1', 'flaky:2', 'flaky:3'];
    expect(await handled()).toEqual(all);

    // Redelivery (e.g. a node died after handling but before marking published) changes nothing.
    await db
      .update(outboxEvents)
      .set({ publishedAt: null, nextAttemptAt: null })
      .where(inArray(outboxEvents.id, ids));
    await dispatcher.drain();
    expect(await handled()).toEqual(all);
    const [{ pending }] = (await db
      .select({ pending: sql<number>`count(*)::int` })
      .from(outboxEvents)
      .where(and(inArray(outboxEvents.id, ids), isNull(outboxEvents.publishedAt)))) as [{ pending: number }];
    expect(pending).toBe(0);
  });
});
