import { z } from 'zod';
import { AppError } from './errors.js';
import type { HttpServer } from './http.js';
import { verifySignature } from './signing.js';

export const SIGNATURE_HEADER = 'x-livecart-signature';

/**
 * A webhook from an external party (payment provider, carrier). The signature covers the
 * raw body, so this route parses JSON itself and checks the signature before validation:
 * an unsigned request learns nothing about the schema.
 */
export function registerSignedWebhook<B extends z.ZodType>(
  app: HttpServer,
  opts: {
    url: string;
    summary: string;
    secret: string;
    body: B;
    handler: (body: z.output<B>) => Promise<unknown>;
  },
): void {
  app.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      (req as unknown as { rawBody: string }).rawBody = body as string;
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(new AppError('VALIDATION_FAILED', 'body: not valid JSON'), undefined);
      }
    });
    scope.post(
      opts.url,
      {
        config: { access: 'webhook' },
        schema: {
          tags: ['webhooks'],
          summary: opts.summary,
          headers: z.object({ [SIGNATURE_HEADER]: z.string().max(200).optional() }),
          body: opts.body,
        },
        preValidation: async (req) => {
          const raw = (req as unknown as { rawBody?: string }).rawBody ?? '';
          const sig = req.headers[SIGNATURE_HEADER] as string | undefined;
          if (!verifySignature(opts.secret, raw, sig, Math.floor(Date.now() / 1000))) {
            throw new AppError(
              'WEBHOOK_SIGNATURE_INVALID',
              `The ${SIGNATURE_HEADER} header does not match the body.`,
            );
          }
        },
      },
      async (req) => opts.handler(req.body as z.output<B>),
    );
  });
}
