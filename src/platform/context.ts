import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Db } from './db.js';
import type { JobScheduler } from './jobs.js';
import type { OutboxDispatcher } from './outbox.js';

/** What every module's service is built from. */
export interface Platform {
  config: Config;
  db: Db;
  dbKind: 'pglite' | 'postgres';
  clock: Clock;
  log: Logger;
  outbox: OutboxDispatcher;
  jobs: JobScheduler;
}
