import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { skus } from '../src/modules/catalog/schema.js';
import { ledgerJournals } from '../src/modules/ledger/schema.js';
import { PAYMENT_WEBHOOK_URL } from '../src/modules/payments/routes.js';
import { paymentRefunds, payments } from '../src/modules/payments/schema.js';
import { requestHash } from '../src/platform/idempotency.js';
import { idempotencyKeys, outboxEvents } from '../src/platform/schema.js';
import { inTransaction } from '../src/platform/tx.js';
import { tableCounts } from './db-snapshot.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
let w: Awaited<ReturnType<typeof sellingWorld>>;

beforeAll(async () => {
  // async: the provider confirms only through its webhook, as a bank-redirect payment would.
  t = await startTestApp({ PAYMENT_SIM_MODE: 'async' });
  w = await sellingWorld(t, { stock: 50 });
});
afterAll(() => t.close());

const body = () => ({
  venue: { type: 'live_room', id: w.room.id },
  items: [{ skuId: w.sku.id, quantity: 1 }],
  recipient: recipient(),
});
const postWebhook = (payload: string, signature: string) =>
  t.request({
    method: 'POST',
    url: PAYMENT_WEBHOOK_URL,
    payload,
    headers: { 'content-type': 'application/json', 'x-livecart-signature': signature },
  });

async function paidThroughWebhook() {
  const buyer = await t.account(['buyer']);
  const order = (await checkout(t, buyer.token, body())).json();
  const res = await pay(t, buyer.token, order.id);
  expect(res.json()).toMatchObject({ status: 'pending', orderStatus: 'pending_payment' });
  await t.app.paymentProvider.settle();
  const after = await t.request({ method: 'GET', url: `/api/orders/${order.id}`, token: buyer.token });
  expect(after.json().status).toBe('paid');
  return { buyer, order, webhook: t.app.paymentProvider.sent.at(-1)! };
}

