import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../src/platform/db.js';
import { OutboxDispatcher, recordEvent, recordEvents } from '../src/platform/outbox.js';
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
    await db
      .update(outboxEvents)
      .set({ nextAttemptAt: new Date(Date.now() - 1) })
      .where(eq(outboxEvents.id, failed.id));
    await dispatcher.drain();
    const all = ['count:1', 'count:2', 'count:3', 'flaky:1', 'flaky:2', 'flaky:3'];
    expect(await handled()).toEqual(all);

    // Redelivery (a node died after handling but before marking published, and its lease
    // lapsed) changes nothing.
    await db
      .update(outboxEvents)
      .set({ publishedAt: null, nextAttemptAt: new Date(Date.now() - 1) })
      .where(inArray(outboxEvents.id, ids));
    await dispatcher.drain();
    expect(await handled()).toEqual(all);
    const [{ pending }] = (await db
      .select({ pending: sql<number>`count(*)::int` })
      .from(outboxEvents)
      .where(and(inArray(outboxEvents.id, ids), isNull(outboxEvents.publishedAt)))) as [{ pending: number }];
    expect(pending).toBe(0);
  });

  it('delivers new events in one transaction per batch, once, across dispatchers; a failing handler sends the batch the careful way', async () => {
    const { db, clock, log } = t.app.platform;
    await t.app.platform.outbox.stop();
    await db.execute(
      sql`create table if not exists test_outbox_effects (handler text not null, event_id text not null)`,
    );
    const topic = unique('test.fast.');
    const a = unique('a-');
    const b = unique('b-');
    let failOn: number | null = null;
    // Two dispatchers with the same subscriptions: two nodes side by side.
    const nodes = [0, 1].map(() => {
      const d = new OutboxDispatcher(db, clock, log);
      for (const name of [a, b]) {
        d.subscribeBatch(name, topic, async (events, tx) => {
          if (name === b && events.some((e) => e.payload.n === failOn)) throw new Error('handler b down');
          for (const e of events) {
            await tx.execute(
              sql`insert into test_outbox_effects (handler, event_id) values (${name}, ${e.id})`,
            );
          }
        });
      }
      return d;
    });
    const effects = async (ids: string[]) => {
      const rows = rowsOf<{ handler: string; event_id: string; n: number }>(
        await db.execute(sql`select handler, event_id, count(*)::int as n from test_outbox_effects
          where event_id = any(${sql.raw(`array[${ids.map((id) => `'${id}'`).join(',')}]`)}::text[])
          group by handler, event_id`),
      );
      return rows;
    };
    const record = (ns: number[]) =>
      inTransaction(db, (tx) =>
        recordEvents(
          tx,
          clock,
          ns.map((n) => ({ topic, aggregateId: `agg_${n}`, payload: { n } })),
        ),
      );

    // 250 events, both nodes draining at once: every handler sees every event exactly once,
    // and the fast way leaves no dedup rows behind.
    const ids = await record(Array.from({ length: 250 }, (_, i) => i));
    await Promise.all(nodes.map((d) => d.drain()));
    const got = await effects(ids);
    expect(got).toHaveLength(500);
    expect(got.every((r) => r.n === 1)).toBe(true);
    const runs = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(eventHandlerRuns)
      .where(inArray(eventHandlerRuns.eventId, ids));
    expect(runs[0]!.n).toBe(0);
    const unpublished = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(outboxEvents)
      .where(and(inArray(outboxEvents.id, ids), isNull(outboxEvents.publishedAt)));
    expect(unpublished[0]!.n).toBe(0);

    // Handler b fails on one event: the fast transaction rolls back (a's effects too), and the
    // careful way delivers the rest once and holds that one event back for b alone.
    failOn = 1002;
    const more = await record([1001, 1002, 1003]);
    await nodes[0]!.drain();
    const after = await effects(more);
    expect(after.every((r) => r.n === 1)).toBe(true);
    expect(after.map((r) => `${r.handler === a ? 'a' : 'b'}:${more.indexOf(r.event_id)}`).sort()).toEqual([
      'a:0',
      'a:1',
      'a:2',
      'b:0',
      'b:2',
    ]);
    const [held] = await db.select().from(outboxEvents).where(eq(outboxEvents.id, more[1]!));
    expect(held).toMatchObject({ publishedAt: null, attempts: 1, lastError: 'handler b down' });
    // Its retry runs b only: a already did its part, recorded by the careful way's dedup row.
    failOn = null;
    await db
      .update(outboxEvents)
      .set({ nextAttemptAt: new Date(Date.now() - 1) })
      .where(eq(outboxEvents.id, more[1]!));
    await nodes[1]!.drain();
    const final = await effects(more);
    expect(final).toHaveLength(6);
    expect(final.every((r) => r.n === 1)).toBe(true);
  });
});
