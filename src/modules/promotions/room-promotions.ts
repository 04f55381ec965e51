import { and, desc, eq, gt, inArray, isNotNull, isNull, lte, ne, notExists, or, sql } from 'drizzle-orm';
import type { Principal, ShopPermission } from '../../platform/auth.js';
import { DAY } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import { rowsOf, type Tx } from '../../platform/db.js';
import { AppError, invalidState, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction, isUniqueViolation } from '../../platform/tx.js';
import type { VenueService } from '../venues/service.js';
import { splitBudget } from './envelopes.js';
import { coupons, type RainStatus, redEnvelopeRains, redEnvelopes } from './schema.js';
import { couponView } from './service.js';

/** A grabbed envelope becomes a platform coupon usable for this long. */
export const ENVELOPE_COUPON_DAYS = 7;
const ENVELOPE_COUPON_TITLE = '直播间红包';
/** A start time this far in the past is taken as "now" (the client's clock may lag). */
const START_SLACK_MS = 60_000;
const MAX_LEAD_MS = 7 * DAY;

export interface NewRain {
  budgetFen: number;
  count: number;
  startsAt?: Date | undefined;
  durationSeconds: number;
}

type RainRow = typeof redEnvelopeRains.$inferSelect;

export interface GrabbedEnvelope {
  rainId: string;
  amountFen: number;
  couponId: string;
  couponClaimId: string;
  minSpendFen: number;
  validUntil: Date;
}

function rainView(r: RainRow, progress: { grabbed: number; paidOutFen: number }) {
  return {
    id: r.id,
    roomId: r.roomId,
    budgetFen: r.budgetFen,
    count: r.envelopeCount,
    startsAt: r.startsAt,
    endsAt: r.endsAt,
    status: r.status,
    grabbed: r.grabbedCount ?? progress.grabbed,
    paidOutFen: r.paidOutFen ?? progress.paidOutFen,
    remaining: r.envelopeCount - (r.grabbedCount ?? progress.grabbed),
  };
}
export type RainView = ReturnType<typeof rainView>;

interface RainState {
  status: RainStatus;
  startsAt: Date;
  endsAt: Date;
  /** The amount of the buyer's envelope in this rain, if any. */
  mine: number | null;
}

interface GrabRow {
  amount_fen: number | null;
  status: RainStatus | null;
  starts_at: Date | string | null;
  ends_at: Date | string | null;
  mine: number | null;
}

const rainNotFound = (id: string) => notFound('RAIN_NOT_FOUND', 'Red-envelope rain', id);

/**
 * What a live room's host does with promotions: drop a coupon in the room (直播间发券) and
 * start a red-envelope rain (红包雨). Both announce themselves on the room channel through
 * outbox events `room.coupon_dropped`, `room.rain_started`, `room.rain_ended`.
 *
 * Rains are platform-funded: a grabbed envelope is issued to the buyer as a single-use
 * platform coupon (amount off = the envelope, minimum spend = amount + 1 fen, valid 7 days),
 * so checkout and the ledger's platform coupon funding treat it like any platform coupon.
 */
export class RoomPromotionService {
  /**
   * Rains this node has seen ended, with their start and end. Ended is final, so once a rain
   * has run dry the flood of late taps is answered with one small read (has this buyer an
   * envelope?) instead of the grab statement.
   */
  private readonly endedRains = new Map<string, { startsAt: Date; endsAt: Date }>();
  /** A sweep this node runs for a rain found empty, which other grabs finding it empty await. */
  private readonly closing = new Map<string, Promise<number>>();

  constructor(
    private readonly p: Platform,
    private readonly rooms: Pick<VenueService, 'getRoomForViewer'>,
    private readonly shopPermissions: (accountId: string, shopId: string) => Promise<ShopPermission[] | null>,
  ) {}

  // --- coupon drops ----------------------------------------------------------------------------

