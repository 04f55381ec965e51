/**
 * Run after `drizzle-kit generate` (npm run db:generate does): rewrites the journal's `when`
 * stamps to 1, 2, 3, … drizzle copies them into its migrations table, and a 13-digit epoch
 * in milliseconds would match the `pg_dump | grep '1[3-9][0-9]{9}'` check that proves no
 * plain phone number is stored. drizzle only needs them to increase.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { MIGRATIONS_FOLDER } from './db.js';

const file = `${MIGRATIONS_FOLDER}/meta/_journal.json`;
const journal = JSON.parse(readFileSync(file, 'utf8')) as { entries: { when: number }[] };
journal.entries.forEach((e, i) => {
  e.when = i + 1;
});
writeFileSync(file, `${JSON.stringify(journal, null, 2)}\n`);
console.log(`normalised ${journal.entries.length} migration stamps in ${file}`);
