import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Bus, RoomEvent } from '../platform/bus.js';

/** What a viewer gets first (and again after a gap too old to replay): the room as it is now. */
export interface RoomSnapshot {
  likes: number;
  /** The pinned product's SKUs, whose remaining stock is pushed as a counter. */
  pinnedSkuIds: string[];
  room: Record<string, unknown>;
}

export interface RoomHubDeps {
  bus: Bus;
  log: Logger;
  nodeId: string;
  loadSnapshot(roomId: string): Promise<RoomSnapshot>;
  readStock(skuIds: string[]): Promise<Record<string, number>>;
  /** Units left per flash-sale slot of the room, pushed as the `flash` counter (optional). */
  readFlash?(roomId: string): Promise<Record<string, number>>;
  persistLikes(roomId: string, delta: number): Promise<void>;
  /** Period of the fan-out tick: events and counters of a tick go out as one frame. */
  tickMs?: number;
}

/** Each viewer's frame is an array of items: events (with `id`, resumable), counters, snapshots, errors. */
interface Item {
  id?: number;
  type: string;
  at?: string;
  data: unknown;
}

export interface Viewer {
  ws: WebSocket;
  /** Queued until the viewer's snapshot or replay has gone out, so nothing arrives out of order. */
  backlog: Item[] | null;
}

const RING = 1_000;
const COUNTERS_EVERY_MS = 500;
const PRESENCE_TTL_MS = 3_000;
const STOCK_REFRESH_MS = 2_000;
const IDLE_ROOM_MS = 5 * 60_000;
/** A viewer this far behind (bytes queued on its socket) is cut off; it reconnects and resumes. */
const MAX_BUFFERED = 4 * 1024 * 1024;

class RoomChannel {
  readonly viewers = new Set<Viewer>();
  readonly ring: RoomEvent[] = [];
  /** Events with seq ≤ floor may be missing here: a resume from before it gets a snapshot. */
  floor: number;
  pending: Item[] = [];
  likes = 0;
  localLikes = 0;
  readonly presence = new Map<string, { count: number; at: number }>();
  pinnedSkuIds: string[] = [];
  stock: Record<string, number> = {};
  stockDirty = true;
  stockReadAt = 0;
  flash: Record<string, number> = {};
  flashDirty = true;
  flashReadAt = 0;
  lastCounters = '';
  countersAt = 0;
  lastPresenceSent = -1;
  idleSince = 0;
  ready: Promise<void> | null = null;

  constructor(floor: number) {
    this.floor = floor;
  }

  remember(e: RoomEvent) {
    this.ring.push(e);
    if (this.ring.length > RING) this.floor = this.ring.shift()!.seq;
  }
}

/**
 * A node's live rooms: viewers connected here, the recent events of each room (for resume), and
 * the per-tick fan-out. Each tick a room's new events and changed counters (viewers across all
 * nodes, likes, the pinned product's stock, flash-sale units left) are encoded ONCE into one frame, and that same
 * frame is written to every viewer — high-rate counters are coalesced per tick rather than
 * sent per change.
 */
export class RoomHub {
  private readonly rooms = new Map<string, RoomChannel>();
  private lastSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;
  private presenceAt = 0;
  /** Frames written, for the room benchmark. */
  framesSent = 0;

  constructor(private readonly d: RoomHubDeps) {
    this.tickMs = d.tickMs ?? 50;
    d.bus.onRoomEvent((e) => this.onRoomEvent(e));
    d.bus.onSignal((name, data) => this.onSignal(name, data));
  }

