import { timestamp } from 'drizzle-orm/pg-core';

/** Every time column: timestamptz read as a Date. Values come from the injected clock. */
export const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