  /**
   * Drops a coupon in a live room: a shop coupon by the room's creator or the shop's staff, when
   * the shop has a product in the room's cart; a platform coupon by an operator. Dropping again
   * in the same room announces it again (a host reminds the room); viewers claim as usual.
   */
  async dropCoupon(principal: Principal, roomId: string, couponId: string) {
    const room = await this.rooms.getRoomForViewer(roomId);
    const [coupon] = await this.p.db.select().from(coupons).where(eq(coupons.id, couponId));
    if (!coupon || coupon.rainId) throw notFound('COUPON_NOT_FOUND', 'Coupon', couponId);
    if (coupon.issuer === 'platform') {
      if (!principal.roles.includes('operator')) {
        throw new AppError('FORBIDDEN', 'A platform coupon is dropped in a live room by an operator.');
      }
    } else {
      const shopId = coupon.shopId!;
      if (room.creator.accountId !== principal.accountId) {
        const perms = await this.shopPermissions(principal.accountId, shopId);
        // Another shop's coupon looks missing, as everywhere else.
        if (!perms) throw notFound('COUPON_NOT_FOUND', 'Coupon', couponId);
        if (!perms.includes('products.write')) {
          throw new AppError(
            'FORBIDDEN',
            'Your staff role in this shop lacks the permission products.write.',
          );
        }
      }
      if (!room.cart.some((i) => i.shopId === shopId)) {
        throw invalidState(
          `Shop ${shopId} has no product in live room ${roomId}'s cart; add one before dropping its coupon.`,
          { shopId, roomId },
        );
      }
    }
    if (room.status !== 'live') {
      throw invalidState(`Live room ${roomId} is ${room.status}; coupons are dropped while it is live.`);
    }
    if (coupon.liveRoomId && coupon.liveRoomId !== roomId) {
      throw invalidState(`Coupon ${couponId} belongs to live room ${coupon.liveRoomId}.`, {
        liveRoomId: coupon.liveRoomId,
      });
    }
    const now = this.p.clock.now();
    if (coupon.status !== 'active' || coupon.validUntil <= now || coupon.validFrom > now) {
      throw new AppError(
        'COUPON_NOT_CLAIMABLE',
        coupon.status !== 'active'
          ? `Coupon ${couponId} is stopped.`
          : coupon.validFrom > now
            ? `Coupon ${couponId} can be claimed from ${coupon.validFrom.toISOString()}; drop it then.`
            : `Coupon ${couponId} ended at ${coupon.validUntil.toISOString()}.`,
        { couponId },
      );
    }
    const dropped = await inTransaction(this.p.db, async (tx) => {
      // One conditional statement: a coupon stopped or handed out meanwhile is not announced.
      const [row] = await tx
        .update(coupons)
        .set({ liveRoomId: roomId })
        .where(
          and(
            eq(coupons.id, couponId),
            eq(coupons.status, 'active'),
            sql`${coupons.claimedCount} < ${coupons.totalQuantity}`,
            or(sql`${coupons.liveRoomId} is null`, eq(coupons.liveRoomId, roomId)),
          ),
        )
        .returning();
      if (!row) {
        throw new AppError(
          'COUPON_SOLD_OUT',
          `All ${coupon.totalQuantity} of coupon ${couponId} have been claimed.`,
          {
            couponId,
          },
        );
      }
      await recordEvent(tx, this.p.clock, 'room.coupon_dropped', couponId, {
        roomId,
        couponId,
        title: row.title,
        amountOffFen: row.amountOffFen,
        minSpendFen: row.minSpendFen,
        remaining: row.totalQuantity - row.claimedCount,
      });
      return row;
    });
    this.p.outbox.wake();
    return couponView(dropped);
  }

  // --- red-envelope rains ----------------------------------------------------------------------

