import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { AppError } from '../../platform/errors.js';
import { type HttpServer, sendIdempotent } from '../../platform/http.js';
import { idempotencyHeaders, idOf } from '../../platform/schemas.js';
import { registerSignedWebhook } from '../../platform/webhooks.js';
import { WEBHOOK_BATCH_MAX } from './provider.js';
import type { PaymentService } from './service.js';

export const PAYMENT_WEBHOOK_URL = '/api/webhooks/payments/simulated';

export function paymentRoutes(app: HttpServer, payments: PaymentService, webhookSecret: string): void {
  app.post(
    '/api/orders/:orderId/pay',
    {
      config: { access: { roles: ['buyer'] } },
      schema: {
        tags: ['payments'],
        summary: 'Pay an unpaid order through the payment provider',
        headers: idempotencyHeaders,
        params: z.object({ orderId: idOf('ord') }),
      },
    },
    async (req, reply) => {
      const result = await payments.pay(
        requirePrincipal(req).accountId,
        req.params.orderId,
        req.headers['idempotency-key'],
      );
      return sendIdempotent(reply, result);
    },
  );

  registerSignedWebhook(app, {
    url: PAYMENT_WEBHOOK_URL,
    summary: 'Payment provider events (signed; replays are ignored)',
    secret: webhookSecret,
    body: z.object({
      events: z
        .array(
          z.object({
            id: z.string().min(1).max(100),
            type: z.enum(['payment.succeeded', 'payment.failed']),
            data: z.object({
              providerRef: z.string().min(1).max(100),
              amountFen: z.number().int().positive(),
              failureReason: z.string().max(200).optional(),
            }),
          }),
        )
        .min(1)
        .max(WEBHOOK_BATCH_MAX),
    }),
    handler: async ({ events }) => {
      // Each event is applied once whatever the others do; replays change nothing.
      const results = await Promise.all(events.map((e) => payments.applyWebhook(e)));
      // Unknown payment: the charge's transaction may not have committed yet. The provider
      // sends the whole notification again; the events applied now are replays then.
      const unknown = events.filter((_, i) => results[i]!.retry).map((e) => e.data.providerRef);
      if (unknown.length > 0) {
        throw new AppError('NOT_FOUND', `Payment ${unknown.join(', ')} is not known (yet).`);
      }
      return {
        received: true,
        results: events.map((e, i) => ({
          id: e.id,
          applied: results[i]!.applied,
          reason: results[i]!.reason ?? null,
        })),
      };
    },
  });
}
