import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { AppError } from '../../platform/errors.js';
import { type HttpServer, sendIdempotent } from '../../platform/http.js';
import { idempotencyHeaders, idOf } from '../../platform/schemas.js';
import { registerSignedWebhook } from '../../platform/webhooks.js';
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
      id: z.string().min(1).max(100),
      type: z.enum(['payment.succeeded', 'payment.failed']),
      data: z.object({
        providerRef: z.string().min(1).max(100),
        amountFen: z.number().int().positive(),
        failureReason: z.string().max(200).optional(),
      }),
    }),
    handler: async (event) => {
      const result = await payments.applyWebhook(event);
      // Unknown payment: the charge's transaction may not have committed yet; ask for a retry.
      if (result.retry) {
        throw new AppError('NOT_FOUND', `Payment ${event.data.providerRef} is not known (yet).`);
      }
      return { received: true, applied: result.applied, reason: result.reason ?? null };
    },
  });
}
