import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifySignature } from '../../platform/signing.js';
import { type PaymentWebhookBatch, SimulatedPaymentProvider, WEBHOOK_BATCH_MAX } from './provider.js';

const SECRET = 'a-test-webhook-secret';

describe('simulated provider notifications', () => {
  let received: PaymentWebhookBatch[];
  let answer: number;
  let provider: SimulatedPaymentProvider;
  const charge = (n: number) =>
    provider.charge({
      paymentId: `pay_${n}`,
      orderId: `ord_${n}`,
      amountFen: 100 + n,
      idempotencyKey: `pay_${n}`,
    });

  beforeEach(() => {
    vi.useFakeTimers();
    received = [];
    answer = 200;
    provider = new SimulatedPaymentProvider(SECRET, 'sync', pino({ level: 'silent' }), 1_000);
    provider.sender = async (body, signature) => {
      expect(verifySignature(SECRET, body, signature, Math.floor(Date.now() / 1000))).toBe(true);
      received.push(JSON.parse(body));
      return answer;
    };
  });
  afterEach(() => vi.useRealTimers());

  it('sends each event its delay after the charge, the events due together in one signed notification', async () => {
    for (let i = 0; i < 5; i++) await charge(i);
    await vi.advanceTimersByTimeAsync(999);
    expect(received).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(received).toHaveLength(1);
    expect(received[0]!.events.map((e) => e.data.providerRef)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `sim_pay_${i}`),
    );
    expect(received[0]!.events.map((e) => e.data.amountFen)).toEqual([100, 101, 102, 103, 104]);
  });

  it('never sends an event early, and splits a backlog into notifications of at most the batch size', async () => {
    const total = WEBHOOK_BATCH_MAX + 50;
    for (let i = 0; i < total; i++) await charge(i);
    await vi.advanceTimersByTimeAsync(500);
    await charge(total); // due half a second after the others
    await vi.advanceTimersByTimeAsync(500);
    expect(received.map((b) => b.events.length)).toEqual([WEBHOOK_BATCH_MAX, 50]);
    await vi.advanceTimersByTimeAsync(499);
    expect(received).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(received.map((b) => b.events.length)).toEqual([WEBHOOK_BATCH_MAX, 50, 1]);
    const ids = received.flatMap((b) => b.events.map((e) => e.id));
    expect(new Set(ids).size).toBe(total + 1);
  });

  it('sends a refused notification again whole, and a repeated charge no second event', async () => {
    answer = 404;
    await charge(1);
    await charge(1); // same idempotency key: the provider answers the first charge
    await charge(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(received).toHaveLength(1);
    answer = 200;
    await vi.advanceTimersByTimeAsync(200);
    expect(received).toHaveLength(2);
    expect(received[1]).toEqual(received[0]);
    expect(received[0]!.events).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(received).toHaveLength(2);
  });

  it('settle waits for the events still queued', async () => {
    await charge(1);
    let settled = false;
    const done = provider.settle().then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(received).toHaveLength(1);
  });
});
