/**
 * The live room's WebSocket channel (`/api/live-rooms/:roomId/channel`, docs/live.md), same
 * origin as the page. Every frame is a JSON array of items; the channel keeps the largest
 * event `id` it has seen and, when the socket closes, reconnects with backoff and
 * `?lastEventId=` so the server replays what was missed (or sends a fresh snapshot).
 *
 * Outbound: likes are accumulated and sent at most once per LIKE_FLUSH_MS (count ≤ 50, and
 * never faster than the server's like budget); with a session token the channel sends
 * `{type:'auth'}` on every connect, and comments once the server has answered `authenticated`.
 */

export interface ChannelItem {
  id?: number;
  type: string;
  at?: string;
  data: any;
}

export type ChannelState = 'connecting' | 'open' | 'reconnecting' | 'failed';

export interface LiveChannelOptions {
  roomId: string;
  token: string | null;
  onItems(items: ChannelItem[]): void;
  onState(state: ChannelState): void;
}

const LIKE_FLUSH_MS = 200;
const MAX_LIKES_PER_MESSAGE = 50;
/** Taps not sent yet are kept up to this many; a frantic thumb beyond it is not queued forever. */
const MAX_PENDING_LIKES = 100;
/** The server's like budget per viewer (gateway.ts): 100 at once, refilled at 20 a second. */
const LIKE_BURST = 100;
const LIKES_PER_SECOND = 20;
const PING_MS = 25_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;

export class LiveChannel {
  private ws: WebSocket | null = null;
  private lastEventId: number | null = null;
  private attempt = 0;
  private reconnectTimer: number | null = null;
  private pingTimer: number | null = null;
  private likeTimer: number | null = null;
  private pendingLikes = 0;
  private likeTokens = LIKE_BURST;
  private likeRefilledAt = Date.now();
  private holdUntil = 0;
  private disposed = false;
  private token: string | null;
  private authenticated = false;
  /** Connections made, and how each (re)connect started: replay or fresh snapshot. */
  readonly stats = { opens: 0, resumed: 0, snapshots: 0 };

  constructor(private readonly opts: LiveChannelOptions) {
    this.token = opts.token;
  }

  start(): void {
    window.addEventListener('online', this.onOnline);
    // Connects on the next task: a page that unmounts at once (React's StrictMode check in
    // development) never opens a socket it would close while connecting.
    this.reconnectTimer = window.setTimeout(() => this.connect(), 0);
  }

  dispose(): void {
    this.disposed = true;
    window.removeEventListener('online', this.onOnline);
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'page left');
  }

  /** The resume point: the largest event id seen (the snapshot's id after a snapshot). */
  get resumeId(): number | null {
    return this.lastEventId;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  get canComment(): boolean {
    return this.isOpen && this.authenticated;
  }

  /** Logging in authenticates the open socket; logging out starts a fresh, anonymous one. */
  setToken(token: string | null): void {
    if (token === this.token) return;
    const hadToken = this.token !== null;
    this.token = token;
    this.authenticated = false;
    if (token && this.isOpen) this.send({ type: 'auth', token });
    else if (!token && hadToken && this.ws) this.drop(0);
  }

  /** A tap on the like button; taps are sent together. */
  like(count = 1): void {
    this.pendingLikes = Math.min(MAX_PENDING_LIKES, this.pendingLikes + count);
    this.likeTimer ??= window.setTimeout(() => this.flushLikes(), LIKE_FLUSH_MS);
  }

  /** Sends a comment; false when the socket is not open and authenticated. */
  comment(text: string): boolean {
    if (!this.canComment) return false;
    return this.send({ type: 'comment', text });
  }

  /**
   * Closes the current socket as a network drop would; the channel reconnects (not sooner
   * than `holdMs`) and resumes from its last event id.
   */
  drop(holdMs = 0): void {
    this.holdUntil = Date.now() + Math.max(0, holdMs);
    const ws = this.ws;
    if (ws) ws.close(4000, 'dropped');
    else this.scheduleReconnect();
  }

  private readonly onOnline = () => {
    if (this.disposed || this.ws || this.reconnectTimer === null) return;
    window.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.connect();
  };

  private url(): string {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = this.lastEventId === null ? '' : `?lastEventId=${this.lastEventId}`;
    return `${proto}//${window.location.host}/api/live-rooms/${encodeURIComponent(this.opts.roomId)}/channel${q}`;
  }

  private connect(): void {
    if (this.disposed) return;
    this.reconnectTimer = null;
    this.opts.onState(this.stats.opens === 0 ? 'connecting' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.authenticated = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.stats.opens++;
      if (this.token) this.send({ type: 'auth', token: this.token });
      this.pingTimer = window.setInterval(() => this.send({ type: 'ping' }), PING_MS);
      this.opts.onState('open');
      if (this.pendingLikes > 0) this.likeTimer ??= window.setTimeout(() => this.flushLikes(), LIKE_FLUSH_MS);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      let items: unknown;
      try {
        items = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (!Array.isArray(items)) return;
      // A frame arrived: the connection works, so the next drop starts the backoff afresh.
      this.attempt = 0;
      const valid = items.filter(
        (i): i is ChannelItem => typeof i === 'object' && i !== null && typeof i.type === 'string',
      );
      for (const item of valid) {
        if (item.type === 'snapshot' && typeof item.id === 'number') {
          this.lastEventId = item.id;
          this.stats.snapshots++;
        } else if (typeof item.id === 'number') {
          this.lastEventId = Math.max(this.lastEventId ?? 0, item.id);
        }
        if (item.type === 'resumed') this.stats.resumed++;
        if (item.type === 'authenticated') this.authenticated = true;
      }
      this.opts.onItems(valid);
    };
    ws.onerror = () => {
      // A close event follows; the reconnect is decided there.
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.authenticated = false;
      if (this.pingTimer !== null) window.clearInterval(this.pingTimer);
      this.pingTimer = null;
      if (this.disposed) return;
      // The server refused the room itself (4000 + HTTP status, e.g. 4404 LIVE_ROOM_NOT_FOUND).
      if (ev.code === 4400 || ev.code === 4404) {
        this.opts.onState('failed');
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.disposed || this.reconnectTimer !== null) return;
    this.opts.onState('reconnecting');
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    const jittered = base / 2 + Math.random() * (base / 2);
    const delay = Math.max(jittered, this.holdUntil - Date.now());
    this.reconnectTimer = window.setTimeout(() => this.connect(), delay);
  }

  private flushLikes(): void {
    this.likeTimer = null;
    if (this.pendingLikes <= 0 || !this.isOpen) return;
    const now = Date.now();
    this.likeTokens = Math.min(
      LIKE_BURST,
      this.likeTokens + ((now - this.likeRefilledAt) / 1000) * LIKES_PER_SECOND,
    );
    this.likeRefilledAt = now;
    const count = Math.min(this.pendingLikes, MAX_LIKES_PER_MESSAGE, Math.floor(this.likeTokens));
    if (count >= 1 && this.send({ type: 'like', count })) {
      this.likeTokens -= count;
      this.pendingLikes -= count;
    }
    if (this.pendingLikes > 0) this.likeTimer = window.setTimeout(() => this.flushLikes(), LIKE_FLUSH_MS);
  }

  private send(msg: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) window.clearTimeout(this.reconnectTimer);
    if (this.pingTimer !== null) window.clearInterval(this.pingTimer);
    if (this.likeTimer !== null) window.clearTimeout(this.likeTimer);
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.likeTimer = null;
  }
}
