/**
 * `npm run keys:rotate`: adds the next master-key version to the local keyring and re-wraps
 * every live data key under it, while servers keep running (they read new versions on
 * demand). Old versions stay in the keyring until an operator removes them after checking
 * that no data key uses them (the JSON output says how many remain).
 */
import { eq, sql } from 'drizzle-orm';
import { systemClock } from '../../platform/clock.js';
import { loadConfig } from '../../platform/config.js';
import { openDatabase } from '../../platform/db.js';
import { addMasterKeyVersion, localMasterKey } from '../../platform/keys.js';
import { privacyDataKeys } from './schema.js';
import { PrivacyVault } from './service.js';

const config = loadConfig();
if (config.LIVECART_MASTER_KEY) {
  console.error('LIVECART_MASTER_KEY is set: rotate it in your secret manager, not in the local keyring.');
  process.exit(2);
}
const version = addMasterKeyVersion(config.KEY_DIR);
const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
const vault = new PrivacyVault(
  database.db,
  localMasterKey({ keyDir: config.KEY_DIR }),
  systemClock,
  config.PLATFORM_UTC_OFFSET_MINUTES,
);
const result = await vault.rewrapDataKeys();
const [left] = await database.db
  .select({ n: sql<number>`count(*)::int` })
  .from(privacyDataKeys)
  .where(eq(privacyDataKeys.masterKeyVersion, version));
console.log(`master key ${version}: re-wrapped ${result.rewrapped} data keys`);
console.log(JSON.stringify({ version, rewrapped: result.rewrapped, dataKeysOnNewVersion: left?.n ?? 0 }));
await database.close();
