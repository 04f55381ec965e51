import WebSocket from 'ws';

export interface ChannelItem {
  id?: number;
  type: string;
  at?: string;
  data: any;
}

/** A test viewer on a live-room channel: collects every item and waits for the ones it needs. */
export class ChannelClient {
  readonly items: ChannelItem[] = [];
  frames = 0;
  private waiters: { pred: (i: ChannelItem) => boolean; resolve: (i: ChannelItem) => void }[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.frames++;
      for (const item of JSON.parse(String(raw)) as ChannelItem[]) {
        this.items.push(item);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(item)) return true;
          w.resolve(item);
          return false;
        });
      }
    });
  }

  static open(baseUrl: string, roomId: string, lastEventId?: number): Promise<ChannelClient> {
    const q = lastEventId === undefined ? '' : `?lastEventId=${lastEventId}`;
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/live-rooms/${roomId}/channel${q}`);
    const client = new ChannelClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** Resolves with the first item (already received or coming) matching `pred`. */
  next(pred: (i: ChannelItem) => boolean, timeoutMs = 5_000, from = 0): Promise<ChannelItem> {
    const seen = this.items.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`no matching item within ${timeoutMs} ms; got ${JSON.stringify(this.items.slice(-5))}`),
          ),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (i) => {
          clearTimeout(timer);
          resolve(i);
        },
      });
    });
  }

  send(msg: object) {
    this.ws.send(JSON.stringify(msg));
  }

  /** The id of the last event seen (the resume point). */
  lastEventId(): number {
    return Math.max(0, ...this.items.filter((i) => typeof i.id === 'number').map((i) => i.id!));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
