import { z } from 'zod';

/** Settings read once from the environment; every rule an operator may tune has a default here. */
const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().url().optional(),
  /** PGlite data folder when DATABASE_URL is not set; `memory://` keeps it in memory. */
  PGLITE_DIR: z.string().default('.data/pglite'),
  KEY_DIR: z.string().default('.data/keys'),
  /** Base64 of 32 bytes; overrides the key file (for containers and secret managers). */
  LIVECART_MASTER_KEY: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Minutes an unpaid order holds its stock before the clock cancels it. */
  PAYMENT_TIMEOUT_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(15),
  /** Days after delivery when receipt is confirmed automatically. */
  AUTO_CONFIRM_DAYS: z.coerce.number().int().min(1).max(60).default(10),
  /** sync: the simulated provider captures at once (webhook follows); async: only the webhook pays. */
  PAYMENT_SIM_MODE: z.enum(['sync', 'async']).default('sync'),
  /** When the simulated provider first sends a charge's webhook (a real one notifies within seconds). */
  PAYMENT_SIM_WEBHOOK_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  PAYMENT_WEBHOOK_SECRET: z.string().min(16).default('sim-payment-webhook-secret-change-me'),
  LOGISTICS_WEBHOOK_SECRET: z.string().min(16).default('sim-logistics-webhook-secret-change-me'),
  SESSION_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .default(24 * 7),
  /** Period of the clock-driven sweeps (unpaid cancellation, auto-confirmation); 0 disables them. */
  JOB_INTERVAL_MS: z.coerce.number().int().min(0).default(5_000),
  SEED_DEMO: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /**
   * Checkouts arriving together commit in one transaction (one statement per table); off, each
   * commits alone. Same results either way; on is several times the throughput under load.
   */
  CHECKOUT_GROUP_COMMIT: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** A commit's events wait this long for their neighbours' before delivery (one round for all). */
  OUTBOX_WINDOW_MS: z.coerce.number().int().min(0).max(1_000).default(20),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(20),
  /** Platform time zone as minutes east of UTC (China Standard Time): days, quotas and buckets follow it. */
  PLATFORM_UTC_OFFSET_MINUTES: z.coerce.number().int().min(-720).max(840).default(480),
  /** Days after delivery (or receipt) during which after-sales may be opened. */
  AFTER_SALES_DAYS: z.coerce.number().int().min(1).max(90).default(7),
  /** Decrypt quota: highest daily paid orders of the last 7 days × coefficient, at least the floor. */
  DECRYPT_QUOTA_COEFFICIENT: z.coerce.number().positive().max(100).default(1.5),
  DECRYPT_QUOTA_MIN: z.coerce.number().int().min(0).default(20),
  /** Days after an order closes (after-sales window over) when its recipient data is shredded. */
  RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  /** Virtual-number pool: comma-separated ranges of 11-digit main numbers in the 170/171 ranges. */
  VIRTUAL_NUMBER_POOL: z
    .string()
    .regex(/^(17[01]\d{8}(-17[01]\d{8})?)(,(17[01]\d{8}(-17[01]\d{8})?))*$/, 'ranges of 170/171 numbers')
    .default('17000000000-17000000099,17100000000-17100000099'),
  TELEPHONY_WEBHOOK_SECRET: z.string().min(16).default('sim-telephony-webhook-secret-change-me'),
  /** Proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs), for the real client IP. */
  TRUSTED_PROXIES: z.string().default(''),
  /** NATS with JetStream (nats://host:4222): room events and signals cross server nodes. Unset: one node, in-process. */
  NATS_URL: z.string().url().optional(),
  /** This node's name in presence counts; defaults to host and pid. */
  NODE_ID: z.string().min(1).max(100).optional(),
  /** Live-channel fan-out tick: a room's events and counters of a tick go out as one frame. */
  LIVE_TICK_MS: z.coerce.number().int().min(5).max(1000).default(100),
  /** Largest platform-funded red-envelope rain a creator may start (operators have no cap). */
  RAIN_CREATOR_MAX_BUDGET_FEN: z.coerce.number().int().min(0).default(100_000),
  /** Technical service fee for a category without a rate of its own, in basis points (2 %). */
  SERVICE_FEE_DEFAULT_BPS: z.coerce.number().int().min(0).max(2000).default(200),
  /** Orders the settlement job moves from pending to available per transaction. */
  SETTLEMENT_BATCH: z.coerce.number().int().min(1).max(50_000).default(5_000),
  /** The smallest withdrawal (提现) a shop or creator may request, in fen. */
  PAYOUT_MIN_FEN: z.coerce.number().int().min(1).default(100),
  /** sync: the simulated payout provider answers at once; async: pending until polled. */
  PAYOUT_SIM_MODE: z.enum(['sync', 'async']).default('sync'),
  /** Key material of the simulated payout provider's account tokens. */
  PAYOUT_PROVIDER_SECRET: z.string().min(16).default('sim-payout-provider-secret-change-me'),
  /** A creator's basic deposit (保证金), in fen; the monthly variable part comes on top. */
  CREATOR_DEPOSIT_BASE_FEN: z.coerce.number().int().min(0).default(50_000),
  /** Days a deposit withdrawal is reviewed (violations found meanwhile are deducted) before payout. */
  DEPOSIT_REVIEW_DAYS: z.coerce.number().int().min(0).max(90).default(7),
});

export type Config = z.output<typeof envSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return { ...parsed.data, ...overrides };
}
