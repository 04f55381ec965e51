import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The local master key: 32 random bytes in `<KEY_DIR>/master.key`, created on first start
 * with 0600 permissions, or given as base64 in LIVECART_MASTER_KEY. It only wraps data keys
 * (see modules/privacy); a KMS-backed provider can replace this behind the same interface.
 */
export interface MasterKeyProvider {
  /** Version tag stored with each wrapped data key, so rotation can find what to re-wrap. */
  readonly version: string;
  key(): Buffer;
}

export function localMasterKey(opts: { keyDir: string; envKey?: string | undefined }): MasterKeyProvider {
  if (opts.envKey) {
    const key = Buffer.from(opts.envKey, 'base64');
    if (key.length !== 32) throw new Error('LIVECART_MASTER_KEY must be base64 of exactly 32 bytes');
    return { version: 'env-1', key: () => key };
  }
  const file = path.join(opts.keyDir, 'master.key');
  if (!existsSync(file)) {
    mkdirSync(opts.keyDir, { recursive: true, mode: 0o700 });
    // 'wx' fails if another process created it meanwhile; then we read theirs.
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} must hold base64 of exactly 32 bytes`);
  return { version: 'file-1', key: () => key };
}

/** An in-memory key for tests and benchmarks. */
export function ephemeralMasterKey(): MasterKeyProvider {
  const key = randomBytes(32);
  return { version: 'ephemeral', key: () => key };
}
