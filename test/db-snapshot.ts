import { sql } from 'drizzle-orm';
import { type Db, rowsOf } from '../src/platform/db.js';

/** Row counts of every table: "writes nothing" means this is unchanged. */
export async function tableCounts(db: Db): Promise<Record<string, number>> {
  const tables = rowsOf<{ table_name: string }>(
    await db.execute(
      sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`,
    ),
  ).map((r) => r.table_name);
  const union = tables.map((t) => `select '${t}' as t, count(*)::int as n from "${t}"`).join(' union all ');
  const rows = rowsOf<{ t: string; n: number }>(await db.execute(sql.raw(union)));
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

/** Every text value in every public table, for PII leak scans. */
export async function allTextValues(db: Db): Promise<string[]> {
  const cols = rowsOf<{ table_name: string; column_name: string }>(
    await db.execute(sql`
      select table_name, column_name from information_schema.columns
      where table_schema = 'public' and data_type in ('text', 'jsonb', 'character varying', 'ARRAY')`),
  );
  const out: string[] = [];
  for (const c of cols) {
    const rows = rowsOf<{ v: string | null }>(
      await db.execute(sql.raw(`select "${c.column_name}"::text as v from "${c.table_name}"`)),
    );
    for (const r of rows) if (r.v) out.push(r.v);
  }
  return out;
}
