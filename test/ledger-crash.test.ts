import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Kills a server process (SIGKILL) in the middle of a settlement run and in the middle of a
 * run of refunds, restarts it, and proves the books: every journal balances, every order is
 * settled exactly once, every refund is booked exactly once, and each order's parts still sum
 * to what was paid less refunds. Runs on a database of its own (a fresh PostgreSQL database
 * when DATABASE_URL is set, else an on-disk PGlite folder), since it needs other processes.
 */
const WORKER = path.resolve(import.meta.dirname, 'crash/ledger-worker.ts');
const ORDERS = 600;
const tag = `crash${Date.now().toString(36)}`;
let env: Record<string, string>;
let cleanup: () => Promise<void> = async () => {};

beforeAll(async () => {
  const base = { ...process.env, CRASH_TAG: tag, SETTLEMENT_BATCH: '40' } as Record<string, string>;
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    const name = `livecart_${tag}`;
    const admin = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    url.pathname = `/${name}`;
    env = { ...base, DATABASE_URL: url.toString() };
    cleanup = async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    };
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), 'livecart-crash-'));
    env = { ...base, PGLITE_DIR: dir };
    delete env.DATABASE_URL;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
afterAll(() => cleanup());

interface Run {
  lines: Record<string, unknown>[];
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the worker; `killWhen` sees each JSON line and returns true to SIGKILL it there. */
function worker(
  args: string[],
  killWhen?: (line: Record<string, unknown>, all: Record<string, unknown>[]) => boolean,
) {
  return new Promise<Run>((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        lines.push(parsed);
        if (killWhen?.(parsed, lines)) child.kill('SIGKILL');
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL')
        reject(new Error(`worker ${args.join(' ')} exited ${code}: ${err}`));
      else resolve({ lines, code, signal });
    });
  });
}

describe('ledger crash safety', () => {
  it('settles every order exactly once and books every refund once across SIGKILLs', async () => {
    const loaded = await worker(['load', String(ORDERS)]);
    expect(loaded.lines).toContainEqual({ loaded: ORDERS });

    // Killed after the third settlement batch has committed, while the fourth is under way.
    const killed = await worker(['settle'], (_l, all) => all.filter((x) => 'batch' in x).length === 3);
    expect(killed.signal).toBe('SIGKILL');
    const mid = await worker(['verify']);
    const midOrders = mid.lines[0]!.orders as { unsettled: number; multi: number };
    expect(midOrders.unsettled).toBeGreaterThan(0);
    expect(midOrders.unsettled).toBeLessThan(ORDERS);
    expect(midOrders.multi).toBe(0);
    expect(mid.lines[0]!.books).toMatchObject({ ok: true });

    const resumed = await worker(['settle']);
    expect(resumed.code).toBe(0);

    // Refunds: killed after 20 committed, then the whole run again with the same refund ids.
    const refundKilled = await worker(
      ['refund', String(ORDERS)],
      (_l, all) => all.filter((x) => 'refunded' in x).length === 20,
    );
    expect(refundKilled.signal).toBe('SIGKILL');
    const again = await worker(['refund', String(ORDERS)]);
    expect(again.lines.at(-1)).toEqual({ refundsDone: true });

    const final = await worker(['verify']);
    const { books, orders } = final.lines[0] as {
      books: { ok: boolean; trialBalanceFen: number };
      orders: object;
    };
    expect(books).toMatchObject({ ok: true, trialBalanceFen: 0 });
    expect(orders).toEqual({ total: ORDERS, unsettled: 0, multi: 0, wrong_refund: 0, bad_split: 0 });
  }, 240_000);
});
