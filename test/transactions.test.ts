import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeLast, isCheckRefusal, rowsOf } from '../src/platform/db.js';
import { inTransaction } from '../src/platform/tx.js';
import { startTestApp, type TestContext, unique } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
  await t.app.platform.db.execute(sql`create table if not exists test_tx_marks (mark text primary key)`);
});
afterAll(() => t.close());

const marks = async (mark: string) =>
  rowsOf<{ n: number }>(
    await t.app.platform.db.execute(sql`select count(*)::int as n from test_tx_marks where mark = ${mark}`),
  )[0]!.n;

// The PostgreSQL driver's transactions send BEGIN lazily and guard their end (platform/db.ts
// pipelinedBegin); PGlite's are its own. The behaviour asked of both is the same.
describe('transactions', () => {
  it('commit with the first statement, roll back on failure, and run nothing issued after their end', async () => {
    const { db } = t.app.platform;
    const kept = unique('kept-');
    await inTransaction(db, (tx) => tx.execute(sql`insert into test_tx_marks values (${kept})`));
    expect(await marks(kept)).toBe(1);

    // One branch of a Promise.all fails at once; the other issues a statement later. The later
    // statement must not run outside the rolled-back transaction.
    const late = unique('late-');
    let lateStatement: Promise<unknown> | null = null;
    const gone = unique('gone-');
    await expect(
      inTransaction(
        db,
        (tx) =>
          Promise.all([
            tx.execute(sql`insert into test_tx_marks values (${gone})`),
            (async () => {
              await new Promise((r) => setTimeout(r, 30));
              lateStatement = Promise.resolve(tx.execute(sql`insert into test_tx_marks values (${late})`));
              await lateStatement.catch(() => {});
            })(),
            Promise.reject(new Error('use case failed')),
          ]),
        { maxAttempts: 1 },
      ),
    ).rejects.toThrow('use case failed');
    await new Promise((r) => setTimeout(r, 60));
    await (lateStatement as Promise<unknown> | null)?.catch(() => {});
    expect(await marks(gone)).toBe(0);
    expect(await marks(late)).toBe(0);

    // A body that swallows a failed statement does not commit what came before it.
    const swallowed = unique('swallowed-');
    const attempt = inTransaction(
      db,
      async (tx) => {
        await tx.execute(sql`insert into test_tx_marks values (${swallowed})`);
        await tx.execute(sql`insert into test_tx_marks values (${swallowed})`).catch(() => {});
      },
      { maxAttempts: 1 },
    );
    if (t.app.platform.dbKind === 'postgres') {
      await expect(attempt).rejects.toThrow(/rolled back/);
    } else {
      await attempt.catch(() => {});
    }
    expect(await marks(swallowed)).toBe(0);
  });

  it('keeps a tagged-template statement inside the transaction', async () => {
    if (t.app.platform.dbKind !== 'postgres') return;
    const { db } = t.app.platform;
    const mark = unique('tagged-');
    await expect(
      inTransaction(
        db,
        async (tx) => {
          const client = (
            tx as unknown as {
              _: { session: { client: (s: TemplateStringsArray, ...v: unknown[]) => Promise<unknown> } };
            }
          )._.session.client;
          await client`insert into test_tx_marks values (${mark})`;
          throw new Error('abort');
        },
        { maxAttempts: 1 },
      ),
    ).rejects.toThrow('abort');
    expect(await marks(mark)).toBe(0);
  });

  it('commit right behind their last statement, which rolls everything back when its check fails', async () => {
    const { db } = t.app.platform;
    const first = unique('first-');
    const last = unique('last-');
    const rows = await inTransaction(db, async (tx) => {
      await tx.execute(sql`insert into test_tx_marks values (${first})`);
      return executeLast<{ ok: boolean }>(
        tx,
        sql`with i as (insert into test_tx_marks values (${last}) returning 1)
            select livecart_check((select count(*) from i) = 1, 'one row') as ok`,
      );
    });
    expect(rows).toEqual([{ ok: true }]);
    expect([await marks(first), await marks(last)]).toEqual([1, 1]);

    const kept = unique('refused-first-');
    const refused = unique('refused-last-');
    const failed = await inTransaction(
      db,
      async (tx) => {
        await tx.execute(sql`insert into test_tx_marks values (${kept})`);
        return executeLast(
          tx,
          sql`with i as (insert into test_tx_marks values (${refused}) returning 1)
              select livecart_check((select count(*) from i) = 2, 'two rows wanted') as ok`,
        );
      },
      { maxAttempts: 1 },
    ).catch((err: unknown) => err);
    expect(isCheckRefusal(failed)).toBe(true);
    expect([await marks(kept), await marks(refused)]).toEqual([0, 0]);

    // Nothing runs in the transaction after its last statement (PostgreSQL: it has committed).
    if (t.app.platform.dbKind === 'postgres') {
      const after = unique('after-');
      const err = await inTransaction(
        db,
        async (tx) => {
          await executeLast(tx, sql`select 1 as one`);
          await tx.execute(sql`insert into test_tx_marks values (${after})`);
        },
        { maxAttempts: 1 },
      ).catch((e: unknown) => e as Error & { cause?: Error });
      expect(String(err?.cause?.message)).toMatch(/after its transaction ended/);
      expect(await marks(after)).toBe(0);
    }
  });
});
