/**
 * A load generator in a worker thread, so the clients' HTTP and JSON work does not share the
 * server's event loop (a real load test drives the server from outside). Each buyer has its
 * own keep-alive connection (keepalive.ts).
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { KeepAliveConnection } from './keepalive.js';

export interface CheckoutLoad {
  base: string;
  roomId: string;
  skuIds: string[];
  tokens: string[];
  concurrency: number;
  seconds: number;
  tag: string;
}

export interface LoadResult {
  latencies: number[];
  errors: number;
  firstError: string | null;
  elapsed: number;
}

/**
 * A load generator kept across runs: one worker thread whose code the warm-up runs have
 * already compiled. A fresh worker per run boots tsx and compiles the client again, during
 * the run it measures.
 */
export class CheckoutLoader {
  private readonly worker: Worker;
  private pending: { resolve: (r: LoadResult) => void; reject: (e: Error) => void } | null = null;

  constructor() {
    // Node 20 does not carry tsx's loader into workers: the worker imports this file through tsx's API.
    const boot = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    this.worker = new Worker(boot, { eval: true, workerData: { loader: true } });
    this.worker.on('message', (r: LoadResult) => {
      const p = this.pending;
      this.pending = null;
      p?.resolve(r);
    });
    this.worker.on('error', (err) => {
      const p = this.pending;
      this.pending = null;
      p?.reject(err);
    });
  }

  /** Runs the checkout loop (create order + pay) and returns its latencies; one run at a time. */
  run(load: CheckoutLoad): Promise<LoadResult> {
    if (this.pending) return Promise.reject(new Error('a load is already running'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(load);
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/** One run on a loader of its own. */
export async function runCheckoutLoad(load: CheckoutLoad): Promise<LoadResult> {
  const loader = new CheckoutLoader();
  try {
    return await loader.run(load);
  } finally {
    await loader.close();
  }
}

async function drive(load: CheckoutLoad): Promise<LoadResult> {
  const url = new URL(load.base);
  const recipient = {
    name: '王小明',
    phone: '13912345678',
    province: '浙江省',
    city: '杭州市',
    district: '西湖区',
    detail: '文三路 90 号',
  };
  let seq = 0;
  const post = async (conn: KeepAliveConnection, path: string, token: string, body?: unknown) => {
    const res = await conn.request(
      'POST',
      path,
      [`authorization: Bearer ${token}`, `idempotency-key: bench-${load.tag}-${seq++}`],
      body === undefined ? undefined : JSON.stringify(body),
    );
    if (res.status >= 300) throw new Error(`${path} → ${res.status} ${res.body}`);
    return JSON.parse(res.body) as Record<string, unknown>;
  };
  const connections: KeepAliveConnection[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const started = performance.now();
  const end = started + load.seconds * 1000;
  await Promise.all(
    Array.from({ length: load.concurrency }, async (_, slot) => {
      const token = load.tokens[slot % load.tokens.length]!;
      let conn = new KeepAliveConnection(url);
      connections.push(conn);
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const skuId = load.skuIds[Math.floor(Math.random() * load.skuIds.length)]!;
          const order = await post(conn, '/api/orders', token, {
            venue: { type: 'live_room', id: load.roomId },
            items: [{ skuId, quantity: 1 }],
            recipient,
          });
          const paid = await post(conn, `/api/orders/${order.id}/pay`, token);
          if (paid.orderStatus !== 'paid') throw new Error(`not paid: ${JSON.stringify(paid)}`);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= String(err);
          // The connection may be mid-response: start the next checkout on a fresh one.
          conn.close();
          conn = new KeepAliveConnection(url);
          connections.push(conn);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  for (const c of connections) c.close();
  return { latencies, errors, firstError, elapsed };
}

if (parentPort && (workerData as { loader?: boolean } | null)?.loader) {
  const port = parentPort;
  port.on('message', (load: CheckoutLoad) => {
    drive(load).then((r) => port.postMessage(r));
  });
}
