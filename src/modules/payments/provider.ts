import type { Logger } from 'pino';
import { setBounded } from '../../platform/bounded-map.js';
import { randomBytesPooled } from '../../platform/random.js';
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

export interface RefundRequest {
  refundId: string;
  paymentId: string;
  /** The provider's reference of the captured charge being refunded. */
  providerRef: string;
  amountFen: number;
  /** Passed to the provider so a retried refund is not paid out twice. */
  idempotencyKey: string;
}

export interface RefundResult {
  providerRefundRef: string;
  status: 'succeeded' | 'failed';
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
  /** Returns money of a captured charge to the buyer; the same key always answers the same result. */
  refund(req: RefundRequest): Promise<RefundResult>;
}

export type WebhookSender = (body: string, signature: string) => Promise<number>;

/**
 * How many charges and refunds the simulated provider remembers (each book, oldest forgotten
 * first). A real provider keeps its books on its side; this one keeps them in the server's
 * memory, which must not grow with every payment of a long-running demo or benchmark. A
 * forgotten charge is treated as one taken before a restart (see `refund`); the platform never
 * retries a charge that long after (every payment attempt has its own key).
 */
const SIM_REMEMBERED = 200_000;
/** Signed webhooks kept for tests to replay, newest last. */
const SIM_SENT_KEPT = 1_000;

/**
 * Built-in simulated provider. `sync` captures at once (as a card payment confirmed in the
 * cashier) and still sends the webhook; `async` leaves the charge pending until the webhook.
 * Webhooks are signed and retried until answered 2xx, like a real provider's.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  readonly name = 'simulated';
  private readonly charges = new Map<string, ChargeResult>();
  /** Captured amount and refunds so far per charge, so an over-refund is refused as a provider would. */
  private readonly captured = new Map<string, { amountFen: number; refundedFen: number }>();
  private readonly refunds = new Map<string, RefundResult>();
  /** The latest webhooks sent (SIM_SENT_KEPT), so tests can replay one byte for byte. */
  readonly sent: { body: string; signature: string }[] = [];
  sender: WebhookSender | null = null;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly secret: string,
    private readonly mode: 'sync' | 'async',
    private readonly log: Logger,
    /** Delay of the first delivery; later attempts back off from 200 ms. */
    private readonly firstDeliveryMs = 5,
  ) {}

  async charge(req: ChargeRequest): Promise<ChargeResult> {
    const prior = this.charges.get(req.idempotencyKey);
    if (prior) return prior;
    const providerRef = `sim_${req.paymentId}`;
    const result: ChargeResult = { providerRef, status: this.mode === 'sync' ? 'succeeded' : 'pending' };
    setBounded(this.charges, req.idempotencyKey, result, SIM_REMEMBERED);
    setBounded(this.captured, providerRef, { amountFen: req.amountFen, refundedFen: 0 }, SIM_REMEMBERED);
    this.sendWebhook({
      id: `whk_${randomBytesPooled(16).toString('base64url')}`,
      type: 'payment.succeeded',
      data: { providerRef, amountFen: req.amountFen },
    });
    return result;
  }

  /**
   * Refunds synchronously. A retry with the same key answers the remembered result and pays
   * nothing more. Charges taken before a restart (or forgotten, see SIM_REMEMBERED) are not
   * known here, so they are not checked.
   */
  async refund(req: RefundRequest): Promise<RefundResult> {
    const prior = this.refunds.get(req.idempotencyKey);
    if (prior) return prior;
    const charge = this.captured.get(req.providerRef);
    const result: RefundResult =
      charge && charge.refundedFen + req.amountFen > charge.amountFen
        ? {
            providerRefundRef: `simr_${req.refundId}`,
            status: 'failed',
            failureReason: 'exceeds_captured_amount',
          }
        : { providerRefundRef: `simr_${req.refundId}`, status: 'succeeded' };
    if (charge && result.status === 'succeeded') charge.refundedFen += req.amountFen;
    setBounded(this.refunds, req.idempotencyKey, result, SIM_REMEMBERED);
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
    if (this.sent.length > SIM_SENT_KEPT) this.sent.shift();
    const sender = this.sender;
    if (!sender) return;
    // Delivered after the caller's transaction has had time to commit (a charge's webhook that
    // arrives first is answered "not known yet" and retried), with backoff.
    const p = (async () => {
      for (let attempt = 0; attempt < 6; attempt++) {
        await new Promise((r) => setTimeout(r, attempt === 0 ? this.firstDeliveryMs : 100 * 2 ** attempt));
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
