import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import scalar from '@scalar/fastify-api-reference';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';
import { type Access, type AuthResolver, makeAuthHooks } from './auth.js';
import { AppError } from './errors.js';

export type HttpServer = FastifyInstance<any, any, any, Logger, ZodTypeProvider>;

/** Every API route with its access rule and schema (tests sweep it; see test/validation.test.ts). */
export interface RouteEntry {
  method: string;
  url: string;
  access: Access;
  schema: Record<string, unknown> | undefined;
}
export const ROUTE_TABLE = Symbol('routeTable');

function validationMessage(err: FastifyError & { validation: any[]; validationContext?: string }): string {
  const where = err.validationContext ?? 'request';
  return err.validation
    .slice(0, 5)
    .map((v) => {
      const p = String(v.instancePath ?? '')
        .split('/')
        .filter(Boolean)
        .join('.');
      return `${where}${p ? `.${p}` : ''}: ${v.message}`;
    })
    .join('; ');
}

/** Fastify with zod validation, OpenAPI 3.1 at /openapi.json, the API reference at /docs, and one error format. */
const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const noop = () => {};

/**
 * A request's logger, made only when something is logged at an enabled level. pino builds a
 * child's bindings (through the PII redaction) when it is made, and Fastify makes one per
 * request: most requests log nothing, and that was 2–3% of the checkout path's allocations.
 */
function lazyChildLogger(logger: Logger, bindings: Bindings, opts: ChildLoggerOptions): Logger {
  // A route's own log level: its child decides, so make it now.
  if (opts.level !== undefined) return logger.child(bindings, opts);
  let child: Logger | undefined;
  const made = () => {
    child ??= logger.child(bindings, opts);
    return child;
  };
  return new Proxy(logger, {
    get(target, prop) {
      if (typeof prop === 'string' && LEVELS.has(prop)) {
        // Fastify checks every request's logger has these: only a call makes the child.
        if (!target.isLevelEnabled(prop)) return noop;
        return (...args: unknown[]) => (made() as any)[prop](...args);
      }
      if (prop === 'child') return (...args: Parameters<Logger['child']>) => made().child(...args);
      const real = made();
      const value = Reflect.get(real, prop, real);
      return typeof value === 'function' ? value.bind(real) : value;
    },
    set(_target, prop, value) {
      return Reflect.set(made(), prop, value);
    },
  });
}

export async function createHttpServer(opts: {
  logger: Logger;
  auth: AuthResolver;
  /** Folder of the built web app to serve at `/`, when it exists. */
  webRoot?: string | undefined;
  /** Proxies whose X-Forwarded-For is believed; `req.ip` is then the real client address. */
  trustedProxies?: string[];
  /** Called for refused requests to routes marked `auditDenials`. */
  onAccessDenied?: (req: FastifyRequest, err: AppError) => Promise<void>;
}): Promise<HttpServer> {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: 256 * 1024,
    trustProxy: opts.trustedProxies?.length ? opts.trustedProxies : false,
    // Our onResponse hook logs one line per API request (route, status, ms) and never bodies.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, childOpts) =>
      lazyChildLogger(logger as Logger, bindings, childOpts),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const routes: RouteEntry[] = [];
  app.decorate(ROUTE_TABLE, routes);
  app.addHook('onRoute', (route) => {
    const url = route.url;
    if (!url.startsWith('/api/')) return;
    const access = route.config?.access;
    if (access === undefined) {
      throw new Error(`route ${route.method} ${url} does not declare who may call it (config.access)`);
    }
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD')
        routes.push({ method, url, access, schema: route.schema as Record<string, unknown> });
    }
  });
  app.decorateRequest('principal', null);
  const auth = makeAuthHooks(opts.auth, opts.onAccessDenied);
  app.addHook('preValidation', auth.authenticate);
  app.addHook('preHandler', auth.authorizeShop);
  app.addHook('onResponse', async (req, reply) => {
    if (!req.routeOptions.config?.access) return;
    req.log.info(
      {
        method: req.method,
        route: req.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof AppError) {
      return reply
        .code(err.status)
        .send({ code: err.code, message: err.message, details: err.details ?? {} });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      return reply.code(400).send({
        code: 'VALIDATION_FAILED',
        message: validationMessage(err as any),
        details: {
          issues: err.validation.map((v) => ({ path: v.instancePath, message: v.message })),
        },
      });
    }
    if (isResponseSerializationError(err)) {
      req.log.error(
        { route: req.routeOptions.url, issues: err.cause.issues.map((i) => i.path) },
        'response schema',
      );
      return reply.code(500).send({ code: 'INTERNAL', message: 'Internal error', details: {} });
    }
    const status = err.statusCode ?? 500;
    if (status === 413) {
      return reply
        .code(413)
        .send({ code: 'PAYLOAD_TOO_LARGE', message: 'The request body is too large.', details: {} });
    }
    if (status >= 400 && status < 500) {
      // Fastify's own 4xx: malformed JSON, empty body, unsupported content type.
      return reply
        .code(400)
        .send({ code: 'VALIDATION_FAILED', message: err.message, details: { fastify: err.code } });
    }
    req.log.error({ err, route: req.routeOptions.url }, 'unhandled error');
    return reply
      .code(500)
      .send({ code: 'INTERNAL', message: 'Internal error; it has been logged.', details: {} });
  });

  // Live-room channels: small inbound messages only (likes, comments).
  await app.register(fastifyWebsocket, { options: { maxPayload: 4096 } });
  // The plugin hides WebSocket routes from the OpenAPI document; ours are part of the API.
  app.addHook('onRoute', (route) => {
    if (route.websocket && route.schema) route.schema.hide = false;
  });
  if (opts.webRoot) await app.register(fastifyStatic, { root: opts.webRoot, prefix: '/', wildcard: false });
  app.setNotFoundHandler((req, reply) => {
    // Client-side routes of the web app (/live/…, /merchant/…) get its index page.
    if (opts.webRoot && req.method === 'GET' && !req.url.startsWith('/api/') && !req.url.includes('.')) {
      return reply.sendFile('index.html');
    }
    return (
      reply
        .code(404)
        // The path is not echoed: it may carry data the caller typed (an id, a phone number).
        .send({
          code: 'NOT_FOUND',
          message: `No such route for ${req.method}; see /docs for the API.`,
          details: {},
        })
    );
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Livecart API',
        version: '0.1.0',
        description:
          'Closed-loop live commerce: shops, products, live rooms, checkout and masked orders. ' +
          'Errors are `{ code, message, details }`; state-changing buyer calls take an `Idempotency-Key` header.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(scalar, { routePrefix: '/docs', configuration: { url: '/openapi.json' } });
  return app;
}

export function routeTable(app: HttpServer): RouteEntry[] {
  return (app as unknown as Record<symbol, RouteEntry[]>)[ROUTE_TABLE] ?? [];
}

/** Answers an idempotent use case: its stored status and body, flagged when it was a replay. */
export function sendIdempotent<T>(
  reply: FastifyReply,
  result: { status: number; body: T; replayed: boolean },
) {
  if (result.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(result.status).send(result.body);
}
