import { sql } from 'drizzle-orm';
import { index, integer, json, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ts } from './columns.js';

/** Transactional outbox: written in the same transaction as the fact it announces. */
export const outboxEvents = pgTable(
  'outbox_events',
  {
    id: text('id').primaryKey(),
    topic: text('topic').notNull(),
    aggregateId: text('aggregate_id').notNull(),
    /**
     * References and figures only, never buyer PII. `json`, not `jsonb`: written once, read
     * whole once, never queried into, so PostgreSQL keeps the text instead of converting it.
     */
    payload: json('payload').notNull(),
    createdAt: ts('created_at').notNull(),
    publishedAt: ts('published_at'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at'),
    lastError: text('last_error'),
  },
  (t) => [index('outbox_unpublished_idx').on(t.id).where(sql`${t.publishedAt} is null`)],
);

/** One row per (handler, event) that completed: makes at-least-once delivery idempotent. */
export const eventHandlerRuns = pgTable(
  'event_handler_runs',
  {
    handler: text('handler').notNull(),
    eventId: text('event_id').notNull(),
    handledAt: ts('handled_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.handler, t.eventId] })],
);

/**
 * Idempotency keys for state-changing requests, with the response to replay. Inserted as the
 * last statement of the use case's transaction (see platform/idempotency.ts).
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    statusCode: integer('status_code').notNull(),
    /** The response as sent (`json`: kept as text, replayed whole, never queried into). */
    response: json('response').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] })],
);
