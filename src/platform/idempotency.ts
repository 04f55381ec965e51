import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Clock } from './clock.js';
import { type Db, insertJson, type Tx } from './db.js';
import { AppError } from './errors.js';
import { idempotencyKeys } from './schema.js';
import { inTransaction, type TxOptions } from './tx.js';

export interface IdempotentResult<T> {
  status: number;
  body: T;
  replayed: boolean;
}

/**
 * Hash of a request, to tell a retry from a different request under the same key. Callers
 * replace personal data by a keyed fingerprint first (see PrivacyVault.fingerprint), so a
 * stored hash cannot confirm a guessed phone number.
 */
export function requestHash(parts: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(parts ?? null))
    .digest('base64url');
}

/**
 * The stored response for a key, if its request completed. A use case calls this when its
 * checks fail before the transaction: a retry of a request that succeeded (say, before the
 * live room ended) must get that response back, not today's error.
 */
export async function storedResponse<T>(db: Db, ref: IdempotencyRef): Promise<IdempotentResult<T> | null> {
  const [prior] = await db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, ref.scope), eq(idempotencyKeys.key, ref.key)));
  if (!prior) return null;
  if (prior.requestHash !== ref.hash) {
    throw new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was already used for a different request; use a new key for a new request.',
    );
  }
  return { status: prior.statusCode, body: prior.response as T, replayed: true };
}

/** Runs pre-transaction checks; if they fail, a completed earlier request with the key wins. */
export async function checkOrReplay<C, T>(
  db: Db,
  ref: IdempotencyRef,
  checks: () => Promise<C>,
): Promise<{ checked: C } | { replay: IdempotentResult<T> }> {
  try {
    return { checked: await checks() };
  } catch (err) {
    const replay = err instanceof AppError ? await storedResponse<T>(db, ref) : null;
    if (replay) return { replay };
    throw err;
  }
}

export type IdempotencyRef = { scope: string; key: string; hash: string };

/**
 * Stores the responses of completed requests under their keys, in the use case's transaction
 * (one statement for several: group-committed use cases). Returns, in order, whether each key
 * was new; a key already taken keeps its first response, and the caller must roll back.
 */
export async function claimKeys(
  tx: Tx,
  clock: Clock,
  entries: { ref: IdempotencyRef; status: number; body: unknown }[],
): Promise<boolean[]> {
  if (entries.length === 0) return [];
  const claimed = await insertJson<typeof idempotencyKeys, { scope: string; key: string }>(
    tx,
    idempotencyKeys,
    keyRows(clock, entries),
    sql`on conflict do nothing returning scope, key`,
  );
  const fresh = new Set(claimed.map((c) => `${c.scope}\u0000${c.key}`));
  return entries.map(({ ref }) => fresh.has(`${ref.scope}\u0000${ref.key}`));
}

/** Idempotency rows for completed requests, for a statement that inserts them itself. */
export function keyRows(clock: Clock, entries: { ref: IdempotencyRef; status: number; body: unknown }[]) {
  const createdAt = clock.now();
  return entries.map(({ ref, status, body }) => ({
    scope: ref.scope,
    key: ref.key,
    requestHash: ref.hash,
    statusCode: status,
    response: body as object,
    createdAt,
  }));
}

/** Rolls back a transaction whose key turned out to be taken; the caller then replays. */
class KeyTaken extends Error {}

/**
 * Runs a use case at most once per (scope, key). The key is inserted with the response as
 * the last statement of the use case's own transaction. Two requests racing with one key
 * meet on that row (or, before it, on the rows the use case locks): the later one waits for
 * the first to commit, rolls back, and replays the first one's response. A failed use case
 * leaves no key, so a retry runs again. Use cases must lock what makes them unique (an
 * order row, say) before any external call, so a racing duplicate waits there rather than
 * charging twice.
 */
export async function runIdempotent<T>(
  db: Db,
  clock: Clock,
  ref: IdempotencyRef,
  work: (tx: Tx) => Promise<{ status: number; body: T }>,
  txOpts?: TxOptions,
): Promise<IdempotentResult<T>> {
  try {
    return await inTransaction(
      db,
      async (tx) => {
        const result = await work(tx);
        const [claimed] = await claimKeys(tx, clock, [{ ref, ...result }]);
        if (!claimed) throw new KeyTaken();
        return { ...result, replayed: false };
      },
      txOpts,
    );
  } catch (err) {
    if (!(err instanceof KeyTaken) && !(err instanceof AppError)) throw err;
    // A request with this key may have completed meanwhile (or long ago): its response wins.
    const replay = await storedResponse<T>(db, ref);
    if (replay) return replay;
    throw err instanceof KeyTaken
      ? new AppError('INVALID_STATE', 'A request with this key is in progress; retry it.')
      : err;
  }
}
