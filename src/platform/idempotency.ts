import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Clock } from './clock.js';
import type { Db, Tx } from './db.js';
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
export async function storedResponse<T>(
  db: Db,
  ref: { scope: string; key: string; hash: string },
): Promise<IdempotentResult<T> | null> {
  const [prior] = await db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.scope, ref.scope), eq(idempotencyKeys.key, ref.key)));
  if (!prior || prior.statusCode === null) return null;
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
  ref: { scope: string; key: string; hash: string },
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

/** Rolls back a transaction whose key turned out to be taken; the caller then replays. */
class KeyTaken extends Error {}

/**
 * Runs a use case at most once per (scope, key). The key row is inserted first in the use
 * case's own transaction: a concurrent duplicate blocks on it, then finds the committed
 * response and replays it; if the first attempt rolled back, the duplicate runs instead.
 * The use case's statements are issued right behind the key insert without waiting for it
 * (postgres.js pipelines them on the transaction's connection); if the key was taken they
 * are rolled back with everything else.
 */
export async function runIdempotent<T>(
  db: Db,
  clock: Clock,
  ref: { scope: string; key: string; hash: string },
  work: (tx: Tx) => Promise<{ status: number; body: T }>,
  txOpts?: TxOptions,
): Promise<IdempotentResult<T>> {
  try {
    return await inTransaction(
      db,
      async (tx) => {
        const claim = Promise.resolve(
          tx
            .insert(idempotencyKeys)
            .values({ scope: ref.scope, key: ref.key, requestHash: ref.hash, createdAt: clock.now() })
            .onConflictDoNothing()
            .returning({ key: idempotencyKeys.key }),
        );
        const outcome = work(tx).then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        );
        if ((await claim).length === 0) {
          await outcome;
          throw new KeyTaken();
        }
        const done = await outcome;
        if (!done.ok) throw done.error;
        await tx
          .update(idempotencyKeys)
          .set({ statusCode: done.value.status, response: done.value.body as object })
          .where(and(eq(idempotencyKeys.scope, ref.scope), eq(idempotencyKeys.key, ref.key)));
        return { ...done.value, replayed: false };
      },
      txOpts,
    );
  } catch (err) {
    if (!(err instanceof KeyTaken)) throw err;
  }
  const replay = await storedResponse<T>(db, ref);
  if (!replay)
    throw new AppError(
      'INVALID_STATE',
      'A request with this idempotency key is still in progress; retry it.',
    );
  return replay;
}
