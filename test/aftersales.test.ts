import { and, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skus } from '../src/modules/catalog/schema.js';
import { credit, debit, PLATFORM, shopAccount } from '../src/modules/ledger/accounts.js';
import { paymentRefunds } from '../src/modules/payments/schema.js';
import { DAY, HOUR, MINUTE } from '../src/platform/clock.js';
import { outboxEvents } from '../src/platform/schema.js';
import { signPayload } from '../src/platform/signing.js';
import { inTransaction } from '../src/platform/tx.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext, unique } from './harness.js';

let t: TestContext;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());
afterEach(async () => {
  expect(await t.app.services.ledger.verify()).toMatchObject({ ok: true });
});

type World = Awaited<ReturnType<typeof sellingWorld>>;
type Who = { id: string };

/** The clock moves days here, past the session lifetime: every call logs in afresh. */
async function call(who: Who, opts: { method: 'GET' | 'POST'; url: string; payload?: object; key?: string }) {
  const { token } = await t.app.services.identity.issueSession(who.id);
  return t.request({
    method: opts.method,
    url: opts.url,
    token,
    ...(opts.payload ? { payload: opts.payload } : {}),
    ...(opts.key ? { headers: { 'idempotency-key': opts.key } } : {}),
  });
}

async function paidOrder(w: World, quantity = 1) {
  const buyer = await t.account(['buyer']);
  const created = await checkout(t, buyer.token, {
    venue: { type: 'live_room', id: w.room.id },
    items: [{ skuId: w.sku.id, quantity }],
    recipient: recipient(),
  });
  expect(created.statusCode).toBe(201);
  const order = created.json();
  expect((await pay(t, buyer.token, order.id)).statusCode).toBe(200);
  await t.app.paymentProvider.settle();
  await t.app.platform.outbox.drain(); // order.paid booked in the ledger
  return { buyer, order: order as { id: string; lines: { id: string; paidFen: number }[] } };
}

const shipOrder = (w: World, orderId: string) =>
  call(w.merchant, {
    method: 'POST',
    url: `/api/shops/${w.shop.id}/orders/${orderId}/ship`,
    payload: { carrier: 'SF', trackingNo: unique('SF').toUpperCase() },
  });

async function deliveredOrder(w: World) {
  const paid = await paidOrder(w);
  const shipped = await shipOrder(w, paid.order.id);
  expect(shipped.statusCode).toBe(200);
  const { carrier, trackingNo } = shipped.json().order.shipment;
  const body = JSON.stringify({ eventId: unique('trk-'), carrier, trackingNo, status: 'delivered' });
  const res = await t.request({
    method: 'POST',
    url: '/api/webhooks/logistics',
    payload: body,
    headers: {
      'content-type': 'application/json',
      'x-livecart-signature': signPayload(
        t.app.platform.config.LOGISTICS_WEBHOOK_SECRET,
        body,
        Math.floor(Date.now() / 1000),
      ),
    },
  });
  expect(res.statusCode).toBe(200);
  await t.app.platform.outbox.drain();
  return paid;
}

const openCase = (buyer: Who, orderId: string, payload: object) =>
  call(buyer, { method: 'POST', url: `/api/orders/${orderId}/aftersales`, payload });
const approve = (w: World, caseId: string, key = unique('approve-')) =>
  call(w.merchant, { method: 'POST', url: `/api/shops/${w.shop.id}/aftersales/${caseId}/approve`, key });
const buyerCase = (buyer: Who, caseId: string) =>
  call(buyer, { method: 'GET', url: `/api/aftersales/${caseId}` });
const buyerOrder = async (buyer: Who, orderId: string) =>
  (await call(buyer, { method: 'GET', url: `/api/orders/${orderId}` })).json();
const money = (orderId: string) => t.app.services.ledger.orderMoneyOf(t.app.platform.db, orderId);
const refundsOf = (orderId: string) =>
  t.app.platform.db.select().from(paymentRefunds).where(eq(paymentRefunds.orderId, orderId));
const eventsOf = (topic: string, aggregateId: string) =>
  t.app.platform.db
    .select()
    .from(outboxEvents)
    .where(and(eq(outboxEvents.topic, topic), eq(outboxEvents.aggregateId, aggregateId)));
