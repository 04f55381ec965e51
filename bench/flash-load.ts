/**
 * The flash-sale crowd in a worker thread (see http-load.ts for why): one closed loop per
 * buyer, each on its own keep-alive connection, tapping "buy" until it is told sold out or
 * over the limit.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { KeepAliveConnection } from './keepalive.js';

export interface FlashLoad {
  base: string;
  slotId: string;
  tokens: string[];
  tag: string;
  /** Give up after this long even if the sale has not sold out. */
  maxSeconds: number;
}

export interface FlashLoadResult {
  purchases: number;
  soldOut: number;
  limit: number;
  errors: number;
  firstError: string | null;
  /** Seconds from the start signal to the last successful purchase. */
  sellSeconds: number;
  /** Seconds until every buyer had its answer. */
  elapsed: number;
  latencies: number[];
}

/** Runs the crowd in a worker; `onWarm` is called when every buyer is connected, just before the sale. */
export function runFlashLoad(load: FlashLoad, onWarm?: () => void): Promise<FlashLoadResult> {
  return new Promise((resolve, reject) => {
    const boot = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    const w = new Worker(boot, { eval: true, workerData: load });
    w.on('message', (m: { warm?: true; result?: FlashLoadResult }) => {
      if (m.warm) onWarm?.();
      else resolve(m.result!);
    });
    w.once('error', reject);
  });
}

async function drive(load: FlashLoad, warm: () => void): Promise<FlashLoadResult> {
  const base = new URL(load.base);
  // Every buyer looks at the sale first (as they would in the room): the connections are open
  // and the sessions known to the server, so the measurement is the sale, not 5,000 handshakes.
  const connections = await Promise.all(
    load.tokens.map(async (token) => {
      const conn = new KeepAliveConnection(base);
      const res = await conn.request('GET', `/api/flash-sales/${load.slotId}`, [
        `authorization: Bearer ${token}`,
      ]);
      if (res.status !== 200) throw new Error(`flash sale page → ${res.status} ${res.body}`);
      return conn;
    }),
  );
  warm();

  const latencies: number[] = [];
  let purchases = 0;
  let soldOut = 0;
  let limit = 0;
  let errors = 0;
  let firstError: string | null = null;
  let lastSale = 0;
  let seq = 0;
  const started = performance.now();
  const deadline = started + load.maxSeconds * 1000;
  const body = JSON.stringify({ quantity: 1 });
  await Promise.all(
    load.tokens.map(async (token, i) => {
      const conn = connections[i]!;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          const res = await conn.request(
            'POST',
            `/api/flash-sales/${load.slotId}/reservations`,
            [`authorization: Bearer ${token}`, `idempotency-key: flash-${load.tag}-${seq++}`],
            body,
          );
          const json = JSON.parse(res.body) as { code?: string };
          if (res.status === 201) {
            purchases++;
            lastSale = performance.now();
            latencies.push(lastSale - t0);
            continue;
          }
          if (json.code === 'FLASH_SALE_SOLD_OUT') soldOut++;
          else if (json.code === 'FLASH_SALE_LIMIT_REACHED') limit++;
          else throw new Error(`${res.status} ${res.body}`);
          return;
        } catch (err) {
          errors++;
          firstError ??= String(err);
          return;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  for (const c of connections) c.close();
  return {
    purchases,
    soldOut,
    limit,
    errors,
    firstError,
    sellSeconds: (lastSale - started) / 1000,
    elapsed,
    latencies,
  };
}

if (parentPort && workerData) {
  const port = parentPort;
  drive(workerData as FlashLoad, () => port.postMessage({ warm: true })).then((result) =>
    port.postMessage({ result }),
  );
}
