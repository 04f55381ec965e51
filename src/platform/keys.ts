import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/**
 * Master keys wrap data keys and nothing else (see modules/privacy). The interface is the
 * shape of a KMS or Vault transit backend: wrap and unwrap by key version, so a provider that
 * calls `vault write transit/encrypt/<name>` / `kms:Encrypt` fits without touching callers.
 */
export interface MasterKeyProvider {
  /** The version new data keys are wrapped with. */
  readonly currentVersion: string;
  wrap(plain: Buffer, aad: string): Promise<{ version: string; wrapped: string }>;
  unwrap(version: string, wrapped: string, aad: string): Promise<Buffer>;
  /**
   * A 32-byte secret for one purpose (blind indexes, waybill encryption and signing), derived
   * with HKDF from a root secret that stays put when master keys rotate: rotating must not
   * break search or redeeming waybills already printed.
   */
  derive(purpose: string): Buffer;
  /** The blind-index key: `derive('livecart/blind-index/v1')`. */
  indexKey(): Buffer;
}

const IV = 12;
const TAG = 16;

function gcmWrap(key: Buffer, plain: Buffer, aad: string): string {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
}

function gcmUnwrap(key: Buffer, wrapped: string, aad: string): Buffer {
  const raw = Buffer.from(wrapped, 'base64url');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(raw.subarray(IV, IV + TAG));
  return Buffer.concat([d.update(raw.subarray(IV + TAG)), d.final()]);
}

/** A provider over in-memory keys by version (the newest version is current). */
function keyringProvider(
  load: () => { keys: Map<string, Buffer>; current: string; index: Buffer },
): MasterKeyProvider {
  let ring = load();
  const derived = new Map<string, Buffer>();
  const derive = (purpose: string) => {
    let key = derived.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', ring.index, Buffer.alloc(0), purpose, 32));
      derived.set(purpose, key);
    }
    return key;
  };
  // Wrapping is rare (a data key per shop and month), so it re-reads the keyring and always
  // uses the newest version, even one another process added after this one started.
  return {
    get currentVersion() {
      ring = load();
      return ring.current;
    },
    async wrap(plain, aad) {
      ring = load();
      return { version: ring.current, wrapped: gcmWrap(ring.keys.get(ring.current)!, plain, aad) };
    },
    async unwrap(version, wrapped, aad) {
      // Another node may have rotated: re-read the keyring once before giving up.
      if (!ring.keys.has(version)) ring = load();
      const key = ring.keys.get(version);
      if (!key) throw new Error(`master key version ${version} is not available`);
      return gcmUnwrap(key, wrapped, aad);
    },
    derive,
    indexKey: () => derive('livecart/blind-index/v1'),
  };
}

const VERSION_FILE = /^master-v(\d+)\.key$/;

function readKeyFile(file: string): Buffer {
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} must hold base64 of exactly 32 bytes`);
  return key;
}

function createKeyFile(file: string): void {
  try {
    // 'wx' fails if another process created it meanwhile; then we read theirs.
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * Local keyring in KEY_DIR: `master-v<N>.key` files (0600, created on first start; the
 * highest N is current) and `index.key` for blind indexes. `npm run keys:rotate` adds the
 * next version and re-wraps data keys. LIVECART_MASTER_KEY (base64 of 32 bytes) replaces the
 * keyring with one env-held key, for containers and secret managers.
 */
export function localMasterKey(opts: { keyDir: string; envKey?: string | undefined }): MasterKeyProvider {
  if (opts.envKey) {
    const key = Buffer.from(opts.envKey, 'base64');
    if (key.length !== 32) throw new Error('LIVECART_MASTER_KEY must be base64 of exactly 32 bytes');
    const index = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'livecart/derivation-root/v1', 32));
    return keyringProvider(() => ({ keys: new Map([['env-1', key]]), current: 'env-1', index }));
  }
  // index.key is the derivation root for blind indexes and waybill keys; keep it with the keyring.
  mkdirSync(opts.keyDir, { recursive: true, mode: 0o700 });
  if (!readdirSync(opts.keyDir).some((f) => VERSION_FILE.test(f)))
    createKeyFile(path.join(opts.keyDir, 'master-v1.key'));
  const indexFile = path.join(opts.keyDir, 'index.key');
  if (!existsSync(indexFile)) createKeyFile(indexFile);
  return keyringProvider(() => {
    const keys = new Map<string, Buffer>();
    let newest = 0;
    for (const f of readdirSync(opts.keyDir)) {
      const m = VERSION_FILE.exec(f);
      if (!m) continue;
      keys.set(`v${m[1]}`, readKeyFile(path.join(opts.keyDir, f)));
      newest = Math.max(newest, Number(m[1]));
    }
    return { keys, current: `v${newest}`, index: readKeyFile(indexFile) };
  });
}

/** Adds the next master-key version to a local keyring; returns it. Data keys are re-wrapped separately. */
export function addMasterKeyVersion(keyDir: string): string {
  const versions = readdirSync(keyDir)
    .map((f) => VERSION_FILE.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
  const next = Math.max(0, ...versions) + 1;
  createKeyFile(path.join(keyDir, `master-v${next}.key`));
  return `v${next}`;
}

/** In-memory keys for tests and benchmarks; `rotate()` adds a version like the keyring does. */
export function ephemeralMasterKey(): MasterKeyProvider & { rotate(): string } {
  const keys = new Map([['t1', randomBytes(32)]]);
  const index = randomBytes(32);
  let current = 't1';
  const provider = keyringProvider(() => ({ keys, current, index }));
  return Object.assign(provider, {
    rotate() {
      current = `t${keys.size + 1}`;
      keys.set(current, randomBytes(32));
      return current;
    },
  });
}