const balances = async (w: World) =>
  (await call(w.merchant, { method: 'GET', url: `/api/shops/${w.shop.id}/finance/balances` })).json();
const runJob = async (name: string) => (await t.app.platform.jobs.runNow(name))[name]!;

describe('after-sales', () => {
  it('refunds only before shipment: the shipment stops, the order ends refunded and its stock returns', async () => {
    const w = await sellingWorld(t, { stock: 10, priceFen: 9900 });
    const { buyer, order } = await paidOrder(w, 2);
    const [reserved] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(reserved!.stock).toBe(8);

    const opened = await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'no_longer_needed' });
    expect(opened.statusCode).toBe(201);
    const c = opened.json();
    expect(c).toMatchObject({
      status: 'open',
      stage: 'before_shipment',
      requestedFen: 19800,
      refundedFen: null,
    });
    expect((await money(order.id))!.openCases).toBe(1);

    const held = await shipOrder(w, order.id);
    expect(held.statusCode).toBe(409);
    expect(held.json()).toMatchObject({ code: 'ORDER_SHIPPING_HELD', details: { caseId: c.id } });

    const approved = await approve(w, c.id);
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'refunded', outcome: 'refunded', refundedFen: 19800 });

    expect(await buyerOrder(buyer, order.id)).toMatchObject({
      status: 'refunded',
      cancelReason: 'refunded_before_shipment',
    });
    const [sku] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(sku!.stock).toBe(10);
    const refunds = await refundsOf(order.id);
    expect(refunds).toMatchObject([{ id: approved.json().refundId, amountFen: 19800, status: 'succeeded' }]);
    expect(await money(order.id)).toMatchObject({
      refundedFen: 19800,
      openCases: 0,
      shopShareReversedFen: expect.any(Number),
    });
    expect(await balances(w)).toMatchObject({ pendingFen: 0, availableFen: 0 });
    const [refunded] = await eventsOf('order.refunded', order.id);
    expect(refunded!.payload).toEqual({
      orderId: order.id,
      shopId: w.shop.id,
      refundId: refunds[0]!.id,
      amountFen: 19800,
      fullyRefunded: true,
    });
    const closed = await eventsOf('aftersales.closed', c.id);
    expect(closed.map((e) => e.payload)).toEqual([
      { caseId: c.id, orderId: order.id, shopId: w.shop.id, outcome: 'refunded', refundedFen: 19800 },
    ]);

    const late = await shipOrder(w, order.id);
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('INVALID_STATE');
  });

  it('returns and refunds: approved, shipped back by the buyer, confirmed by the shop, refunded', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await deliveredOrder(w);
    const c = (
      await openCase(buyer, order.id, {
        type: 'return_and_refund',
        reasonCode: 'quality_issue',
        description: '面膜漏液，外包装破损',
      })
    ).json();
    expect(c).toMatchObject({ status: 'open', stage: 'after_receipt', requestedFen: 9900 });

    const approved = await approve(w, c.id);
    expect(approved.json()).toMatchObject({ status: 'awaiting_return', refundedFen: null });
    expect(await refundsOf(order.id)).toHaveLength(0);

    const early = await call(w.merchant, {
      method: 'POST',
      url: `/api/shops/${w.shop.id}/aftersales/${c.id}/confirm-return`,
      key: unique('confirm-'),
    });
    expect(early.statusCode).toBe(409);

    const sent = await call(buyer, {
      method: 'POST',
      url: `/api/aftersales/${c.id}/return`,
      payload: { carrier: 'YTO', trackingNo: 'YT0000RETURN1' },
    });
    expect(sent.json()).toMatchObject({
      status: 'return_shipped',
      returnShipment: { carrier: 'YTO', trackingNo: 'YT0000RETURN1' },
    });

    const confirmed = await call(w.merchant, {
      method: 'POST',
      url: `/api/shops/${w.shop.id}/aftersales/${c.id}/confirm-return`,
      key: unique('confirm-'),
    });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json()).toMatchObject({ status: 'refunded', outcome: 'refunded', refundedFen: 9900 });
    expect(await buyerOrder(buyer, order.id)).toMatchObject({
      status: 'refunded',
      cancelReason: 'refunded_after_receipt',
    });
    expect(await money(order.id)).toMatchObject({ refundedFen: 9900, openCases: 0 });
    expect(await balances(w)).toMatchObject({ pendingFen: 0 });
  });

  it('refunds in parts up to the paid amount, and refuses a refund beyond it', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await deliveredOrder(w);
    const first = (
      await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'missing_parts', amountFen: 3000 })
    ).json();
    const second = await openCase(buyer, order.id, {
      type: 'refund_only',
      reasonCode: 'other',
      amountFen: 100,
    });
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({ code: 'AFTERSALES_ALREADY_OPEN', details: { caseId: first.id } });
    expect((await approve(w, first.id)).json()).toMatchObject({ status: 'refunded', refundedFen: 3000 });
    expect((await buyerOrder(buyer, order.id)).status).toBe('delivered');

    const tooMuch = await openCase(buyer, order.id, {
      type: 'refund_only',
      reasonCode: 'other',
      amountFen: 7000,
    });
    expect(tooMuch.statusCode).toBe(409);
    expect(tooMuch.json()).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', details: { refundableFen: 6900 } });

    const rest = (
      await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'quality_issue' })
    ).json();
    expect(rest.requestedFen).toBe(6900);
    expect((await approve(w, rest.id)).json()).toMatchObject({ status: 'refunded', refundedFen: 6900 });
    expect(await buyerOrder(buyer, order.id)).toMatchObject({
      status: 'refunded',
      cancelReason: 'refunded_after_receipt',
    });

    const third = await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'other', amountFen: 1 });
    expect(third.statusCode).toBe(409);
    expect(third.json().code).toBe('REFUND_EXCEEDS_PAID');
    // The payments use case refuses it on its own too.
    await expect(
      inTransaction(t.app.platform.db, (tx) =>
        t.app.services.payments.refund(tx, {
          refundId: 'rfd_00000000000000000000000000',
          orderId: order.id,
          amountFen: 1,
          reason: 'test',
        }),
      ),
    ).rejects.toMatchObject({ code: 'REFUND_EXCEEDS_PAID' });

    const refunds = await refundsOf(order.id);
    expect(refunds.map((r) => r.amountFen).sort()).toEqual([3000, 6900]);
    expect(await money(order.id)).toMatchObject({ paidFen: 9900, refundedFen: 9900, openCases: 0 });
    const refundedEvents = await eventsOf('order.refunded', order.id);
    expect(refundedEvents.map((e) => (e.payload as { fullyRefunded: boolean }).fullyRefunded).sort()).toEqual(
      [false, true],
    );
  });

  it('lets a buyer escalate a rejection, and the platform refunds part of the claim', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await deliveredOrder(w);
    const c = (
      await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'not_as_described' })
    ).json();
    const rejectUrl = `/api/shops/${w.shop.id}/aftersales/${c.id}/reject`;

    const bare = await call(w.merchant, {
      method: 'POST',
      url: rejectUrl,
      payload: { reason: 'goods_used_or_damaged_by_buyer' },
    });
    expect(bare.statusCode).toBe(400);
    expect(bare.json().message).toContain('body.evidence');
    expect((await buyerCase(buyer, c.id)).json().status).toBe('open');

    const rejected = await call(w.merchant, {
      method: 'POST',
      url: rejectUrl,
      payload: {
        reason: 'goods_used_or_damaged_by_buyer',
        evidence: '签收照片显示包装完好，退回商品已拆封使用',
      },
    });
    expect(rejected.json()).toMatchObject({
      status: 'rejected',
      rejection: { reason: 'goods_used_or_damaged_by_buyer' },
    });
    expect(new Date(rejected.json().deadlineAt).getTime()).toBe(t.clock.now().getTime() + 48 * HOUR);

    const decideUrl = `/api/operator/aftersales/${c.id}/decide`;
    const tooEarly = await call(w.operator, {
      method: 'POST',
      url: decideUrl,
      payload: { decision: 'refund', note: '支持退款' },
      key: unique('decide-'),
    });
    expect(tooEarly.statusCode).toBe(409);

    const escalated = await call(buyer, {
      method: 'POST',
      url: `/api/aftersales/${c.id}/escalate`,
      payload: { statement: '收到时已经漏液，有开箱视频' },
    });
    expect(escalated.json()).toMatchObject({ status: 'arbitration', deadlineAt: null });
    const queue = (
      await call(w.operator, { method: 'GET', url: '/api/operator/aftersales?limit=100' })
    ).json();
    expect(queue.items.map((i: { id: string }) => i.id)).toContain(c.id);

    const overClaim = await call(w.operator, {
      method: 'POST',
      url: decideUrl,
      payload: { decision: 'refund', amountFen: 9901, note: '支持退款' },
      key: unique('decide-'),
    });
    expect(overClaim.statusCode).toBe(400);

    const key = unique('decide-');
    const decided = await call(w.operator, {
      method: 'POST',
      url: decideUrl,
      payload: { decision: 'refund', amountFen: 5000, note: '双方各担一半' },
      key,
    });
    expect(decided.statusCode).toBe(200);
    expect(decided.json()).toMatchObject({ status: 'refunded', outcome: 'refunded', refundedFen: 5000 });
    const replay = await call(w.operator, {
      method: 'POST',
      url: decideUrl,
      payload: { decision: 'refund', amountFen: 5000, note: '双方各担一半' },
      key,
    });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(decided.json());

    expect((await buyerOrder(buyer, order.id)).status).toBe('delivered');
    expect(await refundsOf(order.id)).toHaveLength(1);
    expect(await money(order.id)).toMatchObject({ refundedFen: 5000, openCases: 0 });
  });

  it('closes a rejection the buyer does not escalate within 48 hours, and lifts the holds', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await paidOrder(w);
    const c = (await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'late_shipment' })).json();
    const rejected = await call(w.merchant, {
      method: 'POST',
      url: `/api/shops/${w.shop.id}/aftersales/${c.id}/reject`,
      payload: { reason: 'outside_return_policy' },
    });
    expect(rejected.json().status).toBe('rejected');
    // The merchant declined to stop the shipment, so it may ship; settlement still waits.
    expect((await shipOrder(w, order.id)).statusCode).toBe(200);
    expect((await money(order.id))!.openCases).toBe(1);

    t.clock.advance(47 * HOUR);
    await runJob('aftersales.deadlines');
    expect((await buyerCase(buyer, c.id)).json().status).toBe('rejected');

    t.clock.advance(HOUR + MINUTE);
    expect(await runJob('aftersales.deadlines')).toBeGreaterThanOrEqual(1);
    expect((await buyerCase(buyer, c.id)).json()).toMatchObject({ status: 'closed', outcome: 'rejected' });
    const late = await call(buyer, {
      method: 'POST',
      url: `/api/aftersales/${c.id}/escalate`,
      payload: { statement: '我不同意' },
    });
    expect(late.statusCode).toBe(409);
    expect(await money(order.id)).toMatchObject({ openCases: 0, refundedFen: 0 });
    expect(await eventsOf('aftersales.closed', c.id)).toHaveLength(1);
  });

  it('approves a refund-only case by itself when the merchant stays silent for 48 hours', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await deliveredOrder(w);
    const c = (
      await openCase(buyer, order.id, {
        type: 'refund_only',
        reasonCode: 'damaged_in_transit',
        amountFen: 2000,
      })
    ).json();

    t.clock.advance(47 * HOUR);
    await runJob('aftersales.deadlines');
    expect((await buyerCase(buyer, c.id)).json().status).toBe('open');

    t.clock.advance(HOUR + MINUTE);
    await runJob('aftersales.deadlines');
    expect((await buyerCase(buyer, c.id)).json()).toMatchObject({
      status: 'refunded',
      refundedFen: 2000,
      respondedBy: 'system',
    });
    expect(await money(order.id)).toMatchObject({ refundedFen: 2000, openCases: 0 });
    expect((await buyerOrder(buyer, order.id)).status).toBe('delivered');
  });

  it('defers settlement while a case is open, and settles once it closes', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await deliveredOrder(w);
    const confirmed = await call(buyer, { method: 'POST', url: `/api/orders/${order.id}/confirm-receipt` });
    expect(confirmed.json().status).toBe('completed');
    await t.app.platform.outbox.drain();
    const c = (
      await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'quality_issue', amountFen: 1000 })
    ).json();

    t.clock.advance(8 * DAY);
    await runJob('ledger.settle');
    expect((await money(order.id))!.shopSettledAt).toBeNull();
    expect(await balances(w)).toMatchObject({ availableFen: 0 });

    const cancelled = await call(buyer, { method: 'POST', url: `/api/aftersales/${c.id}/cancel` });
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', outcome: 'cancelled' });
    await runJob('ledger.settle');
    const settled = (await money(order.id))!;
    expect(settled.shopSettledAt).not.toBeNull();
    expect(await balances(w)).toMatchObject({ pendingFen: 0, availableFen: settled.shopShareFen });

    // Eight days after receipt, the window is closed.
    const late = await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'quality_issue' });
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('AFTERSALES_WINDOW_CLOSED');
  });

  it('takes a refund after settlement from the available balance, which may go negative', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await deliveredOrder(w);
    t.clock.advance(3 * DAY);
    await call(buyer, { method: 'POST', url: `/api/orders/${order.id}/confirm-receipt` });
    await t.app.platform.outbox.drain();
    // Settles 7 days after delivery; the window runs 7 days from receipt, 3 days longer.
    t.clock.advance(4 * DAY + MINUTE);
    await runJob('ledger.settle');
    const settled = (await money(order.id))!;
    expect(settled.shopSettledAt).not.toBeNull();
    const share = settled.shopShareFen;
    expect(await balances(w)).toMatchObject({ pendingFen: 0, availableFen: share });
    // The shop has already been paid out its available balance.
    await t.app.services.ledger.post(t.app.platform.db, {
      kind: 'test_payout',
      ref: unique('payout-'),
      postings: [debit(shopAccount(w.shop.id, 'available'), share), credit(PLATFORM.payoutsInTransit, share)],
    });

    const c = (await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'quality_issue' })).json();
    expect((await approve(w, c.id)).json()).toMatchObject({ status: 'refunded', refundedFen: 9900 });
    expect(await balances(w)).toMatchObject({ pendingFen: 0, availableFen: -share });
    expect(await money(order.id)).toMatchObject({
      refundedFen: 9900,
      shopShareReversedFen: share,
      openCases: 0,
    });
  });

  it('replays an approval sent again with its Idempotency-Key and moves the money once', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await paidOrder(w);
    const c = (
      await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'wrong_item', amountFen: 4000 })
    ).json();
    const key = unique('approve-');
    const [a, b] = await Promise.all([approve(w, c.id, key), approve(w, c.id, key)]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const again = await approve(w, c.id, key);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(a.json());
    expect(a.json()).toEqual(b.json());

    const other = await approve(w, c.id);
    expect(other.statusCode).toBe(409);
    // The payments use case is idempotent per refund id as well.
    const retried = await inTransaction(t.app.platform.db, (tx) =>
      t.app.services.payments.refund(tx, {
        refundId: a.json().refundId,
        orderId: order.id,
        amountFen: 4000,
        reason: 'retry',
      }),
    );
    expect(retried).toMatchObject({ amountFen: 4000, refundedFen: 4000, fullyRefunded: false });

    expect(await refundsOf(order.id)).toHaveLength(1);
    expect(await eventsOf('order.refunded', order.id)).toHaveLength(1);
    expect(await money(order.id)).toMatchObject({ refundedFen: 4000, openCases: 0 });
    // A partial refund before shipment leaves the order to ship.
    expect((await buyerOrder(buyer, order.id)).status).toBe('paid');
    expect((await shipOrder(w, order.id)).statusCode).toBe(200);
  });

  it('lets exactly one of a concurrent approval and cancellation win', async () => {
    const w = await sellingWorld(t);
    for (let i = 0; i < 3; i++) {
      const { buyer, order } = await paidOrder(w);
      const c = (
        await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'no_longer_needed' })
      ).json();
      const [approved, cancelled] = await Promise.all([
        approve(w, c.id),
        call(buyer, { method: 'POST', url: `/api/aftersales/${c.id}/cancel` }),
      ]);
      expect([approved.statusCode, cancelled.statusCode].sort()).toEqual([200, 409]);
      const final = (await buyerCase(buyer, c.id)).json();
      expect(final.status).toBe(approved.statusCode === 200 ? 'refunded' : 'cancelled');
      expect(await eventsOf('aftersales.closed', c.id)).toHaveLength(1);
      expect(await refundsOf(order.id)).toHaveLength(approved.statusCode === 200 ? 1 : 0);
      expect(await money(order.id)).toMatchObject({
        openCases: 0,
        refundedFen: approved.statusCode === 200 ? 9900 : 0,
      });
    }
  });

  it('refuses bad requests with a specific answer and changes nothing', async () => {
    const w = await sellingWorld(t);
    const { buyer, order } = await paidOrder(w);
    const stranger = await t.account(['buyer']);
    const cases: [Who, object, number, string][] = [
      [stranger, { type: 'refund_only', reasonCode: 'other' }, 404, 'ORDER_NOT_FOUND'],
      [buyer, { type: 'return_and_refund', reasonCode: 'quality_issue' }, 409, 'INVALID_STATE'],
      [buyer, { type: 'refund_only', reasonCode: 'other', amountFen: 9901 }, 409, 'REFUND_EXCEEDS_PAID'],
      [
        buyer,
        { type: 'refund_only', reasonCode: 'other', lineId: 'oln_00000000000000000000000000' },
        400,
        'VALIDATION_FAILED',
      ],
      [
        buyer,
        { type: 'refund_only', reasonCode: 'other', description: '去 taobao.com 买更便宜' },
        422,
        'EXTERNAL_LINK_FORBIDDEN',
      ],
      [buyer, { type: 'refund', reasonCode: 'other' }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [who, body, status, code] of cases) {
      const res = await openCase(who, order.id, body);
      expect([res.statusCode, res.json().code], JSON.stringify(body)).toEqual([status, code]);
    }
    const list = (await call(buyer, { method: 'GET', url: `/api/aftersales?orderId=${order.id}` })).json();
    expect(list.items).toEqual([]);
    expect((await money(order.id))!.openCases).toBe(0);

    const unpaid = await checkout(t, buyer.token, {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient(),
    });
    const refused = await openCase(buyer, unpaid.json().id, { type: 'refund_only', reasonCode: 'other' });
    expect([refused.statusCode, refused.json().code]).toEqual([409, 'INVALID_STATE']);
  });

  it('scopes cases to their buyer and shop, and needs aftersales.handle to act on them', async () => {
    const w = await sellingWorld(t);
    const other = await sellingWorld(t);
    const { buyer, order } = await paidOrder(w);
    const c = (await openCase(buyer, order.id, { type: 'refund_only', reasonCode: 'other' })).json();
    const reader = await t.account(['buyer']);
    await t.app.services.identity.setShopStaff(w.shop.id, reader.login, ['orders.read']);

    const seen = await call(reader, { method: 'GET', url: `/api/shops/${w.shop.id}/aftersales?status=open` });
    expect(seen.json().items.map((i: { id: string }) => i.id)).toEqual([c.id]);
    expect(seen.body).not.toContain('13812345678');
    expect(
      (
        await call(reader, {
          method: 'POST',
          url: `/api/shops/${w.shop.id}/aftersales/${c.id}/approve`,
          key: unique('k-'),
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (await call(other.merchant, { method: 'GET', url: `/api/shops/${other.shop.id}/aftersales/${c.id}` }))
        .statusCode,
    ).toBe(404);
    expect((await approve(other, c.id)).statusCode).toBe(404);
    expect(
      (await call(other.merchant, { method: 'GET', url: `/api/shops/${w.shop.id}/aftersales/${c.id}` }))
        .statusCode,
    ).toBe(404);
    expect((await buyerCase(reader, c.id)).statusCode).toBe(404);

    const cancelled = await call(buyer, { method: 'POST', url: `/api/aftersales/${c.id}/cancel` });
    expect(cancelled.json().status).toBe('cancelled');
    expect((await shipOrder(w, order.id)).statusCode).toBe(200);
    expect((await money(order.id))!.openCases).toBe(0);
  });
});
