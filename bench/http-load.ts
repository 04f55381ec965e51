/**
 * A load generator in a worker thread, so the clients' HTTP and JSON work does not share the
 * server's event loop (a real load test drives the server from outside).
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';

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

/** Runs the checkout loop (create order + pay) in a worker and returns its latencies. */
export function runCheckoutLoad(load: CheckoutLoad): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    // Node 20 does not carry tsx's loader into workers: the worker imports this file through tsx's API.
    const boot = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
    const w = new Worker(boot, { eval: true, workerData: load });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

async function drive(load: CheckoutLoad): Promise<LoadResult> {
  const dispatcher = new Agent({ connections: load.concurrency * 2, keepAliveTimeout: 30_000 });
  const recipient = {
    name: '王小明',
    phone: '13912345678',
    province: '浙江省',
    city: '杭州市',
    district: '西湖区',
    detail: '文三路 90 号',
  };
  let seq = 0;
  const post = async (path: string, token: string, body?: unknown) => {
    const res = await request(`${load.base}${path}`, {
      method: 'POST',
      dispatcher,
      headers: {
        authorization: `Bearer ${token}`,
        'idempotency-key': `bench-${load.tag}-${seq++}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.body.json()) as Record<string, unknown>;
    if (res.statusCode >= 300) throw new Error(`${path} → ${res.statusCode} ${JSON.stringify(json)}`);
    return json;
  };
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const started = performance.now();
  const end = started + load.seconds * 1000;
  await Promise.all(
    Array.from({ length: load.concurrency }, async (_, slot) => {
      const token = load.tokens[slot % load.tokens.length]!;
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const skuId = load.skuIds[Math.floor(Math.random() * load.skuIds.length)]!;
          const order = await post('/api/orders', token, {
            venue: { type: 'live_room', id: load.roomId },
            items: [{ skuId, quantity: 1 }],
            recipient,
          });
          const paid = await post(`/api/orders/${order.id}/pay`, token);
          if (paid.orderStatus !== 'paid') throw new Error(`not paid: ${JSON.stringify(paid)}`);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= String(err);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await dispatcher.close();
  return { latencies, errors, firstError, elapsed };
}

if (parentPort && workerData) {
  const port = parentPort;
  drive(workerData as CheckoutLoad).then((r) => port.postMessage(r));
}
