import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { IdentityService } from '../modules/identity/service.js';
import { maskName } from '../modules/privacy/masks.js';
import { assertNoExternalLinks } from '../modules/venues/guard.js';
import type { Bus } from '../platform/bus.js';
import { AppError, type ErrorCode } from '../platform/errors.js';
import type { HttpServer } from '../platform/http.js';
import { idOf } from '../platform/schemas.js';
import type { RoomHub } from './room-hub.js';

/** What a viewer may send on the channel: one schema, as for every HTTP input. */
const inbound = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), token: z.string().min(16).max(200) }),
  z.object({ type: z.literal('comment'), text: z.string().trim().min(1).max(200) }),
  z.object({ type: z.literal('like'), count: z.number().int().min(1).max(50).default(1) }),
  z.object({ type: z.literal('ping') }),
]);

/** Token bucket: `capacity` at once, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private at = Date.now();
  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
  ) {
    this.tokens = capacity;
  }
  take(n = 1): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

export const COMMENT_BURST = 3;
export const COMMENTS_PER_SECOND = 0.5;

/**
 * The room channel: `GET /api/live-rooms/:roomId/channel` upgraded to a WebSocket. The server
 * sends frames, each a JSON array of items: `snapshot` (the room now, its `id` the resume
 * point), events with an `id` (pinned, price, status, cart, comment, flash sale, coupon,
 * rain…), `counters` (viewers, likes, stock; coalesced per tick) and `error`. A client that
 * reconnects with `?lastEventId=` gets what it missed, or a fresh snapshot when that is too old.
 * Viewers may send `{type:'like'}`; after `{type:'auth', token}` also `{type:'comment', text}`,
 * rate-limited per viewer and refused when it carries an external link.
 */
export function liveRoutes(
  app: HttpServer,
  deps: { hub: RoomHub; bus: Bus; identity: IdentityService },
): void {
  const { hub, bus, identity } = deps;
  app.get(
    '/api/live-rooms/:roomId/channel',
    {
      websocket: true,
      config: { access: 'public' },
      schema: {
        tags: ['live'],
        summary: 'The live room channel (WebSocket): room state, events and counters in order',
        params: z.object({ roomId: idOf('lr') }),
        querystring: z.object({ lastEventId: z.coerce.number().int().min(0).optional() }),
      },
    },
    (socket: WebSocket, req) => {
      const { roomId } = req.params as { roomId: string };
      const { lastEventId } = req.query as { lastEventId?: number };
      let author: { accountId: string; nickname: string } | null = null;
      const comments = new TokenBucket(COMMENT_BURST, COMMENTS_PER_SECOND);
      const likes = new TokenBucket(100, 20);
      const refuse = (code: ErrorCode, message: string) =>
        socket.send(JSON.stringify([{ type: 'error', data: { code, message } }]));

      const joined = hub.join(roomId, socket, lastEventId);
      joined.catch((err: unknown) => {
        if (err instanceof AppError) {
          refuse(err.code, err.message);
          socket.close(4000 + err.status, err.code);
        } else {
          req.log.error({ err }, 'live channel join failed');
          socket.close(1011, 'INTERNAL');
        }
      });
      socket.on('close', () => {
        joined.then((v) => hub.leave(roomId, v)).catch(() => {});
      });
      // Handlers are attached at once so no message is lost while the snapshot loads.
      socket.on('message', async (raw) => {
        let msg: z.infer<typeof inbound>;
        try {
          const parsed = inbound.safeParse(JSON.parse(String(raw)));
          if (!parsed.success) {
            return refuse(
              'VALIDATION_FAILED',
              parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
            );
          }
          msg = parsed.data;
        } catch {
          return refuse('VALIDATION_FAILED', 'message: must be JSON');
        }
        if (msg.type === 'ping') return socket.send(JSON.stringify([{ type: 'pong', data: {} }]));
        if (msg.type === 'auth') {
          const principal = await identity.principalForToken(msg.token);
          if (!principal)
            return refuse('UNAUTHENTICATED', 'The session token is invalid or expired; log in again.');
          const account = await identity.getAccount(principal.accountId);
          author = { accountId: principal.accountId, nickname: maskName(account.displayName) };
          return socket.send(
            JSON.stringify([{ type: 'authenticated', data: { nickname: author.nickname } }]),
          );
        }
        if (msg.type === 'like') {
          if (!likes.take(msg.count)) return refuse('RATE_LIMITED', 'Too many likes at once; slow down.');
          return hub.like(roomId, msg.count);
        }
        if (!author) return refuse('UNAUTHENTICATED', 'Log in (send {"type":"auth","token":…}) to comment.');
        try {
          assertNoExternalLinks({ comment: msg.text });
        } catch (err) {
          if (err instanceof AppError) return refuse(err.code, err.message);
          throw err;
        }
        if (!comments.take()) {
          return refuse(
            'RATE_LIMITED',
            `At most ${COMMENT_BURST} comments at once, then one every ${1 / COMMENTS_PER_SECOND} s.`,
          );
        }
        await bus.publishRoom(roomId, 'comment', { nickname: author.nickname, text: msg.text });
      });
    },
  );
}
