/**
 * bench:room's viewers, in a worker thread so their socket and JSON work stays off the
 * server's event loop: N WebSocket viewers join one room, count every item, and record the
 * delay of each event from its publish time (`at`) to receipt in a 1 ms histogram.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

export interface ViewerLoad {
  base: string;
  roomId: string;
  viewers: number;
  seconds: number;
  /** Viewers that also send a like every second (likes are coalesced into counters). */
  likers: number;
}

export interface ViewerResult {
  connected: number;
  frames: number;
  events: number;
  counters: number;
  /** delay histogram: index = ms, value = count (last bucket = overflow). */
  histogram: number[];
  closedEarly: number;
}

/** Starts the viewers; `ready` resolves once they are connected, `start()` begins measuring. */
export function runViewers(load: ViewerLoad) {
  const boot = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
  const w = new Worker(boot, { eval: true, workerData: load });
  let onReady: (n: number) => void;
  let onResult: (r: ViewerResult) => void;
  const ready = new Promise<number>((r) => {
    onReady = r;
  });
  const result = new Promise<ViewerResult>((r, reject) => {
    onResult = r;
    w.once('error', reject);
  });
  w.on('message', (m: { ready?: number } & ViewerResult) => {
    if (m.ready !== undefined) onReady(m.ready);
    else onResult(m);
  });
  return { ready, result, start: () => w.postMessage('start') };
}

const MAX_MS = 10_000;

async function watch(load: ViewerLoad): Promise<ViewerResult> {
  const histogram = new Array<number>(MAX_MS + 1).fill(0);
  let frames = 0;
  let events = 0;
  let counters = 0;
  let closedEarly = 0;
  let measuring = false;
  const sockets: WebSocket[] = [];
  const url = `${load.base.replace(/^http/, 'ws')}/api/live-rooms/${load.roomId}/channel`;
  // Join in waves so the accept queue is not flooded.
  for (let i = 0; i < load.viewers; i += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, load.viewers - i) }, () => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        sockets.push(ws);
        ws.on('message', (raw) => {
          if (!measuring) return;
          frames++;
          const now = Date.now();
          for (const item of JSON.parse(String(raw)) as { type: string; at?: string }[]) {
            if (item.type === 'counters') {
              counters++;
            } else if (item.at) {
              events++;
              histogram[Math.min(MAX_MS, Math.max(0, now - Date.parse(item.at)))]!++;
            }
          }
        });
        ws.on('close', () => {
          if (measuring) closedEarly++;
        });
        return new Promise<void>((resolve) => {
          ws.once('open', () => resolve());
          ws.once('error', () => resolve());
        });
      }),
    );
  }
  const connected = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  parentPort!.postMessage({ ready: connected });
  await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
  measuring = true;
  const likeTimer = setInterval(() => {
    for (let i = 0; i < load.likers; i++) sockets[i]?.send('{"type":"like"}');
  }, 1000);
  await new Promise((r) => setTimeout(r, load.seconds * 1000));
  measuring = false;
  clearInterval(likeTimer);
  for (const s of sockets) s.terminate();
  return { connected, frames, events, counters, histogram, closedEarly };
}

if (parentPort && workerData) {
  const port = parentPort;
  watch(workerData as ViewerLoad).then((r) => port.postMessage(r));
}
