import type { Db, Tx } from './db.js';

/** SQLSTATEs worth retrying: serialization_failure and deadlock_detected. */
const RETRYABLE = new Set(['40001', '40P01']);

function sqlState(err: unknown): string | undefined {
  let e: any = err;
  // drizzle wraps driver errors (DrizzleQueryError.cause); walk the chain.
  for (let depth = 0; e && depth < 5; depth++, e = e.cause) {
    if (typeof e.code === 'string' && e.code.length === 5) return e.code;
  }
  return undefined;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  let e: any = err;
  for (let depth = 0; e && depth < 5; depth++, e = e.cause) {
    if (e.code === '23505')
      return !constraint || e.constraint_name === constraint || e.constraint === constraint;
  }
  return false;
}

export interface TxOptions {
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable';
  maxAttempts?: number;
}

/**
 * One use case, one transaction. Serialisation failures and deadlocks are retried with
 * jittered backoff, so a use case must not have side effects outside the transaction
 * (outbox events are inserted in it, and delivered after commit).
 */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>, opts: TxOptions = {}): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      // Read committed is the server default; naming it would cost a `SET TRANSACTION` round trip.
      const config =
        opts.isolationLevel && opts.isolationLevel !== 'read committed'
          ? { isolationLevel: opts.isolationLevel }
          : undefined;
      return await db.transaction(fn as any, config);
    } catch (err) {
      const state = sqlState(err);
      if (!state || !RETRYABLE.has(state) || attempt >= maxAttempts) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** attempt));
    }
  }
}
