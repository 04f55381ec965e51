import { getTableColumns } from 'drizzle-orm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orders } from '../modules/orders/schema.js';
import { rowsJson } from './db.js';
import { outboxEvents } from './schema.js';

describe('rowsJson', () => {
  const columnName = (table: typeof orders | typeof outboxEvents, prop: string) =>
    (getTableColumns(table) as Record<string, { name: string }>)[prop]!.name;

  it('writes what JSON.stringify of the rows keyed by column name would, for any values', () => {
    const value = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.integer(),
      fc.double(),
      fc.constantFrom(null, undefined, true),
      fc.date({ min: new Date(0), max: new Date(4e12) }),
      fc.date(),
      fc.dictionary(fc.string(), fc.jsonValue()),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: value, topic: value, payload: value, createdAt: value }), {
          minLength: 1,
          maxLength: 5,
        }),
        (rows) => {
          const { names, json } = rowsJson(outboxEvents, rows as never);
          expect(names).toBe('"id", "topic", "payload", "created_at"');
          const expected = rows.map((r) =>
            Object.fromEntries(Object.entries(r).map(([k, v]) => [columnName(outboxEvents, k), v ?? null])),
          );
          expect(json).toBe(JSON.stringify(expected));
        },
      ),
    );
  });

  it('takes the columns of the first row, ignores properties that are not columns, and remembers no stale date', () => {
    const a = new Date('2026-11-26T10:00:00.000Z');
    const b = new Date('2026-11-26T10:00:00.001Z');
    const { names, json } = rowsJson(orders, [
      { id: 'o1', createdAt: a, payDeadline: b, note: 'x' } as never,
      { id: 'o2', createdAt: b, payDeadline: a } as never,
    ]);
    expect(names).toBe('"id", "created_at", "pay_deadline"');
    expect(JSON.parse(json)).toEqual([
      { id: 'o1', created_at: a.toISOString(), pay_deadline: b.toISOString() },
      { id: 'o2', created_at: b.toISOString(), pay_deadline: a.toISOString() },
    ]);
  });
});
