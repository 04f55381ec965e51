import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type Column, getTableColumns, type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { PgDatabase, PgDialect, PgQueryResultHKT, PgTable, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

// drizzle is built without the schema: its relational query API (`db.query.*`), unused here,
// would otherwise build a query builder per table for every transaction object.
export type Db = PgDatabase<PgQueryResultHKT>;
export type Tx = PgTransaction<PgQueryResultHKT>;
/** Either the database or an open transaction: services accept both. */
export type Executor = Db | Tx;

export const MIGRATIONS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../drizzle');

export interface Database {
  db: Db;
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl?: string | undefined;
  pgliteDir?: string;
  poolMax?: number;
}

/** PostgreSQL when a URL is given, else embedded PGlite; migrations run before the handle is returned. */
export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const client = postgres(opts.databaseUrl, {
      max: opts.poolMax ?? 20,
      onnotice: () => {},
      connection: { application_name: 'livecart' },
    });
    const db = drizzlePostgres(preparedStatements(client)) as unknown as Db;
    // Several nodes may start at once: one migrates, the others wait on the advisory lock,
    // held on a dedicated single connection so lock and migration share a session.
    const migrator = postgres(opts.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await migrator`select pg_advisory_lock(7461221)`;
      await migratePostgres(drizzlePostgres(migrator), { migrationsFolder: MIGRATIONS_FOLDER });
      await migrator`select pg_advisory_unlock(7461221)`;
    } finally {
      await migrator.end({ timeout: 5 });
    }
    return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
  }
  const dir = opts.pgliteDir ?? 'memory://';
  if (!dir.startsWith('memory://')) mkdirSync(dir, { recursive: true });
  const client = await PGlite.create(dir);
  const db = drizzlePglite(client) as unknown as Db;
  await migratePglite(drizzlePglite(client), { migrationsFolder: MIGRATIONS_FOLDER });
  return { db, kind: 'pglite', close: () => client.close() };
}

/**
 * drizzle sends every query as an unnamed statement, so PostgreSQL parses and plans it each
 * time. postgres.js can instead keep named statements per connection (keyed by SQL text,
 * which drizzle always parameterises); on this project's checkout path that measured 1.5–1.8×
 * the transactions per second. This wraps the client so every parameterised query is
 * prepared, and gives transactions a lazy BEGIN (see pipelinedBegin).
 */
