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

/**
 * One notification: the events due together, signed once (as Adyen batches its notification
 * items). A notification is answered 2xx only when every event in it was taken; otherwise the
 * provider sends it again whole, and the events already applied are replays that change nothing.
 */
export interface PaymentWebhookBatch {
  events: PaymentWebhookEvent[];
}

/** At most this many events in one notification. */
export const WEBHOOK_BATCH_MAX = 100;

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
 * Events falling due within this long of each other go out in one notification: under load a
 * notification per this many milliseconds, not one request per payment.
 */
const SIM_BATCH_GAP_MS = 20;

/**
 * Built-in simulated provider. `sync` captures at once (as a card payment confirmed in the
 * cashier) and still sends the webhook; `async` leaves the charge pending until the webhook.
 * Webhooks are signed and retried until answered 2xx, like a real provider's; each event is
 * sent `firstDeliveryMs` after its charge, together with the others due by then.
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
  /** Events not sent yet, in the order they fall due. */
  private readonly queue: { event: PaymentWebhookEvent; dueAt: number }[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  /** Resolved when the queue has been flushed (settle waits for it). */
  private flushed: Promise<void> | null = null;
  private onFlushed: (() => void) | null = null;

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

  /** Signs a notification as the provider would (tests use it to forge the real thing). */
  sign(batch: PaymentWebhookBatch, atSeconds = Math.floor(Date.now() / 1000)) {
    const body = JSON.stringify(batch);
    return { body, signature: signPayload(this.secret, body, atSeconds) };
  }

  /** Queues an event; it is sent `firstDeliveryMs` from now, with the others due by then. */
  sendWebhook(event: PaymentWebhookEvent): void {
    this.queue.push({ event, dueAt: Date.now() + this.firstDeliveryMs });
    this.flushed ??= new Promise((resolve) => {
      this.onFlushed = resolve;
    });
    if (!this.flushTimer) this.scheduleFlush(this.firstDeliveryMs);
  }

  private scheduleFlush(ms: number): void {
    this.flushTimer = setTimeout(() => this.flush(), ms);
  }

  /** Sends what is due in notifications of at most WEBHOOK_BATCH_MAX, then waits for the rest. */
  private flush(): void {
    this.flushTimer = null;
    const now = Date.now();
    let due = 0;
    while (due < this.queue.length && this.queue[due]!.dueAt <= now) due++;
    for (const chunk of chunks(this.queue.splice(0, due), WEBHOOK_BATCH_MAX)) {
      this.deliver(this.sign({ events: chunk.map((q) => q.event) }));
    }
    const next = this.queue[0];
    if (next) {
      this.scheduleFlush(Math.max(next.dueAt - now, SIM_BATCH_GAP_MS));
      return;
    }
    this.onFlushed?.();
    this.flushed = null;
    this.onFlushed = null;
  }

  private deliver(signed: { body: string; signature: string }): void {
    this.sent.push(signed);
    if (this.sent.length > SIM_SENT_KEPT) this.sent.shift();
    const sender = this.sender;
    if (!sender) return;
    // Retried with backoff until answered 2xx (a charge's webhook that arrives before its
    // transaction committed is answered "not known yet").
    const p = (async () => {
      for (let attempt = 0; attempt < 6; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        try {
          const status = await sender(signed.body, signed.signature);
          if (status >= 200 && status < 300) return;
        } catch (err) {
          this.log.warn({ err }, 'simulated webhook delivery failed');
        }
      }
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Waits for webhook deliveries in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.flushed || this.inflight.size > 0) {
      await this.flushed;
      await Promise.all([...this.inflight]);
    }
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