describe('payments', () => {
  it('pays an order when the signed webhook arrives, and a replayed webhook changes nothing', async () => {
    const { order, webhook } = await paidThroughWebhook();
    await t.app.platform.outbox.drain();
    const before = await tableCounts(t.app.platform.db);
    for (let i = 0; i < 3; i++) {
      const replay = await postWebhook(webhook.body, webhook.signature);
      expect(replay.statusCode).toBe(200);
      expect(replay.json().results).toMatchObject([{ applied: false, reason: 'already_succeeded' }]);
    }
    expect(await tableCounts(t.app.platform.db)).toEqual(before);
    const paidEvents = await t.app.platform.db
      .select()
      .from(outboxEvents)
      .where(and(eq(outboxEvents.topic, 'order.paid'), eq(outboxEvents.aggregateId, order.id)));
    expect(paidEvents).toHaveLength(1);
  });

  it('refuses a notification holding an unknown payment whole, so the provider sends it again', async () => {
    const { webhook } = await paidThroughWebhook();
    await t.app.platform.outbox.drain();
    const before = await tableCounts(t.app.platform.db);
    const [known] = (JSON.parse(webhook.body) as { events: { id: string }[] }).events;
    const unknown = {
      id: 'whk_unknown_0001',
      type: 'payment.succeeded' as const,
      data: { providerRef: 'sim_pay_not_yet_committed', amountFen: 100 },
    };
    const signed = t.app.paymentProvider.sign({ events: [known as never, unknown] });
    const res = await postWebhook(signed.body, signed.signature);
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toContain('sim_pay_not_yet_committed');
    expect(await tableCounts(t.app.platform.db)).toEqual(before);
    const tooMany = t.app.paymentProvider.sign({ events: Array.from({ length: 101 }, () => known as never) });
    expect((await postWebhook(tooMany.body, tooMany.signature)).statusCode).toBe(400);
  });

  it('refuses unsigned, forged and tampered webhooks and writes nothing', async () => {
    const { webhook } = await paidThroughWebhook();
    await t.app.platform.outbox.drain();
    const before = await tableCounts(t.app.platform.db);
    const tampered = webhook.body.replace(/"amountFen":\d+/, '"amountFen":1');
    const forged = t.app.paymentProvider.sign(JSON.parse(webhook.body));
    expect(forged.body).toBe(webhook.body);
    for (const [payload, sig] of [
      [webhook.body, ''],
      [tampered, webhook.signature],
      [webhook.body, forged.signature.replace(/v1=(.)/, (_, c: string) => `v1=${c === '0' ? '1' : '0'}`)],
      [webhook.body, `t=${Math.floor(Date.now() / 1000) - 3600},v1=${webhook.signature.split('v1=')[1]}`],
    ] as const) {
      const res = await postWebhook(payload, sig);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('WEBHOOK_SIGNATURE_INVALID');
    }
    expect(await tableCounts(t.app.platform.db)).toEqual(before);
  });

  it('a repeated pay request with the same idempotency key charges once', async () => {
    const buyer = await t.account(['buyer']);
    const order = (await checkout(t, buyer.token, body())).json();
    const sender = t.app.paymentProvider.sender;
    t.app.paymentProvider.sender = null; // the provider's webhook is held back: the charge stays pending
    const first = await pay(t, buyer.token, order.id, 'pay-key-0000001');
    const again = await Promise.all([1, 2, 3].map(() => pay(t, buyer.token, order.id, 'pay-key-0000001')));
    for (const r of again) {
      expect(r.json()).toEqual(first.json());
      expect(r.headers['idempotent-replayed']).toBe('true');
    }
    // A new key while the first charge is pending returns that charge, not a second one.
    const otherKey = await pay(t, buyer.token, order.id, 'pay-key-0000002');
    expect(otherKey.json().paymentId).toBe(first.json().paymentId);
    await t.app.paymentProvider.settle();
    t.app.paymentProvider.sender = sender;
    const webhook = t.app.paymentProvider.sent.at(-1)!;
    expect((await postWebhook(webhook.body, webhook.signature)).json().results).toMatchObject([
      { applied: true },
    ]);
    const rows = await t.app.platform.db.select().from(payments).where(eq(payments.orderId, order.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('succeeded');
  });

  it('a repeated checkout with the same idempotency key returns the same order and reserves once', async () => {
    const buyer = await t.account(['buyer']);
    const [before] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    const first = await checkout(t, buyer.token, body(), 'checkout-key-01');
    const second = await checkout(t, buyer.token, body(), 'checkout-key-01');
    expect(second.statusCode).toBe(201);
    expect(second.json()).toEqual(first.json());
    const [after] = await t.app.platform.db.select().from(skus).where(eq(skus.id, w.sku.id));
    expect(after!.stock).toBe(before!.stock - 1);
    const reused = await checkout(
      t,
      buyer.token,
      { ...body(), items: [{ skuId: w.sku.id, quantity: 2 }] },
      'checkout-key-01',
    );
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('refunds a payment that lands on an order already cancelled instead of reviving it', async () => {
    const buyer = await t.account(['buyer']);
    const order = (await checkout(t, buyer.token, body())).json();
    const sender = t.app.paymentProvider.sender;
    t.app.paymentProvider.sender = null; // hold the provider's webhook back
    await pay(t, buyer.token, order.id);
    await t.app.paymentProvider.settle();
    t.app.paymentProvider.sender = sender;
    const webhook = t.app.paymentProvider.sent.at(-1)!;
    t.clock.advance(t.app.platform.config.PAYMENT_TIMEOUT_MINUTES * 60_000 + 1);
    await t.app.platform.jobs.runNow('orders.cancel-unpaid');
    const res = await postWebhook(webhook.body, webhook.signature);
    expect(res.json().results).toMatchObject([{ applied: true }]);
    const o = await t.request({ method: 'GET', url: `/api/orders/${order.id}`, token: buyer.token });
    expect(o.json().status).toBe('cancelled');
    const refunds = await t.app.platform.db
      .select()
      .from(outboxEvents)
      .where(eq(outboxEvents.topic, 'payment.refund_required'));
    expect(refunds.filter((e) => (e.payload as { orderId: string }).orderId === order.id)).toHaveLength(1);

    // The charge goes back to the buyer in full, once, however often the event is delivered.
    const refundsOf = () =>
      t.app.platform.db.select().from(paymentRefunds).where(eq(paymentRefunds.orderId, order.id));
    const providerRefund = vi.spyOn(t.app.paymentProvider, 'refund');
    await t.app.platform.outbox.drain();
    const [refund] = await refundsOf();
    const [payment] = await t.app.platform.db.select().from(payments).where(eq(payments.orderId, order.id));
    expect(refund).toMatchObject({
      paymentId: payment!.id,
      amountFen: payment!.amountFen,
      status: 'succeeded',
    });
    expect(providerRefund).toHaveBeenCalledTimes(1);
    expect(providerRefund.mock.calls[0]![0]).toMatchObject({
      providerRef: payment!.providerRef,
      amountFen: payment!.amountFen,
    });
    await inTransaction(t.app.platform.db, (tx) =>
      t.app.services.payments.refundUnclaimedCharge(tx, { paymentId: payment!.id }),
    );
    providerRefund.mockRestore();
    expect(await refundsOf()).toHaveLength(1);
    const refunded = await t.app.platform.db
      .select()
      .from(outboxEvents)
      .where(and(eq(outboxEvents.topic, 'payment.refunded'), eq(outboxEvents.aggregateId, payment!.id)));
    expect(refunded).toHaveLength(1);
    // The order stays cancelled; the ledger shows the money in and out again, and balances.
    const after = await t.request({ method: 'GET', url: `/api/orders/${order.id}`, token: buyer.token });
    expect(after.json().status).toBe('cancelled');
    const journals = await t.app.platform.db
      .select({ kind: ledgerJournals.kind, ref: ledgerJournals.ref })
      .from(ledgerJournals)
      .where(inArray(ledgerJournals.ref, [payment!.id, refund!.id]));
    expect(journals.map((j) => j.kind).sort()).toEqual(['unclaimed_charge', 'unclaimed_refund']);
    expect(await t.app.services.ledger.verify()).toMatchObject({ ok: true });
  });

  it('replays a retried checkout even after the live room has ended', async () => {
    const w2 = await sellingWorld(t, { stock: 5 });
    const buyer = await t.account(['buyer']);
    const input = {
      venue: { type: 'live_room', id: w2.room.id },
      items: [{ skuId: w2.sku.id, quantity: 1 }],
      recipient: recipient(),
    };
    const first = await checkout(t, buyer.token, input, 'retry-after-end-01');
    expect(first.statusCode).toBe(201);
    await t.request({
      method: 'POST',
      url: `/api/creator/live-rooms/${w2.room.id}/end`,
      token: w2.creator.token,
    });
    const retry = await checkout(t, buyer.token, input, 'retry-after-end-01');
    expect(retry.statusCode).toBe(201);
    expect(retry.json().id).toBe(first.json().id);
    const fresh = await checkout(t, buyer.token, input, 'retry-after-end-02');
    expect(fresh.json().code).toBe('VENUE_NOT_SELLING');
  });

  it('stores no plain recipient data in idempotency records', async () => {
    const buyer = await t.account(['buyer']);
    const body = {
      venue: { type: 'live_room', id: w.room.id },
      items: [{ skuId: w.sku.id, quantity: 1 }],
      recipient: recipient({ phone: '13611112222' }),
    };
    await checkout(t, buyer.token, body, 'pii-check-key-01');
    const rows = await t.app.platform.db
      .select()
      .from(idempotencyKeys)
      .where(eq(idempotencyKeys.key, 'pii-check-key-01'));
    expect(rows).toHaveLength(1);
    const text = JSON.stringify(rows);
    for (const plain of ['13611112222', '张三丰', '文三路']) expect(text).not.toContain(plain);
    // The request hash is keyed: the unkeyed hash of the same body does not appear.
    expect(rows[0]!.requestHash).not.toBe(requestHash(body));
  });
});