function preparedStatements(sql: postgres.Sql<any>): postgres.Sql<any> {
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        return (query: string, args?: unknown[], options?: object) =>
          target.unsafe(query, args as any[], { ...options, prepare: true });
      }
      if (prop === 'begin') {
        return (...params: any[]) => pipelinedBegin(target, params.pop(), params[0]);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/**
 * A transaction on a reserved connection whose BEGIN goes out with its first statement, in one
 * write and one round trip (postgres.js's own `begin` waits for BEGIN before the first
 * statement, a round trip per transaction). Once the body has settled the connection takes no
 * more statements from it, so a statement issued late (say by one branch of a Promise.all
 * whose other branch failed) cannot run outside the transaction after its ROLLBACK; and a
 * COMMIT that PostgreSQL answers with ROLLBACK (the body swallowed an error) throws.
 */
async function pipelinedBegin(
  client: postgres.Sql<any>,
  body: (tx: postgres.TransactionSql<any>) => unknown,
  mode?: string,
): Promise<unknown> {
  const conn = await client.reserve();
  let begun = false;
  let open = true;
  let savepoints = 0;
  /** The COMMIT sent right behind the transaction's last statement (see executeLast). */
  let committing: postgres.PendingQuery<any> | null = null;
  const ready = () => {
    if (!open) throw new Error('statement issued after its transaction ended');
    if (!begun) {
      begun = true;
      // Queued first on the connection, so it precedes the statement in the same write.
      conn.unsafe(mode ? `begin ${mode.replace(/[^a-z ]/gi, '')}` : 'begin').execute();
    }
  };
  const unsafe = (query: string, args?: unknown[], options?: object) => {
    ready();
    return conn.unsafe(query, args as any[], { ...options, prepare: true });
  };
  const lastThenCommit = (query: string, args: unknown[]) => {
    const last = unsafe(query, args);
    // Queued now, in this order, so both go out in one write.
    last.execute();
    committing = conn.unsafe('commit');
    committing.execute();
    open = false;
    return last;
  };
  const tx: postgres.TransactionSql<any> = new Proxy(conn, {
    // A tagged-template query (tx`…`) is in the transaction too.
    apply(target, thisArg, args) {
      ready();
      return Reflect.apply(target, thisArg, args);
    },
    get(target, prop, receiver) {
      if (prop === 'unsafe') return unsafe;
      if (prop === LAST_THEN_COMMIT) return lastThenCommit;
      if (prop === 'savepoint') {
        return async (...params: any[]) => {
          const fn = params.pop() as (t: postgres.TransactionSql<any>) => unknown;
          const name = `s${++savepoints}`;
          await unsafe(`savepoint ${name}`);
          try {
            const out = await fn(tx);
            await unsafe(`release savepoint ${name}`);
            return out;
          } catch (err) {
            await unsafe(`rollback to savepoint ${name}`);
            throw err;
          }
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as unknown as postgres.TransactionSql<any>;
  try {
    let result: unknown;
    try {
      result = await body(tx);
    } catch (err) {
      open = false;
      // A COMMIT sent already ends the transaction either way (ROLLBACK, if a statement failed).
      if (committing) await Promise.resolve(committing).catch(() => {});
      else if (begun) await conn.unsafe('rollback').catch(() => {});
      throw err;
    }
    open = false;
    if (begun) {
      const done = await (committing ?? conn.unsafe('commit'));
      if (done.command !== 'COMMIT') throw new Error('transaction failed and was rolled back');
    }
    return result;
  } finally {
    conn.release();
  }
}

const LAST_THEN_COMMIT = Symbol('lastThenCommit');

/**
 * Runs `statement` as the transaction's last, and commits right behind it: on PostgreSQL the
 * COMMIT goes out in the same write as the statement, a round trip less. So the statement
 * itself must fail when the transaction must not commit (check its outcome inside it, with
 * `livecart_check(condition, message)`, which raises SQLSTATE LC409): a failed statement
 * turns the COMMIT into a ROLLBACK. Nothing else of the transaction may be in flight, and
 * nothing may run in it afterwards. Elsewhere (PGlite) it is a plain statement, and the
 * transaction commits when its body returns.
 */
export async function executeLast<T>(tx: Tx, statement: SQL): Promise<T[]> {
  const client = (tx as unknown as { _: { session: { client: Record<symbol, unknown> } } })._.session.client;
  const lastThenCommit = client[LAST_THEN_COMMIT] as
    | ((query: string, args: unknown[]) => Promise<T[]>)
    | undefined;
  if (!lastThenCommit) return rowsOf<T>(await tx.execute(statement));
  const { sql: text, params } = (tx as unknown as { dialect: PgDialect }).dialect.sqlToQuery(statement);
  return rowsOf<T>(await lastThenCommit(text, params));
}

/** Whether an error is livecart_check's refusal (see executeLast). */
export const isCheckRefusal = (err: unknown): boolean =>
  (err as { code?: string } | null)?.code === 'LC409' ||
  ((err as { cause?: { code?: string } } | null)?.cause?.code ?? '') === 'LC409';

/** Rows of a raw `execute` result: postgres-js returns an array, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/**
 * Inserts rows with ONE parameter: the rows as a JSON array that PostgreSQL expands with
 * json_populate_recordset. drizzle's insert binds and builds every value as its own parameter,
 * which was most of the CPU of a group-committed checkout; this SQL text is also the same for
 * any number of rows, so it stays one prepared statement. Rows must all carry the same
 * properties (those left out take the column defaults). `tail` follows the insert (e.g.
 * `on conflict do nothing returning id`); the rows it returns come back, snake_case.
 */
export async function insertJson<T extends PgTable, R = Record<string, unknown>>(
  ex: Executor,
  table: T,
  rows: T['$inferInsert'][],
  tail?: SQL,
): Promise<R[]> {
  if (rows.length === 0) return [];
  return rowsOf<R>(await ex.execute(insertJsonSql(table, rows, { tail })));
}

/**
 * The INSERT that insertJson runs (rows non-empty), to embed in a larger statement, e.g. as a
 * data-modifying CTE; `when` makes it conditional (`… WHERE <when>`).
 */
export function insertJsonSql<T extends PgTable>(
  table: T,
  rows: T['$inferInsert'][],
  opts: { when?: SQL | undefined; tail?: SQL | undefined } = {},
): SQL {
  const { names, json } = rowsJson(table, rows);
  return sql`insert into ${table} (${sql.raw(names)}) select ${sql.raw(names)} from json_populate_recordset(null::${table}, ${json}::json) ${opts.when ? sql`where ${opts.when}` : sql``} ${opts.tail ?? sql``}`;
}

/**
 * The rows (of the shape of the first) as a JSON array of objects keyed by column name, as
 * json_populate_recordset reads them, and the quoted list of their columns. Written out
 * directly, without an object per row.
 */
export function rowsJson<T extends PgTable>(
  table: T,
  rows: T['$inferInsert'][],
): { names: string; json: string } {
  const { props, keys, names } = columnsFor(table, rows[0]!);
  let json = '[';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>;
    json += i > 0 ? ',' : '';
    if (props.length === 0) json += '{';
    for (let c = 0; c < props.length; c++) json += keys[c]! + jsonValue(row[props[c]!]);
    json += '}';
  }
  return { names, json: `${json}]` };
}

/**
 * A value as JSON (undefined as null). The rows of one statement mostly share one timestamp
 * (the clock's now), and a Date's ISO text costs ~1 µs: the last one is remembered.
 */
let lastDate = { ms: Number.NaN, json: 'null' };
function jsonValue(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (v instanceof Date) {
    const ms = v.getTime();
    if (ms !== lastDate.ms) lastDate = { ms, json: JSON.stringify(v) };
    return lastDate.json;
  }
  return JSON.stringify(v);
}

/**
 * The columns a row carries: their properties, each column's `{"name":` / `,"name":` prefix in
 * a row's JSON, and the quoted column list; cached per table and row shape.
 */
const columnCache = new WeakMap<PgTable, Map<string, { props: string[]; keys: string[]; names: string }>>();
function columnsFor(table: PgTable, row: object) {
  const shape = Object.keys(row).join(',');
  let byShape = columnCache.get(table);
  if (!byShape) {
    byShape = new Map();
    columnCache.set(table, byShape);
  }
  let hit = byShape.get(shape);
  if (!hit) {
    const present = Object.entries(getTableColumns(table)).filter(([prop]) => prop in row) as [
      string,
      Column,
    ][];
    hit = {
      props: present.map(([prop]) => prop),
      keys: present.map(([, col], i) => `${i === 0 ? '{' : ','}${JSON.stringify(col.name)}:`),
      names: present.map(([, col]) => `"${col.name}"`).join(', '),
    };
    byShape.set(shape, hit);
  }
  return hit;
}

/**
 * A drizzle query whose SQL is built once. drizzle builds a query's text at every execution
 * (walking its columns, escaping names, collecting parameters): on the checkout path that was
 * about a third of all the memory allocated, hence of the garbage collector's work. `build`
 * makes the query with `sql.placeholder(name)` for what varies (for a list, `inJson(column,
 * sql.placeholder(name))` with the value `jsonList(ids)`); each call fills them in and runs it
 * on the executor given (the database or a transaction), mapping rows as drizzle does.
 */
export function prebuilt<R>(
  build: (ex: Executor) => {
    prepare(name: string): { execute(values?: Record<string, unknown>): Promise<R> };
  },
): (ex: Executor, values: Record<string, unknown>) => Promise<R> {
  let template: object | undefined;
  return (ex, values) => {
    template ??= build(ex).prepare('prebuilt');
    // The same prepared query, run through the given executor's connection.
    const query = Object.create(template) as {
      client: unknown;
      execute(v: Record<string, unknown>): Promise<R>;
    };
    query.client = (ex as unknown as { _: { session: { client: unknown } } })._.session.client;
    return query.execute(values);
  };
}

/** The value of an `inJson` placeholder. */
export const jsonList = (values: readonly string[]): string => JSON.stringify(values);

/**
 * `column IN (values)` with the values as ONE jsonb parameter. drizzle's inArray binds one
 * parameter per value, so every list length is another statement text: PostgreSQL parses and
 * plans each anew (custom plans). One text for any length lets it settle on a generic plan.
 */
export function inJson(column: Column | SQL, values: readonly string[] | Placeholder): SQL {
  // = ANY(array(…)): the array is computed once (an InitPlan) and the column is matched by
  // its index, where `IN (SELECT …)` would plan a join.
  const list = Array.isArray(values) ? jsonList(values) : values;
  return sql`${column} = any(array(select jsonb_array_elements_text(${list}::jsonb)))`;
}
