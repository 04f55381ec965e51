import { loadConfig } from '../../platform/config.js';
import { openDatabase } from '../../platform/db.js';
import { verifyBooks } from './service.js';

/**
 * `npm run ledger:verify`: proves the books — every journal balances, all postings sum to
 * zero, every materialised balance equals its sum. Prints a human line, then a JSON line.
 * Exit codes: 0 balanced, 1 something does not add up, 2 the check could not run.
 */
async function main(): Promise<number> {
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
  try {
    const started = Date.now();
    const result = await verifyBooks(database.db);
    const ms = Date.now() - started;
    console.log(
      result.ok
        ? `ledger balanced: ${result.postings} postings verified in ${ms} ms (${database.kind})`
        : `ledger DOES NOT BALANCE: ${result.unbalancedJournals.length} unbalanced journal(s), ${result.balanceMismatches.length} balance mismatch(es), trial balance ${result.trialBalanceFen} fen`,
    );
    console.log(JSON.stringify({ ...result, ms, db: database.kind }));
    return result.ok ? 0 : 1;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
