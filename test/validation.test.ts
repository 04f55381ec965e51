import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable } from '../src/platform/http.js';
import { signPayload } from '../src/platform/signing.js';
import { tableCounts } from './db-snapshot.js';
import { sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
let world: Awaited<ReturnType<typeof sellingWorld>>;
let buyer: { token: string };
let carrier: { token: string };

beforeAll(async () => {
  t = await startTestApp();
  world = await sellingWorld(t);
  buyer = await t.account(['buyer']);
  carrier = await t.account(['carrier']);
});
afterAll(() => t.close());

interface Case {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  expectIn: string;
}

/** A caller allowed past authentication for the route, and real ids for its params. */
function callerFor(access: unknown): string | undefined {
  if (access === 'public' || access === 'webhook') return undefined;
  const roles = (access as { roles: string[] }).roles;
  if (roles.includes('operator')) return world.operator.token;
  if (roles.includes('merchant')) return world.merchant.token;
  if (roles.includes('creator')) return world.creator.token;
  if (roles.includes('carrier')) return carrier.token;
  return buyer.token;
}

const realParams = (): Record<string, string> => ({
  shopId: world.shop.id,
  productId: world.product.id,
  skuId: world.sku.id,
  roomId: world.room.id,
  itemId: world.item.id,
  accountId: world.creator.id,
  creatorId: world.creator.id,
  categoryId: world.category.id,
  orderId: 'ord_00000000000000000000000000',
  videoId: 'vid_00000000000000000000000000',
  couponId: 'cpn_00000000000000000000000000',
  rainId: 'rain_00000000000000000000000000',
  caseId: 'as_00000000000000000000000000',
  slotId: 'fs_00000000000000000000000000',
  reservationId: 'fsr_00000000000000000000000000',
});

const validBodies = (): Record<string, unknown> => ({
  '/api/flash-sales/:slotId/reservations': { quantity: 1 },
  '/api/flash-sales/reservations/:reservationId/checkout': {
    recipient: {
      name: '李四',
      phone: '13900001111',
      province: '浙江省',
      city: '杭州市',
      district: '西湖区',
      detail: '文二路 1 号',
    },
  },
  '/api/operator/aftersales/:caseId/decide': { decision: 'refund', note: '证据充分，支持退款' },
  '/api/orders': {
    venue: { type: 'live_room', id: world.room.id },
    items: [{ skuId: world.sku.id, quantity: 1 }],
    recipient: {
      name: '李四',
      phone: '13900001111',
      province: '浙江省',
      city: '杭州市',
      district: '西湖区',
      detail: '文二路 1 号',
    },
  },
});

function fill(url: string, params: Record<string, string>): string {
  return url.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? 'x'));
}

function casesFor(route: ReturnType<typeof routeTable>[number]): Case[] {
  const schema = (route.schema ?? {}) as Record<string, any>;
  const token = callerFor(route.access);
  const baseHeaders: Record<string, string> = {
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(schema.headers?.shape?.['idempotency-key'] ? { 'idempotency-key': 'validation-sweep-key' } : {}),
  };
  const sign = (body: string): Record<string, string> =>
    route.access === 'webhook'
      ? {
          'x-livecart-signature': signPayload(
            route.url.includes('logistics')
              ? t.app.platform.config.LOGISTICS_WEBHOOK_SECRET
              : route.url.includes('telephony')
                ? t.app.platform.config.TELEPHONY_WEBHOOK_SECRET
                : t.app.platform.config.PAYMENT_WEBHOOK_SECRET,
            body,
            Math.floor(Date.now() / 1000),
          ),
        }
      : {};
  const url = fill(route.url, realParams());
  const out: Case[] = [];
  for (const name of Object.keys(schema.params?.shape ?? {})) {
    out.push({
      name: `param ${name}`,
      method: route.method,
      url: fill(route.url, { ...realParams(), [name]: 'not an id!' }),
      headers: {
        ...baseHeaders,
        ...(schema.body ? { 'content-type': 'application/json' } : {}),
        ...sign('{}'),
      },
      payload: schema.body ? '{}' : undefined,
      expectIn: `params.${name}`,
    });
  }
  if (schema.body) {
    for (const [label, body] of [
      ['array body', '[1,2]'],
      ['empty object', '{}'],
      [
        'wrong types',
        JSON.stringify({
          id: 1,
          title: 7,
          items: 'x',
          productId: 5,
          decision: 'maybe',
          delta: 'x',
          login: 3,
        }),
      ],
    ] as const) {
      out.push({
        name: label,
        method: route.method,
        url,
        headers: { ...baseHeaders, 'content-type': 'application/json', ...sign(body) },
        payload: body,
        expectIn: 'body',
      });
    }
    out.push({
      name: 'malformed JSON',
      method: route.method,
      url,
      headers: { ...baseHeaders, 'content-type': 'application/json', ...sign('{"a":') },
      payload: '{"a":',
      expectIn: 'JSON',
    });
  }
  const query = schema.querystring?.shape as Record<string, unknown> | undefined;
  if (query) {
    const bad = Object.keys(query)[0]!;
    out.push({
      name: `query ${bad}`,
      method: route.method,
      url: `${url}?${bad}=${encodeURIComponent('-1;drop')}&limit=0`,
      headers: baseHeaders,
      expectIn: 'querystring',
    });
  }
  if (schema.headers?.shape?.['idempotency-key']) {
    const { 'idempotency-key': _omit, ...rest } = baseHeaders;
    // Headers are validated after the body, so this case sends a body that is otherwise valid.
    const body = schema.body ? JSON.stringify(validBodies()[route.url] ?? {}) : undefined;
    out.push({
      name: 'missing Idempotency-Key',
      method: route.method,
      url,
      headers: { ...rest, ...(body ? { 'content-type': 'application/json' } : {}) },
      payload: body,
      expectIn: 'Idempotency-Key',
    });
  }
  return out;
}

describe('malformed input', () => {
  it('gets 400 with a code and a message naming the problem on every endpoint, and writes nothing', async () => {
    const routes = routeTable(t.app.http);
    expect(routes.length).toBeGreaterThan(30);
    const before = await tableCounts(t.app.platform.db);
    const failures: string[] = [];
    let checked = 0;
    for (const route of routes) {
      for (const c of casesFor(route)) {
        const res = await t.app.http.inject({
          method: c.method as 'POST',
          url: c.url,
          headers: c.headers,
          ...(c.payload !== undefined ? { payload: c.payload } : {}),
        });
        checked++;
        const body = res.json();
        if (
          res.statusCode !== 400 ||
          body.code !== 'VALIDATION_FAILED' ||
          !String(body.message).includes(c.expectIn)
        ) {
          failures.push(
            `${route.method} ${route.url} [${c.name}] → ${res.statusCode} ${res.body.slice(0, 160)}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(60);
    expect(await tableCounts(t.app.platform.db)).toEqual(before);
  });

  it('every API route declares who may call it and appears in the OpenAPI document', async () => {
    const doc = (await t.request({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    for (const r of routeTable(t.app.http)) {
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${path}`).toBeDefined();
    }
    const docs = await t.request({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toContain('text/html');
  });
});
