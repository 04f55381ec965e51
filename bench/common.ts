import { sql } from 'drizzle-orm';
import { type App, buildApp } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
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
