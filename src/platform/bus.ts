import { DeliverPolicy, type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';

/** A room event as every node sees it: `seq` orders a room's events and is the resume point. */
export interface RoomEvent {
  seq: number;
  roomId: string;
  type: string;
  /** ISO time the event was published (latency is measured from it). */
  at: string;
  data: Record<string, unknown>;
}

/**
 * The fan-out between server nodes. Room events are durable and ordered (JetStream with
 * NATS_URL, so every node sees the same sequence numbers and a reconnecting viewer can
 * resume on any node); signals (presence counts, like deltas) are fire-and-forget.
 * Without NATS an in-process bus does the same for one node.
 */
export interface Bus {
  readonly kind: 'memory' | 'nats';
  /** `msgId` makes a re-publish of the same fact (an outbox event delivered twice) a no-op. */
  publishRoom(roomId: string, type: string, data: Record<string, unknown>, msgId?: string): Promise<void>;
  onRoomEvent(handler: (e: RoomEvent) => void): void;
  publishSignal(name: string, data: Record<string, unknown>): void;
  onSignal(handler: (name: string, data: Record<string, unknown>) => void): void;
  close(): Promise<void>;
}

export class InProcessBus implements Bus {
  readonly kind = 'memory' as const;
  private seq = 0;
  private readonly seen = new Set<string>();
  private readonly roomHandlers: ((e: RoomEvent) => void)[] = [];
  private readonly signalHandlers: ((name: string, data: Record<string, unknown>) => void)[] = [];

  async publishRoom(roomId: string, type: string, data: Record<string, unknown>, msgId?: string) {
    if (msgId) {
      if (this.seen.has(msgId)) return;
      this.seen.add(msgId);
      if (this.seen.size > 100_000) this.seen.clear();
    }
    const e: RoomEvent = { seq: ++this.seq, roomId, type, at: new Date().toISOString(), data };
    for (const h of this.roomHandlers) h(e);
  }

  onRoomEvent(handler: (e: RoomEvent) => void) {
    this.roomHandlers.push(handler);
  }

  publishSignal(name: string, data: Record<string, unknown>) {
    for (const h of this.signalHandlers) h(name, data);
  }

  onSignal(handler: (name: string, data: Record<string, unknown>) => void) {
    this.signalHandlers.push(handler);
  }

  async close() {}
}

const STREAM = 'LIVECART_ROOMS';
const ROOM_SUBJECT = 'livecart.room';
const SIGNAL_SUBJECT = 'livecart.signal';

/**
 * NATS JetStream: room events go to the LIVECART_ROOMS stream (subject livecart.room.<id>,
 * kept an hour, deduplicated by message id), and every node reads it with an ordered
 * consumer from "new"; signals are plain NATS subjects.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private readonly roomHandlers: ((e: RoomEvent) => void)[] = [];
  private readonly signalHandlers: ((name: string, data: Record<string, unknown>) => void)[] = [];
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  private signalSub: Subscription | null = null;
  private stopConsumer: (() => void) | null = null;
  private consuming: Promise<void> | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly log: Logger,
  ) {}

  static async connect(url: string, log: Logger): Promise<NatsBus> {
    const nc = await connect({ servers: url, name: 'livecart' });
    const jsm = await jetstreamManager(nc);
    const config = {
      name: STREAM,
      subjects: [`${ROOM_SUBJECT}.>`],
      max_age: 3_600 * 1e9,
      duplicate_window: 120 * 1e9,
    };
    try {
      await jsm.streams.info(STREAM);
    } catch {
      try {
        await jsm.streams.add(config);
      } catch (err) {
        // Another node created it first.
        await jsm.streams.info(STREAM).catch(() => {
          throw err;
        });
      }
    }
    const bus = new NatsBus(nc, jetstream(nc), log);
    await bus.start();
    return bus;
  }

  private async start() {
    // The stream holds room subjects only, so no filter (filter_subjects needs nats-server 2.10).
    const consumer = await this.js.consumers.get(STREAM, { deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    this.stopConsumer = () => void messages.stop();
    this.consuming = (async () => {
      for await (const m of messages) {
        try {
          const body = JSON.parse(this.dec.decode(m.data)) as Omit<RoomEvent, 'seq'>;
          const e: RoomEvent = { ...body, seq: m.seq };
          for (const h of this.roomHandlers) h(e);
        } catch (err) {
          this.log.warn({ err }, 'bad room event on the bus');
        }
      }
    })();
    this.signalSub = this.nc.subscribe(`${SIGNAL_SUBJECT}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const name = msg.subject.slice(SIGNAL_SUBJECT.length + 1);
        const data = JSON.parse(this.dec.decode(msg.data)) as Record<string, unknown>;
        for (const h of this.signalHandlers) h(name, data);
      },
    });
  }

  async publishRoom(roomId: string, type: string, data: Record<string, unknown>, msgId?: string) {
    const body = JSON.stringify({ roomId, type, at: new Date().toISOString(), data });
    await this.js.publish(
      `${ROOM_SUBJECT}.${roomId}`,
      this.enc.encode(body),
      msgId ? { msgID: msgId } : undefined,
    );
  }

  onRoomEvent(handler: (e: RoomEvent) => void) {
    this.roomHandlers.push(handler);
  }

  publishSignal(name: string, data: Record<string, unknown>) {
    this.nc.publish(`${SIGNAL_SUBJECT}.${name}`, this.enc.encode(JSON.stringify(data)));
  }

  onSignal(handler: (name: string, data: Record<string, unknown>) => void) {
    this.signalHandlers.push(handler);
  }

  async close() {
    this.stopConsumer?.();
    this.signalSub?.unsubscribe();
    await this.consuming?.catch(() => {});
    await this.nc.drain().catch(() => {});
  }
}

export async function openBus(natsUrl: string | undefined, log: Logger): Promise<Bus> {
  return natsUrl ? NatsBus.connect(natsUrl, log) : new InProcessBus();
}