  start() {
    this.timer ??= setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const ch of this.rooms.values())
      for (const v of ch.viewers) v.ws.close(1001, 'server shutting down');
  }

  viewerCount(roomId: string): number {
    return this.totalViewers(this.rooms.get(roomId));
  }

  /**
   * A viewer joins. With `lastEventId` still covered by this node's ring, it gets only what it
   * missed; otherwise (first visit, or too old, or another node's id) a fresh snapshot.
   */
  async join(roomId: string, ws: WebSocket, lastEventId: number | undefined): Promise<Viewer> {
    const ch = this.channel(roomId);
    const viewer: Viewer = { ws, backlog: [] };
    ch.viewers.add(viewer);
    try {
      await ch.ready;
      if (lastEventId !== undefined && lastEventId >= ch.floor) {
        const missed = ch.ring.filter((e) => e.seq > lastEventId).map(eventItem);
        this.flushBacklog(viewer, [
          { type: 'resumed', data: { from: lastEventId } },
          ...missed,
          { type: 'counters', data: this.counters(ch) },
        ]);
      } else {
        const at = this.lastSeq;
        const snap = await this.d.loadSnapshot(roomId);
        const later = ch.ring.filter((e) => e.seq > at).map(eventItem);
        this.flushBacklog(viewer, [
          {
            id: at,
            type: 'snapshot',
            data: { ...snap.room, likes: ch.likes, viewers: this.totalViewers(ch) },
          },
          ...later,
        ]);
      }
    } catch (err) {
      ch.viewers.delete(viewer);
      throw err;
    }
    return viewer;
  }

  leave(roomId: string, viewer: Viewer) {
    const ch = this.rooms.get(roomId);
    if (!ch) return;
    ch.viewers.delete(viewer);
    if (ch.viewers.size === 0) ch.idleSince = Date.now();
  }

  like(roomId: string, count: number) {
    const ch = this.rooms.get(roomId);
    if (ch) ch.localLikes += count;
  }

  /** Outbox relays and flash sales tell the hub a room's stock changed; read on the next tick. */
  stockChanged(roomId: string) {
    const ch = this.rooms.get(roomId);
    if (ch) {
      ch.stockDirty = true;
      ch.flashDirty = true;
    }
  }

  private channel(roomId: string): RoomChannel {
    let ch = this.rooms.get(roomId);
    if (!ch) {
      ch = new RoomChannel(this.lastSeq);
      this.rooms.set(roomId, ch);
      const created = ch;
      created.ready = this.d.loadSnapshot(roomId).then(
        (s) => {
          created.likes = s.likes;
          created.pinnedSkuIds = s.pinnedSkuIds;
        },
        (err) => {
          this.rooms.delete(roomId);
          throw err;
        },
      );
    }
    ch.idleSince = 0;
    return ch;
  }

  private flushBacklog(viewer: Viewer, first: Item[]) {
    const items = [...first, ...(viewer.backlog ?? [])];
    viewer.backlog = null;
    if (viewer.ws.readyState === viewer.ws.OPEN) viewer.ws.send(JSON.stringify(items));
  }

  private onRoomEvent(e: RoomEvent) {
    if (e.seq > this.lastSeq) this.lastSeq = e.seq;
    const ch = this.rooms.get(e.roomId);
    if (!ch) return;
    ch.remember(e);
    ch.pending.push(eventItem(e));
    if (e.type === 'pinned') {
      ch.pinnedSkuIds = Array.isArray(e.data.skuIds) ? (e.data.skuIds as string[]) : [];
      ch.stockDirty = true;
    }
    if (e.type === 'stock' || e.type.startsWith('flash_sale_')) {
      ch.stockDirty = true;
      ch.flashDirty = true;
    }
  }

  private onSignal(name: string, data: Record<string, unknown>) {
    if (name === 'presence') {
      const rooms = data.rooms as Record<string, number>;
      const node = String(data.node);
      for (const [roomId, count] of Object.entries(rooms)) {
        this.rooms.get(roomId)?.presence.set(node, { count, at: Date.now() });
      }
    } else if (name === 'likes') {
      const ch = this.rooms.get(String(data.roomId));
      if (ch) ch.likes += Number(data.delta);
    } else if (name === 'stock') {
      this.stockChanged(String(data.roomId));
    }
  }

  private totalViewers(ch: RoomChannel | undefined): number {
    if (!ch) return 0;
    const now = Date.now();
    let n = ch.viewers.size;
    for (const [node, p] of ch.presence)
      if (node !== this.d.nodeId && now - p.at < PRESENCE_TTL_MS) n += p.count;
    return n;
  }

  private async tick() {
    const now = Date.now();
    let presenceChanged = false;
    const work: Promise<void>[] = [];
    for (const [roomId, ch] of this.rooms) {
      if (ch.viewers.size === 0 && ch.idleSince && now - ch.idleSince > IDLE_ROOM_MS) {
        this.rooms.delete(roomId);
        continue;
      }
      if (ch.viewers.size !== ch.lastPresenceSent) {
        presenceChanged = true;
        ch.lastPresenceSent = ch.viewers.size;
      }
      if (ch.localLikes > 0) {
        const delta = ch.localLikes;
        ch.localLikes = 0;
        this.d.bus.publishSignal('likes', { roomId, delta });
        work.push(
          this.d.persistLikes(roomId, delta).catch((err) => this.d.log.warn({ err }, 'likes not saved')),
        );
      }
      if (ch.viewers.size === 0) {
        ch.pending = [];
        continue;
      }
      if (ch.pinnedSkuIds.length && (ch.stockDirty || now - ch.stockReadAt > STOCK_REFRESH_MS)) {
        ch.stockDirty = false;
        ch.stockReadAt = now;
        work.push(
          this.d.readStock(ch.pinnedSkuIds).then(
            (s) => {
              ch.stock = s;
            },
            (err) => this.d.log.warn({ err }, 'stock not read'),
          ),
        );
      }
      const readFlash = this.d.readFlash;
      if (readFlash && (ch.flashDirty || now - ch.flashReadAt > STOCK_REFRESH_MS)) {
        ch.flashDirty = false;
        ch.flashReadAt = now;
        work.push(
          readFlash(roomId).then(
            (f) => {
              ch.flash = f;
            },
            (err) => this.d.log.warn({ err }, 'flash-sale units not read'),
          ),
        );
      }
      this.flush(ch);
    }
    // Every node says how many viewers it holds per room: on a change, and every second so a
    // node that stops (its counts expire) or starts (it learns the others') stays right.
    if (presenceChanged || now - this.presenceAt >= 1_000) {
      this.presenceAt = now;
      const all: Record<string, number> = {};
      for (const [roomId, ch] of this.rooms) all[roomId] = ch.viewers.size;
      this.d.bus.publishSignal('presence', { node: this.d.nodeId, rooms: all });
    }
    await Promise.all(work);
  }

  private counters(ch: RoomChannel) {
    return {
      viewers: this.totalViewers(ch),
      likes: ch.likes,
      stock: ch.stock,
      ...(Object.keys(ch.flash).length > 0 ? { flash: ch.flash } : {}),
    };
  }

  private flush(ch: RoomChannel) {
    const counters = this.counters(ch);
    const key = JSON.stringify(counters);
    const items = ch.pending;
    // Counters ride along with a tick's events for free; on their own they go out at most
    // every COUNTERS_EVERY_MS, so a busy like button does not add a frame per tick.
    const now = Date.now();
    if (key !== ch.lastCounters && (items.length > 0 || now - ch.countersAt >= COUNTERS_EVERY_MS)) {
      items.push({ type: 'counters', data: counters });
      ch.lastCounters = key;
      ch.countersAt = now;
    }
    if (items.length === 0) return;
    ch.pending = [];
    const frame = Buffer.from(JSON.stringify(items));
    for (const v of ch.viewers) {
      if (v.backlog) {
        v.backlog.push(...items.filter((i) => i.type !== 'counters'));
        continue;
      }
      if (v.ws.readyState !== v.ws.OPEN) continue;
      if (v.ws.bufferedAmount > MAX_BUFFERED) {
        v.ws.close(1013, 'too far behind; reconnect with lastEventId');
        continue;
      }
      v.ws.send(frame, { binary: false });
      this.framesSent++;
    }
  }
}

const eventItem = (e: RoomEvent): Item => ({ id: e.seq, type: e.type, at: e.at, data: e.data });
