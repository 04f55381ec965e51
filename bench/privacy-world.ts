/**
 * The world bench:privacy runs in: one shop with real sealed, paid orders (made through the
 * services) and a bulk of historical orders loaded with set-based SQL. Found again by its
 * name on a re-run, so a loaded database is reused; an interrupted load resumes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { App } from '../src/app.js';
import { hashPassword } from '../src/modules/identity/password.js';
import { rowsOf } from '../src/platform/db.js';
import { localMasterKey } from '../src/platform/keys.js';
import { benchApp } from './common.js';

/**
 * benchApp() from common.ts, but with a master key that outlives the process: the shop's data
 * keys are wrapped by it, and a re-run must unwrap them to decrypt. It is a fixed, public,
 * bench-only key (override with BENCH_MASTER_KEY, base64 of 32 bytes) for fake recipients.
 */
export async function privacyBenchApp(): Promise<App> {
  const envKey =
    process.env.BENCH_MASTER_KEY ??
    createHash('sha256').update('livecart bench:privacy master key (public, bench only)').digest('base64');
  return benchApp({ masterKey: localMasterKey({ keyDir: '.data/bench-keys-unused', envKey }) });
}

export interface World {
  shopId: string;
  merchantId: string;
  /** Bulk orders are older than this (the shop's creation), real ones newer. */
  anchorMs: number;
  roomId: string;
  creatorId: string;
  buyers: string[];
  products: { productId: string; skuId: string; title: string; skuName: string; priceFen: number }[];
  /** Real paid orders (sealed recipients, a payment each): the ones decrypt is measured on. */
  paidOrderIds: string[];
  recipients: { id: string; name: string; phone: string; address: string }[];
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const DAY_MS = 86_400_000;
const D = (n: number) => sql.raw(String(n * DAY_MS));
export const SPAN_DAYS = 90;

const SURNAMES = [
  '王',
  '李',
  '张',
  '刘',
  '陈',
  '杨',
  '黄',
  '赵',
  '吴',
  '周',
  '徐',
  '孙',
  '马',
  '朱',
  '胡',
  '郭',
];
const GIVEN = [
  '小明',
  '丽',
  '伟',
  '芳',
  '娜',
  '秀英',
  '敏',
  '静',
  '磊',
  '强',
  '洋',
  '艳',
  '勇',
  '军',
  '杰',
  '娟',
];
const PLACES = [
  ['浙江省', '杭州市', '西湖区'],
  ['广东省', '深圳市', '南山区'],
  ['北京市', '北京市', '朝阳区'],
  ['上海市', '上海市', '浦东新区'],
  ['四川省', '成都市', '武侯区'],
  ['江苏省', '南京市', '鼓楼区'],
  ['湖北省', '武汉市', '洪山区'],
  ['山东省', '青岛市', '市南区'],
] as const;

const one = <T>(r: unknown): T | undefined => rowsOf<T>(r)[0];

/** The shop named `shopName`, with everything the bench needs, created (or found) through the services. */
export async function ensureWorld(app: App, shopName: string, realOrders: number): Promise<World> {
  const db = app.platform.db;
  const found = one<{ id: string }>(
    await db.execute(sql`select id from shops where name = ${shopName} order by created_at limit 1`),
  );
  if (!found) await createWorld(app, shopName, realOrders);
  return readWorld(app, shopName);
}

async function createWorld(app: App, shopName: string, realOrders: number): Promise<void> {
  const { services, platform } = app;
  const tag = Date.now().toString(36);
  const passwordHash = await hashPassword('bench-password');
  const mk = (login: string, roles: ('buyer' | 'merchant' | 'creator' | 'operator')[]) =>
    services.identity.createAccount({ login: `pv-${login}-${tag}`, passwordHash, displayName: login, roles });
  const operator = await mk('op', ['operator']);
  const merchant = await mk('merchant', ['merchant']);
  const creator = await mk('creator', ['buyer', 'creator']);
  const shop = await services.catalog.createShop(merchant.id, { name: shopName, qualification: 'bench' });
  await services.catalog.reviewShop(operator.id, shop.id, 'approve');
  const category = await services.catalog.ensureCategory(platform.db, {
    slug: 'beauty',
    nameZh: '美妆个护',
    nameEn: 'Beauty',
  });
  await services.creators.setSharingPermission(operator.id, creator.id, true, 'bench');
  const room = await services.venues.createLiveRoom(creator.id, { title: '隐私压测直播间', description: '' });
  const skuIds: string[] = [];
  for (let i = 0; i < 12; i++) {
    const p = await services.catalog.createProduct(shop.id, {
      categoryId: category.id,
      title: `隐私压测商品 ${i}`,
      description: '',
      commissionBps: 1500,
      skus: [{ name: '默认', priceFen: 1990 + 100 * i, stock: 10_000_000 }],
    });
    await services.catalog.reviewProduct(operator.id, p.id, 'approve');
    await services.venues.addCartItem(creator.id, room.id, p.id);
    skuIds.push(p.skus[0]!.id);
  }
  await services.venues.transitionLiveRoom(creator.id, room.id, 'live');
  const buyers = await Promise.all(Array.from({ length: 50 }, (_, i) => mk(`buyer${i}`, ['buyer'])));

  // Real checkouts: each seals its own recipient in the vault, then is paid.
  let made = 0;
  const next = async (i: number) => {
    const buyer = buyers[i % buyers.length]!;
    const place = PLACES[i % PLACES.length]!;
    const created = await services.orders.createOrder(
      buyer.id,
      {
        venue: { type: 'live_room', id: room.id },
        items: [{ skuId: skuIds[i % skuIds.length]!, quantity: 1 + (i % 3) }],
        recipient: {
          name: `${SURNAMES[i % SURNAMES.length]}${GIVEN[(i * 7) % GIVEN.length]}`,
          phone: `13${(i % 7) + 3}${String(10_000_000 + i * 7919).slice(-8)}`,
          province: place[0],
          city: place[1],
          district: place[2],
          detail: `文三路 ${i + 1} 号 ${(i % 30) + 1} 栋 ${(i % 9) + 1}0${(i % 4) + 1} 室`,
        },
      },
      `pv-order-${tag}-${i}`,
    );
    if (created.status !== 201) throw new Error(`checkout ${i}: ${JSON.stringify(created.body)}`);
    const orderId = (created.body as { id: string }).id;
    const paid = await services.payments.pay(buyer.id, orderId, `pv-pay-${tag}-${i}`);
    if ((paid.body as { orderStatus?: string }).orderStatus !== 'paid') {
      throw new Error(`payment of ${orderId}: ${JSON.stringify(paid.body)}`);
    }
    made++;
  };
  // A few buyers at a time, like a live room; ids stay time-ordered per order.
  for (let i = 0; i < realOrders; i += 8) {
    await Promise.all(Array.from({ length: Math.min(8, realOrders - i) }, (_, j) => next(i + j)));
  }
  if (made !== realOrders) throw new Error(`made ${made} of ${realOrders} real orders`);
}

async function readWorld(app: App, shopName: string): Promise<World> {
  const db = app.platform.db;
  const shop = one<{ id: string; owner_account_id: string; created_at: string | Date }>(
    await db.execute(
      sql`select id, owner_account_id, created_at from shops where name = ${shopName} order by created_at limit 1`,
    ),
  )!;
  const products = rowsOf<{ pid: string; sid: string; title: string; name: string; price_fen: number }>(
    await db.execute(sql`
      select p.id as pid, s.id as sid, p.title, s.name, s.price_fen from products p
      join skus s on s.product_id = p.id where p.shop_id = ${shop.id} order by p.id`),
  );
  // Real orders are the ones with a payment: bulk-loaded orders never have one.
  const paid = rowsOf<{
    id: string;
    buyer_account_id: string;
    venue_id: string;
    creator_account_id: string;
    recipient_id: string;
    recipient_name_mask: string;
    recipient_phone_mask: string;
    recipient_address_mask: string;
  }>(
    await db.execute(sql`
      select o.id, o.buyer_account_id, o.venue_id, o.creator_account_id, o.recipient_id,
             o.recipient_name_mask, o.recipient_phone_mask, o.recipient_address_mask
      from orders o join payments p on p.order_id = o.id and p.status = 'succeeded'
      where o.shop_id = ${shop.id} and o.status = 'paid' order by o.id`),
  );
  if (paid.length === 0) throw new Error(`shop ${shop.id} (${shopName}) has no real paid orders`);
  try {
    await app.services.vault.openRecipients(db, shop.id, [paid[0]!.recipient_id]);
  } catch (err) {
    throw new Error(
      `shop ${shop.id} (${shopName}) was sealed under another master key (${(err as Error).message}); ` +
        'run with the BENCH_MASTER_KEY it was made with, or drop the database and load it again',
    );
  }
  return {
    shopId: shop.id,
    merchantId: shop.owner_account_id,
    anchorMs: new Date(shop.created_at).getTime(),
    roomId: paid[0]!.venue_id,
    creatorId: paid[0]!.creator_account_id,
    buyers: [...new Set(paid.map((o) => o.buyer_account_id))],
    products: products.map((p) => ({
      productId: p.pid,
      skuId: p.sid,
      title: p.title,
      skuName: p.name,
      priceFen: Number(p.price_fen),
    })),
    paidOrderIds: paid.map((o) => o.id),
    recipients: paid.map((o) => ({
      id: o.recipient_id,
      name: o.recipient_name_mask,
      phone: o.recipient_phone_mask,
      address: o.recipient_address_mask,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Bulk load
// ---------------------------------------------------------------------------------------------

/** SQL for the 10 base32 time characters of a ULID from a bigint of epoch milliseconds. */
function base32Time(ms: string): string {
  return Array.from(
    { length: 10 },
    (_, i) => `substr('${ALPHABET}', ((${ms} >> ${5 * (9 - i)}) & 31)::int + 1, 1)`,
  ).join(' || ');
}

/** The same time prefix in Node (as src/platform/ids.ts builds it). */
function base32TimeJs(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** 16 random Crockford base32 characters (80 bits), as the app's ids carry. */
function randomChars(): string {
  const b = randomBytes(16);
  let out = '';
  for (let i = 0; i < 16; i++) out += ALPHABET[b[i]! & 31];
  return out;
}

export type Loader = 'sql' | 'node';

/**
 * Bulk orders are numbered g = 1..bulk, oldest first, evenly over SPAN_DAYS before the anchor;
 * `ms` is g's creation time. Ids are `ord_` + the ULID time prefix + 16 characters of a hash
 * of (shop, g): they sort by time like the app's, and a resumed load makes the same ones.
 */
function msOf(anchorMs: number, bulk: number, g: number): number {
  return anchorMs - Math.floor(((bulk - g) * SPAN_DAYS * DAY_MS) / bulk) - 1;
}

/**
 * Loads bulk orders g = from..to (one order line each) in one transaction: the rows are first
 * put in a temporary table (made in SQL from generate_series, or sent from Node as arrays),
 * then orders and order_lines are inserted from it with set-based statements.
 */
export async function loadChunk(
  app: App,
  w: World,
  opts: { from: number; to: number; bulk: number; loader: Loader },
): Promise<void> {
  const db = app.platform.db;
  const { from, to, bulk } = opts;
  const span = SPAN_DAYS * DAY_MS;
  const json = (xs: unknown[]) => JSON.stringify(xs);
  const source =
    opts.loader === 'sql'
      ? sql`
          select g, ms,
            'ord_' || ${sql.raw(base32Time('ms'))} || substr(md5(${w.shopId}::text || ':' || g), 1, 16) as id,
            'oln_' || ${sql.raw(base32Time('ms'))} || substr(md5(${w.shopId}::text || ':' || g || ':l'), 1, 16) as line_id
          from (
            select g, ${w.anchorMs}::bigint - ((${bulk}::bigint - g) * ${span}::bigint) / ${bulk}::bigint - 1 as ms
            from generate_series(${from}::bigint, ${to}::bigint) as g
          ) s`
      : (() => {
          const gs: number[] = [];
          const mss: number[] = [];
          const ids: string[] = [];
          const lineIds: string[] = [];
          for (let g = from; g <= to; g++) {
            const ms = msOf(w.anchorMs, bulk, g);
            const t = base32TimeJs(ms);
            gs.push(g);
            mss.push(ms);
            ids.push(`ord_${t}${randomChars()}`);
            lineIds.push(`oln_${t}${randomChars()}`);
          }
          const arr = (xs: (string | number)[]) => `{${xs.join(',')}}`;
          return sql`
            select * from unnest(${arr(gs)}::bigint[], ${arr(mss)}::bigint[], ${arr(ids)}::text[], ${arr(lineIds)}::text[])
              as s(g, ms, id, line_id)`;
        })();

  await db.transaction(async (tx) => {
    await tx.execute(sql`
      create temp table bulk_src on commit drop as
      with p as (
        select
          array(select jsonb_array_elements_text(${json(w.buyers)}::jsonb)) as buyers,
          array(select jsonb_array_elements_text(${json(w.recipients.map((r) => r.id))}::jsonb)) as rid,
          array(select jsonb_array_elements_text(${json(w.recipients.map((r) => r.name))}::jsonb)) as rname,
          array(select jsonb_array_elements_text(${json(w.recipients.map((r) => r.phone))}::jsonb)) as rphone,
          array(select jsonb_array_elements_text(${json(w.recipients.map((r) => r.address))}::jsonb)) as raddr,
          array(select jsonb_array_elements_text(${json(w.products.map((x) => x.productId))}::jsonb)) as pid,
          array(select jsonb_array_elements_text(${json(w.products.map((x) => x.skuId))}::jsonb)) as sid,
          array(select jsonb_array_elements_text(${json(w.products.map((x) => x.title))}::jsonb)) as title,
          array(select jsonb_array_elements_text(${json(w.products.map((x) => x.skuName))}::jsonb)) as sname,
          array(select (jsonb_array_elements_text(${json(w.products.map((x) => x.priceFen))}::jsonb))::int) as price
      ), src as (${source}),
      aged as (
        select src.*, ${w.anchorMs}::bigint - ms as age_ms, random() as r1, random() as r2,
          to_timestamp(ms / 1000.0) as created
        from src
      )
      select a.g, a.id, a.line_id, a.created, a.age_ms,
        case
          when a.r1 < 0.04 then 'cancelled'
          when a.age_ms < ${D(2)} then case when a.r2 < 0.5 then 'paid' else 'shipped' end
          when a.age_ms < ${D(5)} then
            case when a.r2 < 0.3 then 'shipped' when a.r2 < 0.9 then 'delivered' else 'completed' end
          when a.age_ms < ${D(12)} then case when a.r2 < 0.4 then 'delivered' else 'completed' end
          else 'completed'
        end as status,
        p.buyers[1 + a.g % cardinality(p.buyers)] as buyer,
        p.rid[1 + (a.g * 31) % cardinality(p.rid)] as rid,
        p.rname[1 + (a.g * 31) % cardinality(p.rid)] as rname,
        p.rphone[1 + (a.g * 31) % cardinality(p.rid)] as rphone,
        p.raddr[1 + (a.g * 31) % cardinality(p.rid)] as raddr,
        p.pid[1 + a.g % cardinality(p.pid)] as pid,
        p.sid[1 + a.g % cardinality(p.pid)] as sid,
        p.title[1 + a.g % cardinality(p.pid)] as title,
        p.sname[1 + a.g % cardinality(p.pid)] as sname,
        p.price[1 + a.g % cardinality(p.pid)] as price,
        1 + ((a.g * 7) % 3)::int as qty
      from aged a cross join p`);
    await tx.execute(sql`
      insert into orders (id, shop_id, buyer_account_id, status, total_fen, payable_fen, venue_type, venue_id,
        creator_account_id, recipient_id, recipient_name_mask, recipient_phone_mask, recipient_address_mask,
        created_at, pay_deadline, paid_at, shipped_at, delivered_at, completed_at, cancelled_at, cancel_reason,
        carrier, tracking_no)
      select id, ${w.shopId}, buyer, status, price * qty, price * qty, 'live_room', ${w.roomId}, ${w.creatorId},
        rid, rname, rphone, raddr,
        created, created + interval '15 minutes',
        case when status <> 'cancelled' then created + least(age_ms / 10, 60000 + (g % 540) * 1000) * interval '1 millisecond' end,
        case when status in ('shipped', 'delivered', 'completed') then created + least(age_ms / 5, ${D(1)}) * interval '1 millisecond' end,
        case when status in ('delivered', 'completed') then created + least(age_ms / 2, ${D(3)}) * interval '1 millisecond' end,
        case when status = 'completed' then created + (least(age_ms / 2, ${D(3)}) + least(age_ms * 3 / 10, ${D(10)})) * interval '1 millisecond' end,
        case when status = 'cancelled' then created + interval '15 minutes' end,
        case when status = 'cancelled' then 'payment_timeout' end,
        case when status in ('shipped', 'delivered', 'completed') then (array['SF','YTO','ZTO','STO','YD','JD','EMS','JT'])[1 + g % 8] end,
        case when status in ('shipped', 'delivered', 'completed') then 'PV' || lpad(g::text, 12, '0') end
      from bulk_src`);
    await tx.execute(sql`
      insert into order_lines (id, order_id, shop_id, product_id, sku_id, category_id, title, sku_name, unit_price_fen,
        quantity, line_total_fen, paid_fen, commission_plan, commission_bps)
      select b.line_id, b.id, ${w.shopId}, b.pid, b.sid, pr.category_id, b.title, b.sname, b.price, b.qty,
        b.price * b.qty, b.price * b.qty, 'open', 1500
      from bulk_src b join products pr on pr.id = b.pid`);
  });
}

/** Orders of the shop older than the anchor (bulk) and in all. */
export async function countOrders(app: App, w: World): Promise<{ bulk: number; total: number }> {
  const db = app.platform.db;
  const anchorId = `ord_${base32TimeJs(w.anchorMs)}`;
  const r = one<{ bulk: number | string; total: number | string }>(
    await db.execute(sql`
      select count(*) filter (where id < ${anchorId}) as bulk, count(*) as total
      from orders where shop_id = ${w.shopId}`),
  )!;
  return { bulk: Number(r.bulk), total: Number(r.total) };
}
