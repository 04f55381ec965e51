import { sql, eq } from 'drizzle-orm';
import { benchApp } from './common.js';
import { accounts } from '../src/modules/identity/schema.js';
const app = await benchApp();
const db = app.platform.db;
const acc = await app.services.identity.createAccount({ login: 'p5' + Date.now(), passwordHash: 'x', displayName: 'x', roles: ['buyer'] });
async function time(label: string, fn: () => Promise<unknown>, n = 50) {
  const a = performance.now();
  for (let i = 0; i < n; i++) await fn();
  console.log(label, ((performance.now() - a) / n).toFixed(2), 'ms');
}
await time('select 1 raw', () => db.execute(sql`select 1`));
await time('select account builder', () => db.select().from(accounts).where(eq(accounts.id, acc.id)));
await time('getAccount', () => app.services.identity.getAccount(acc.id));
await time('inject health', () => app.http.inject({ method: 'GET', url: '/health' }));
await app.close();
