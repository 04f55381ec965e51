import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { type App, buildApp } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
import { rowsOf } from '../src/platform/db.js';
import { ephemeralMasterKey, type MasterKeyProvider } from '../src/platform/keys.js';

/**
 * Benchmarks run on PostgreSQL when DATABASE_URL is set, else on an in-memory PGlite. They
 * create their own uniquely named rows, so any migrated database will do.
 */
export async function benchApp(opts: { masterKey?: MasterKeyProvider } = {}): Promise<App> {
  const config = loadConfig(process.env, {
    PGLITE_DIR: 'memory://',
    JOB_INTERVAL_MS: 0,
    SEED_DEMO: false,
    LOG_LEVEL: 'warn',
    DB_POOL_MAX: 40,
  });
  return buildApp({
    config,
    masterKey: opts.masterKey ?? ephemeralMasterKey(),
    background: process.env.BENCH_BG !== '0',
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** Runs `worker` on `concurrency` loops for `seconds`; returns per-call latencies (ms). */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  worker: (slot: number) => Promise<void>,
) {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, slot) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await worker(slot);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          if (errors <= 3) console.error(err);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    latencies,
    elapsed,
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

export async function vacuumAnalyze(app: App): Promise<void> {
  if (app.database.kind === 'postgres') await app.platform.db.execute(sql`analyze`);
}

/**
 * CPU used by the PostgreSQL backends of the app's pool, read from /proc: only when the
 * database runs on this machine (a remote server's pids are not ours to read), else null.
 * Takes a snapshot; `since(snapshot)` gives the milliseconds used since, for the backends
 * alive at its end (one that started meanwhile counts from its start).
 */
export async function databaseCpu(app: App) {
  if (app.database.kind !== 'postgres') return null;
  const pids = async () =>
    rowsOf<{ pid: number }>(
      await app.platform.db.execute(
        sql`select pid from pg_stat_activity where datname = current_database() and application_name = 'livecart'`,
      ),
    ).map((r) => Number(r.pid));
  const ticks = async (): Promise<Map<number, number>> => {
    const out = new Map<number, number>();
    for (const pid of await pids()) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
        // Fields after the parenthesised command: state is 3rd, utime 14th, stime 15th.
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        out.set(pid, Number(fields[11]) + Number(fields[12]));
      } catch {
        // Not on this machine, or gone.
      }
    }
    return out;
  };
  if ((await ticks()).size === 0) return null;
  // USER_HZ: Linux reports process times in hundredths of a second.
  const TICK_MS = 10;
  return {
    snapshot: ticks,
    async since(before: Map<number, number>): Promise<number> {
      let sum = 0;
      for (const [pid, t] of await ticks()) sum += t - (before.get(pid) ?? 0);
      return sum * TICK_MS;
    },
  };
}
