import { sql } from 'drizzle-orm';
import { benchApp } from './common.js';
const app = await benchApp();
const db = app.platform.db;
for (let k = 0; k < 2; k++) {
let a = performance.now();
for (let i = 0; i < 100; i++) await db.transaction(async (tx) => { for (let j = 0; j < 8; j++) await tx.execute(sql`select pg_backend_pid()`); });
console.log('8 sequential in tx', ((performance.now() - a) / 100).toFixed(2));
a = performance.now();
for (let i = 0; i < 100; i++) await db.transaction(async (tx) => { const r = await Promise.all(Array.from({length: 8}, () => tx.execute(sql`select pg_backend_pid() as p`))); if (new Set(r.map((x: any) => (x[0] ?? x.rows[0]).p)).size !== 1) throw new Error('different conns'); });
console.log('8 pipelined in tx', ((performance.now() - a) / 100).toFixed(2));
}
await app.close();
