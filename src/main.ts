import { buildApp } from './app.js';
import { seedDemo } from './demo/seed.js';
import { loadConfig } from './platform/config.js';
import { openDatabase } from './platform/db.js';
import { createLogger } from './platform/logger.js';

/** CLI: `start` (default) serves the platform; `migrate` only applies migrations; `seed` seeds the demo. */
async function main(): Promise<void> {
  const command = process.argv[2] ?? 'start';
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);

  if (command === 'migrate') {
    const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
    log.info({ db: database.kind }, 'migrations applied');
    await database.close();
    return;
  }
  if (command !== 'start' && command !== 'seed') {
    console.error(`unknown command "${command}"; use start, migrate or seed`);
    process.exit(2);
  }

  const app = await buildApp({ config, logger: log, background: command === 'start' });
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  let demo: Awaited<ReturnType<typeof seedDemo>> | null = null;
  if (command === 'seed' || config.SEED_DEMO) demo = await seedDemo(app, log);
  if (command === 'seed') {
    await app.close();
    return;
  }
  await app.http.listen({ port: config.PORT, host: config.HOST });
  const url = `http://localhost:${config.PORT}`;
  const lines = [
    '',
    `  Livecart is running at ${url}  (database: ${app.database.kind})`,
    `  API reference: ${url}/docs   OpenAPI: ${url}/openapi.json`,
  ];
  if (demo) {
    lines.push(
      `  Live room (buyer): ${url}/live/${demo.liveRoomId}`,
      `  Merchant orders:   ${url}/merchant/orders    finance: ${url}/merchant/finance`,
      `  Creator commission: ${url}/creator/commission`,
    );
    lines.push(`  Demo logins (password for all: ${demo.password}):`);
    for (const l of demo.logins) lines.push(`    ${l.role.padEnd(10)} ${l.login}`);
  }
  console.log(`${lines.join('\n')}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
