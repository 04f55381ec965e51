import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { AppError } from '../../platform/errors.js';
import type { HttpServer } from '../../platform/http.js';
import { idOf } from '../../platform/schemas.js';
import { registerSignedWebhook } from '../../platform/webhooks.js';
import { CARRIERS } from '../orders/routes.js';
import type { PrivacyAuditHint, VirtualNumbers } from './virtual-numbers.js';
import type { Waybills } from './waybills.js';

export const TELEPHONY_WEBHOOK_URL = '/api/telephony/calls';

export type PrivacyAuditEvent = PrivacyAuditHint;

export interface PrivacyLogisticsDeps {
  waybills: Waybills;
  numbers: VirtualNumbers;
  /** TELEPHONY_WEBHOOK_SECRET: the simulated telephony provider signs its call callbacks with it. */
  telephonySecret: string;
  /** Looks an account up (IdentityService.getAccount); throws ACCOUNT_NOT_FOUND for an unknown id. */
  getAccount: (accountId: string) => Promise<{ roles: readonly string[] }>;
  /**
   * Records a security event after a use case that reached buyer PII, before the response is
   * sent (a failure answers 500 and the PII is not sent). `req` is null for the telephony
   * callback: registerSignedWebhook hands its handler the body only; the actor is the provider.
   */
  audit?: (req: FastifyRequest | null, event: PrivacyAuditEvent) => Promise<void>;
}

const trackingNo = z
  .string()
  .trim()
  .regex(/^[A-Z0-9]{8,30}$/, 'must be 8–30 capital letters or digits');

const recipientOut = z.object({
  name: z.string(),
  phone: z.string(),
  province: z.string(),
  city: z.string(),
  district: z.string(),
  detail: z.string(),
});

/** Carrier redemption of privacy waybills, operator registration of carrier accounts, and the telephony callback. */
export function privacyLogisticsRoutes(app: HttpServer, deps: PrivacyLogisticsDeps): void {
  const audit = deps.audit ?? (async () => {});

  app.post(
    '/api/carrier/waybills/redeem',
    {
      config: { access: { roles: ['carrier'] } },
      schema: {
        tags: ['logistics'],
        summary: 'Open a privacy waybill: the recipient for printing and delivery',
        description:
          'The account must be registered for the waybill’s carrier. The print payload and signature are the ones ' +
          'issued with the waybill; each redeem is counted and audited.',
        body: z.object({
          trackingNo,
          printPayload: z
            .string()
            .max(4096)
            .regex(/^v1\.[A-Za-z0-9_-]+$/, 'must be the print payload issued with the waybill'),
          signature: z
            .string()
            .regex(/^[A-Za-z0-9_-]{43}$/, 'must be the base64url signature issued with the waybill'),
        }),
        response: { 200: z.object({ trackingNo: z.string(), recipient: recipientOut }) },
      },
    },
    async (req, reply) => {
      const result = await deps.waybills.redeem(requirePrincipal(req).accountId, req.body);
      await audit(req, result.audit);
      reply.header('cache-control', 'no-store');
      return { trackingNo: result.trackingNo, recipient: result.recipient };
    },
  );

  app.put(
    '/api/admin/carriers/:accountId',
    {
      config: { access: { roles: ['operator'] } },
      schema: {
        tags: ['operator'],
        summary: 'Register a carrier account for one carrier (registering again moves it)',
        params: z.object({ accountId: idOf('acc') }),
        body: z.object({ carrier: z.enum(CARRIERS) }),
      },
    },
    async (req) => {
      const account = await deps.getAccount(req.params.accountId);
      if (!account.roles.includes('carrier')) {
        throw new AppError(
          'INVALID_STATE',
          `Account ${req.params.accountId} does not hold the carrier role; only carrier accounts redeem waybills.`,
          { accountId: req.params.accountId },
        );
      }
      return deps.waybills.registerCarrierAccount(req.params.accountId, req.body.carrier);
    },
  );

  registerSignedWebhook(app, {
    url: TELEPHONY_WEBHOOK_URL,
    summary:
      'Telephony provider: where does a call to a virtual number go (signed with the telephony secret)',
    secret: deps.telephonySecret,
    body: z.object({
      callId: z.string().min(1).max(100),
      virtualNumber: z.string().regex(/^17[01]\d{8}$/, 'must be the 11-digit main number'),
      extension: z.string().regex(/^\d{4}$/, 'must be the 4-digit extension'),
    }),
    handler: async (body) => {
      const decision = await deps.numbers.connectCall(
        { virtualNumber: body.virtualNumber, extension: body.extension },
        undefined,
        { beforeDial: (hint) => audit(null, { ...hint, details: { ...hint.details, callId: body.callId } }) },
      );
      if (!decision.connected) return { connected: false, reason: decision.reason };
      return { connected: true, orderId: decision.orderId };
    },
  });
}
