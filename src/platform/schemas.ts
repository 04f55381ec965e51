import { z } from 'zod';

/** Shared request schemas, so every route validates ids and keys the same way. */
export const idOf = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{26}$`), `must be an id like ${prefix}_01…`);

export const shopIdParams = z.object({ shopId: idOf('shp') });

export const loginSchema = z
  .string()
  .trim()
  .min(3)
  .max(40)
  .regex(/^[a-zA-Z0-9_.@-]+$/, 'may contain letters, digits and _ . @ - only');

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string({ error: 'the Idempotency-Key header is required for this request' })
    .min(8, 'Idempotency-Key must be 8–100 characters')
    .max(100, 'Idempotency-Key must be 8–100 characters')
    .regex(/^[\x21-\x7e]+$/, 'Idempotency-Key must be printable ASCII without spaces'),
});

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(64).optional(),
});

export const fenSchema = z.number().int('must be whole fen (分)').positive().max(100_000_000);