  /**
   * Starts a rain in a live room (the room's creator or an operator): the budget is split into
   * envelopes at once and stored, so a grab only ever takes an envelope that exists, and the
   * total paid out can never pass the budget.
   */
  async startRain(principal: Principal, roomId: string, input: NewRain): Promise<RainView> {
    const room = await this.rooms.getRoomForViewer(roomId);
    if (room.creator.accountId !== principal.accountId && !principal.roles.includes('operator')) {
      throw new AppError('FORBIDDEN', "Only the live room's creator or an operator can start a rain in it.");
    }
    if (room.status !== 'live') {
      throw invalidState(`Live room ${roomId} is ${room.status}; a rain starts while it is live.`);
    }
    // The platform funds rains: a creator spends at most the configured cap per rain; larger
    // campaigns are started by an operator.
    const cap = this.p.config.RAIN_CREATOR_MAX_BUDGET_FEN;
    if (!principal.roles.includes('operator') && input.budgetFen > cap) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.budgetFen: a creator's rain is platform-funded up to ${cap} fen; ask an operator for a larger one.`,
      );
    }
    if (input.count > input.budgetFen) {
      throw new AppError(
        'VALIDATION_FAILED',
        `body.count: ${input.count} envelopes need a budget of at least ${input.count} fen (1 fen each).`,
      );
    }
    const now = this.p.clock.now();
    let startsAt = input.startsAt ?? now;
    if (startsAt.getTime() < now.getTime() - START_SLACK_MS) {
      throw new AppError('VALIDATION_FAILED', 'body.startsAt: must not be in the past.');
    }
    if (startsAt.getTime() > now.getTime() + MAX_LEAD_MS) {
      throw new AppError('VALIDATION_FAILED', 'body.startsAt: must be within 7 days.');
    }
    if (startsAt < now) startsAt = now;
    const opensNow = startsAt <= now;
    const row: RainRow = {
      id: newId('redEnvelopeRain'),
      roomId,
      createdByAccountId: principal.accountId,
      budgetFen: input.budgetFen,
      envelopeCount: input.count,
      startsAt,
      endsAt: new Date(startsAt.getTime() + input.durationSeconds * 1000),
      status: opensNow ? 'open' : 'scheduled',
      openedAt: opensNow ? now : null,
      endedAt: null,
      grabbedCount: null,
      paidOutFen: null,
      createdAt: now,
    };
    const amounts = splitBudget(input.budgetFen, input.count);
    await inTransaction(this.p.db, async (tx) => {
      await tx.insert(redEnvelopeRains).values(row);
      // All envelopes in one statement: the amounts travel as one text parameter.
      await tx.execute(sql`
        insert into red_envelopes (rain_id, seq, amount_fen)
        select ${row.id}, u.seq, u.amount
        from unnest(string_to_array(${amounts.join(',')}, ',')::int[]) with ordinality as u(amount, seq)`);
      if (opensNow) await this.announceStart(tx, row);
    });
    this.p.outbox.wake();
    return rainView(row, { grabbed: 0, paidOutFen: 0 });
  }

  /** The room's rains, newest first (a viewer joining mid-rain finds the open one here). */
  async listRoomRains(roomId: string): Promise<{ items: RainView[] }> {
    const rows = await this.p.db
      .select()
      .from(redEnvelopeRains)
      .where(eq(redEnvelopeRains.roomId, roomId))
      .orderBy(desc(redEnvelopeRains.id))
      .limit(20);
    const live = rows.filter((r) => r.grabbedCount === null).map((r) => r.id);
    const progress = new Map<string, { grabbed: number; paidOutFen: number }>();
    if (live.length > 0) {
      const sums = await this.p.db
        .select({
          rainId: redEnvelopes.rainId,
          grabbed: sql<number>`count(*)::int`,
          paidOutFen: sql<number>`coalesce(sum(${redEnvelopes.amountFen}), 0)::int`,
        })
        .from(redEnvelopes)
        .where(and(inArray(redEnvelopes.rainId, live), isNotNull(redEnvelopes.buyerAccountId)))
        .groupBy(redEnvelopes.rainId);
      for (const s of sums) progress.set(s.rainId, { grabbed: s.grabbed, paidOutFen: s.paidOutFen });
    }
    return { items: rows.map((r) => rainView(r, progress.get(r.id) ?? { grabbed: 0, paidOutFen: 0 })) };
  }

  /**
   * A viewer grabs an envelope (抢红包). One statement does it all: it checks the rain's window
   * and that the buyer holds none of its envelopes (taking a share lock on the rain, so the rain
   * cannot be closed and totalled under it), claims the first unclaimed envelope with SKIP
   * LOCKED (concurrent grabs take different envelopes instead of queueing), and issues the
   * buyer a single-use platform coupon of that amount with its claim. The unique index on
   * (rain, buyer) turns a racing second grab of the same buyer into a refusal.
   */
  async grab(buyerId: string, rainId: string): Promise<GrabbedEnvelope> {
    const now = this.p.clock.now();
    const at = now.toISOString();
    const validUntil = new Date(now.getTime() + ENVELOPE_COUPON_DAYS * DAY);
    const until = validUntil.toISOString();
    const ended = this.endedRains.get(rainId);
    if (ended) {
      const [mine] = await this.p.db
        .select({ amountFen: redEnvelopes.amountFen })
        .from(redEnvelopes)
        .where(and(eq(redEnvelopes.rainId, rainId), eq(redEnvelopes.buyerAccountId, buyerId)));
      throw await this.grabRefusal(rainId, { status: 'ended', ...ended, mine: mine?.amountFen ?? null }, now);
    }
    const couponId = newId('coupon');
    const couponClaimId = newId('couponClaim');
    let state: RainState | undefined;
    try {
      const [row] = rowsOf<GrabRow>(
        await this.p.db.execute(sql`
          with rain as (
            select id, created_by_account_id from red_envelope_rains
            where id = ${rainId} and status <> 'ended'
              and starts_at <= ${at}::timestamptz and ends_at > ${at}::timestamptz
              and not exists (
                select 1 from red_envelopes mine
                where mine.rain_id = ${rainId} and mine.buyer_account_id = ${buyerId})
            for share
          ), envelope as (
            update red_envelopes
            set buyer_account_id = ${buyerId}, grabbed_at = ${at}::timestamptz, coupon_claim_id = ${couponClaimId}
            where rain_id = ${rainId} and buyer_account_id is null and seq = (
              select e.seq from red_envelopes e
              where e.rain_id = (select id from rain) and e.buyer_account_id is null
              order by e.seq
              limit 1
              for update skip locked)
            returning amount_fen
          ), coupon as (
            insert into coupons (id, issuer, shop_id, title, amount_off_fen, min_spend_fen, valid_from,
              valid_until, total_quantity, claimed_count, per_buyer_limit, live_room_id, rain_id, status,
              created_by_account_id, created_at)
            select ${couponId}, 'platform', null, ${ENVELOPE_COUPON_TITLE}, envelope.amount_fen,
              envelope.amount_fen + 1, ${at}::timestamptz, ${until}::timestamptz, 1, 1, 1, null, ${rainId},
              'active', rain.created_by_account_id, ${at}::timestamptz
            from envelope, rain
            returning id
          ), claim as (
            insert into coupon_claims (id, coupon_id, buyer_account_id, status, order_id, claimed_at)
            select ${couponClaimId}, coupon.id, ${buyerId}, 'unused', null, ${at}::timestamptz from coupon
            returning id
          )
          -- A refused grab needs no second query: the rain's state and the buyer's envelope, as
          -- the statement found them, come back with it.
          select (select envelope.amount_fen from envelope, claim) as amount_fen,
            r.status, r.starts_at, r.ends_at,
            (select m.amount_fen from red_envelopes m
              where m.rain_id = ${rainId} and m.buyer_account_id = ${buyerId}) as mine
          from (select 1) as one
          left join red_envelope_rains r on r.id = ${rainId}`),
      );
      if (row?.amount_fen != null) {
        const amountFen = Number(row.amount_fen);
        return { rainId, amountFen, couponId, couponClaimId, minSpendFen: amountFen + 1, validUntil };
      }
      state = row?.status
        ? {
            status: row.status,
            startsAt: new Date(row.starts_at!),
            endsAt: new Date(row.ends_at!),
            mine: row.mine === null ? null : Number(row.mine),
          }
        : undefined;
    } catch (err) {
      // The same buyer's concurrent grab won: read the state again, after it.
      if (!isUniqueViolation(err, 'red_envelopes_rain_buyer_uq')) throw err;
      state = await this.rainState(buyerId, rainId);
    }
    throw await this.grabRefusal(rainId, state, now);
  }

  private async rainState(buyerId: string, rainId: string): Promise<RainState | undefined> {
    const [r] = await this.p.db
      .select({
        status: redEnvelopeRains.status,
        startsAt: redEnvelopeRains.startsAt,
        endsAt: redEnvelopeRains.endsAt,
        mine: sql<number | null>`(select e.amount_fen from red_envelopes e
          where e.rain_id = ${redEnvelopeRains.id} and e.buyer_account_id = ${buyerId})`,
      })
      .from(redEnvelopeRains)
      .where(eq(redEnvelopeRains.id, rainId));
    return r;
  }

  private async grabRefusal(rainId: string, r: RainState | undefined, now: Date): Promise<AppError> {
    if (!r) return rainNotFound(rainId);
    if (r.status === 'ended') this.rememberEnded({ id: rainId, ...r });
    if (r.startsAt > now) {
      return new AppError('RAIN_NOT_OPEN', `The rain starts at ${r.startsAt.toISOString()}.`, {
        rainId,
        startsAt: r.startsAt,
      });
    }
    if (r.endsAt <= now) {
      return new AppError('RAIN_NOT_OPEN', `The rain ended at ${r.endsAt.toISOString()}.`, {
        rainId,
        endsAt: r.endsAt,
      });
    }
    if (r.mine !== null) {
      return new AppError(
        'RAIN_ALREADY_GRABBED',
        'You already grabbed an envelope in this rain; it is among your coupons.',
        { rainId, amountFen: Number(r.mine) },
      );
    }
    // The first viewer to find the rain empty closes it (and announces the total); the others
    // on this node wait for that instead of each trying again.
    if (r.status !== 'ended') {
      let closing = this.closing.get(rainId);
      if (!closing) {
        closing = this.sweepRains(rainId).finally(() => this.closing.delete(rainId));
        this.closing.set(rainId, closing);
      }
      await closing;
    }
    return new AppError('RAIN_EMPTY', 'Every envelope of this rain has been grabbed.', { rainId });
  }

  /**
   * The rains' clock (a job, and a grab that finds a rain empty): announces rains whose start
   * has come, and ends rains whose window has closed or whose envelopes are all grabbed,
   * announcing how many were grabbed and the total paid out. Conditional updates, so nodes
   * sweeping together announce each change once.
   */
  async sweepRains(rainId?: string): Promise<number> {
    const now = this.p.clock.now();
    const changed = await inTransaction(this.p.db, async (tx) => {
      const only = rainId ? eq(redEnvelopeRains.id, rainId) : undefined;
      const opened = await tx
        .update(redEnvelopeRains)
        .set({ status: 'open' satisfies RainStatus, openedAt: now })
        .where(
          and(
            only,
            eq(redEnvelopeRains.status, 'scheduled'),
            lte(redEnvelopeRains.startsAt, now),
            gt(redEnvelopeRains.endsAt, now),
          ),
        )
        .returning();
      for (const r of opened) await this.announceStart(tx, r);
      // Grabs hold a share lock on their rain, so this waits for those in flight; the totals
      // below, read after it, include every envelope that will ever be grabbed.
      const ended = await tx
        .update(redEnvelopeRains)
        .set({ status: 'ended' satisfies RainStatus, endedAt: now })
        .where(
          and(
            only,
            ne(redEnvelopeRains.status, 'ended'),
            or(
              lte(redEnvelopeRains.endsAt, now),
              and(
                lte(redEnvelopeRains.startsAt, now),
                notExists(
                  tx
                    .select({ one: sql`1` })
                    .from(redEnvelopes)
                    .where(
                      and(eq(redEnvelopes.rainId, redEnvelopeRains.id), isNull(redEnvelopes.buyerAccountId)),
                    ),
                ),
              ),
            ),
          ),
        )
        .returning();
      for (const r of ended) await this.closeRain(tx, r);
      return { opened, ended };
    });
    for (const r of changed.ended) this.rememberEnded(r);
    const n = changed.opened.length + changed.ended.length;
    if (n > 0) this.p.outbox.wake();
    return n;
  }

  private rememberEnded(r: { id: string; startsAt: Date; endsAt: Date }): void {
    if (this.endedRains.has(r.id)) return;
    if (this.endedRains.size >= 10_000) this.endedRains.clear();
    this.endedRains.set(r.id, { startsAt: r.startsAt, endsAt: r.endsAt });
  }

  private async announceStart(tx: Tx, r: RainRow): Promise<void> {
    await recordEvent(tx, this.p.clock, 'room.rain_started', r.id, {
      roomId: r.roomId,
      rainId: r.id,
      count: r.envelopeCount,
      budgetFen: r.budgetFen,
      endsAt: r.endsAt.toISOString(),
    });
  }

  private async closeRain(tx: Tx, r: { id: string; roomId: string }): Promise<void> {
    const [sum] = await tx
      .select({
        grabbed: sql<number>`count(*)::int`,
        paidOutFen: sql<number>`coalesce(sum(${redEnvelopes.amountFen}), 0)::int`,
      })
      .from(redEnvelopes)
      .where(and(eq(redEnvelopes.rainId, r.id), isNotNull(redEnvelopes.buyerAccountId)));
    const grabbed = Number(sum?.grabbed ?? 0);
    const paidOutFen = Number(sum?.paidOutFen ?? 0);
    await tx
      .update(redEnvelopeRains)
      .set({ grabbedCount: grabbed, paidOutFen })
      .where(eq(redEnvelopeRains.id, r.id));
    await recordEvent(tx, this.p.clock, 'room.rain_ended', r.id, {
      roomId: r.roomId,
      rainId: r.id,
      grabbed,
      paidOutFen,
    });
  }
}
