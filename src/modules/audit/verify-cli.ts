import { loadConfig } from '../../platform/config.js';
import { openDatabase } from '../../platform/db.js';
import { verifyChains } from './service.js';

/**
 * `npm run audit:verify [-- --chain shop:<shopId>]`: walks every security-event chain (or
 * one) and reports the first broken link. Prints a human line, then a JSON line.
 * Exit codes: 0 intact, 1 a chain is broken, 2 the check could not run.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--chain');
  const chain = at >= 0 ? args[at + 1] : undefined;
  if (at >= 0 && !chain) {
    console.error('usage: audit:verify [--chain platform|shop:<shopId>]');
    return 2;
  }
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
  try {
    const started = Date.now();
    const result = await verifyChains(database.db, chain ? { chain } : {});
    const ms = Date.now() - started;
    const scope = `${result.chains} chain${result.chains === 1 ? '' : 's'}, ${result.events} events`;
    if (result.ok) {
      console.log(`security events intact: ${scope} verified in ${ms} ms (${database.kind})`);
    } else {
      const b = result.firstBroken!;
      console.log(`security events BROKEN at ${b.chain} seq ${b.seq} (${b.id}): ${b.problem} [${scope}]`);
    }
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
