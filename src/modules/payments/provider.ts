import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { signPayload } from '../../platform/signing.js';

export interface ChargeRequest {
  paymentId: string;
  orderId: string;
  amountFen: number;
  /** Passed to the provider so a retried charge is not taken twice. */
  idempotencyKey: string;
}

export interface ChargeResult {
  providerRef: string;
  status: 'pending' | 'succeeded' | 'failed';
  failureReason?: string;
}

export interface PaymentWebhookEvent {
  id: string;
  type: 'payment.succeeded' | 'payment.failed';
  data: { providerRef: string; amountFen: number; failureReason?: string | undefined };
}

/** The seam to a real payment provider (WeChat Pay, Alipay, Douyin Pay …). */
export interface PaymentProvider {
  readonly name: string;
  charge(req: ChargeRequest): Promise<ChargeResult>;
}

export type WebhookSender = (body: string, signature: string) => Promise<number>;

/**
 * Built-in simulated provider. `sync` captures at once (as a card payment confirmed in the
 * cashier) and still sends the webhook; `async` leaves the charge pending until the webhook.
 * Webhooks are signed and retried until answered 2xx, like a real provider's.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  readonly name = 'simulated';
  private readonly charges = new Map<string, ChargeResult>();
  /** Every webhook sent, so tests can replay one byte for byte. */
  readonly sent: { body: string; signature: string }[] = [];
  sender: WebhookSender | null = null;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly secret: string,
    private readonly mode: 'sync' | 'async',
    private readonly log: Logger,
  ) {}

  async charge(req: ChargeRequest): Promise<ChargeResult> {
    const prior = this.charges.get(req.idempotencyKey);
    if (prior) return prior;
    const providerRef = `sim_${req.paymentId}`;
    const result: ChargeResult = { providerRef, status: this.mode === 'sync' ? 'succeeded' : 'pending' };
    this.charges.set(req.idempotencyKey, result);
    this.sendWebhook({
      id: `whk_${randomBytes(16).toString('base64url')}`,
      type: 'payment.succeeded',
      data: { providerRef, amountFen: req.amountFen },
    });
    return result;
  }

  /** Signs an event as the provider would (tests use it to forge the real thing). */
  sign(event: PaymentWebhookEvent, atSeconds = Math.floor(Date.now() / 1000)) {
    const body = JSON.stringify(event);
    return { body, signature: signPayload(this.secret, body, atSeconds) };
  }

  sendWebhook(event: PaymentWebhookEvent): void {
    const signed = this.sign(event);
    this.sent.push(signed);
    if (this.sent.length > 10_000) this.sent.splice(0, 5_000);
    const sender = this.sender;
    if (!sender) return;
    // Delivered after the caller's transaction has had time to commit; retried with backoff.
    const p = (async () => {
      for (let attempt = 0; attempt < 6; attempt++) {
        await new Promise((r) => setTimeout(r, attempt === 0 ? 5 : 100 * 2 ** attempt));
        try {
          const status = await sender(signed.body, signed.signature);
          if (status >= 200 && status < 300) return;
        } catch (err) {
          this.log.warn({ err, eventId: event.id }, 'simulated webhook delivery failed');
        }
      }
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Waits for webhook deliveries in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }
}
