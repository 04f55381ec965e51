// Demo data for `npm start` / `npm run seed`: a believable Double 11 evening on Livecart,
// built through the module services exactly as the HTTP API would build it, so the demo
// exercises the same rules (review before sale, live room must be live, buyer PII sealed
// by the privacy vault …). Everything is drawn from fixed seeds, so two databases seeded
// at the same moment hold the same story.
//
// Idempotent: every step first looks up what it would create (accounts by login, shops by
// owner, products by title, rooms and videos by title, coupons by title, a buyer's claim by
// coupon, orders by their idempotency key) and
// skips what exists, so a second run, or a run after a crash midway, adds nothing twice.
// Every write goes through a service. Three look-ups read tables directly because no service
// offers them yet: videos by creator and title, and the demo's idempotency keys and order
// statuses (to resume after a crash without re-checking out orders of rooms that have ended).

import { and, eq, inArray, like } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { App } from '../app.js';
import { hashPassword } from '../modules/identity/password.js';
import type { CARRIERS } from '../modules/orders/routes.js';
import { type OrderStatus, orders as ordersTable } from '../modules/orders/schema.js';
import type { CheckoutInput } from '../modules/orders/service.js';
import { type RecipientInput, recipientInputSchema } from '../modules/privacy/service.js';
import { videos as videosTable } from '../modules/venues/schema.js';
import type { Role } from '../platform/auth.js';
import { type Clock, DAY, HOUR, MINUTE } from '../platform/clock.js';
import { AppError } from '../platform/errors.js';
import { idempotencyKeys } from '../platform/schema.js';
import { createFaker, DEMO_CATEGORIES } from './fake-cn.js';

export const DEMO_PASSWORD = 'livecart123';
const SEED = 20201111;

export interface SeedDemoOptions {
  /** Buyer accounts (default 60). */
  buyers?: number;
  /** Orders placed across the venues (default 300). */
  orders?: number;
  /** Walk every step even when the demo already looks complete (each step still skips what exists). */
  force?: boolean;
}

export interface DemoSummary {
  liveRoomId: string;
  password: string;
  logins: { role: string; login: string }[];
}

type Carrier = (typeof CARRIERS)[number];
/** The slugs of DEMO_CATEGORIES. */
type CategorySlug = 'beauty' | 'apparel' | 'food' | 'home' | 'electronics' | 'baby' | 'jewelry' | 'fresh';

// ---------------------------------------------------------------------------------------
// The cast (people, goods, venues). Times are offsets in ms from the moment of seeding.
// ---------------------------------------------------------------------------------------

const SHOPS: { categories: [CategorySlug, CategorySlug]; stems: string[]; carriers: Carrier[] }[] = [
  { categories: ['beauty', 'jewelry'], stems: ['悦颜美妆', '拾光饰品', '花间集'], carriers: ['SF', 'YTO'] },
  { categories: ['apparel', 'baby'], stems: ['青禾童装', '暖阳母婴', '江南布艺'], carriers: ['ZTO', 'YD'] },
  {
    categories: ['food', 'fresh'],
    stems: ['山野臻选', '云岭茶业', '鲜果时光', '禾丰粮油', '北纬果园', '海之味'],
    carriers: ['SF', 'JD'],
  },
  {
    categories: ['home', 'electronics'],
    stems: ['小鹿家居', '星河数码', '简约生活', '匠心木作'],
    carriers: ['JD', 'STO'],
  },
];
const PRODUCTS_PER_CATEGORY = 5;

/** Products (global index) left in review, and one rejected by quality control (品控). */
const PENDING_PRODUCTS = new Set([9, 27]);
const REJECTED_PRODUCT = 18;
const REJECT_REASON =
  '主图含其他平台水印，标题含极限用语“最好”，违反广告法；请更换主图、修改标题后重新提交。';

/** Fallback price range (yuan) of a category. */
const PRICE_YUAN: Record<CategorySlug, [number, number]> = {
  beauty: [39, 199],
  apparel: [59, 399],
  food: [29, 149],
  home: [29, 199],
  electronics: [99, 699],
  baby: [39, 199],
  jewelry: [99, 999],
  fresh: [39, 199],
};

/** Price ranges (yuan) by what the title sells, so a silver stud does not cost what a gold bracelet does. */
const PRICE_BY_ITEM: [string, number, number][] = (
  '面膜:49-129 精华:89-299 洗面奶:39-99 口红:79-259 防晒:59-169 洗发水:39-99 T恤:39-129 羽绒服:299-999 ' +
  '牛仔裤:89-259 老爹鞋:129-399 针织衫:159-459 托特包:299-899 普洱:69-399 大红袍:99-499 坚果:59-139 ' +
  '牛肉干:49-139 螺蛳粉:29-69 大米:49-129 四件套:129-399 乳胶枕:89-299 收纳箱:39-99 抽纸:29-69 ' +
  '不粘锅:99-299 凝珠:29-79 耳机:99-599 充电宝:69-199 空气炸锅:199-499 电动牙刷:99-399 智能手表:299-1299 ' +
  '吹风机:129-599 纸尿裤:69-169 湿巾:29-69 奶粉:199-459 保温杯:59-159 连体衣:49-159 足金:1599-3599 ' +
  '珍珠:199-899 银耳钉:59-199 和田玉:599-2999 莫桑钻:399-1599 大闸蟹:199-599 脐橙:29-79 车厘子:99-399 ' +
  '红富士:29-79 五花肉:39-99 带鱼:69-199'
)
  .split(' ')
  .map((entry) => {
    const [word, range] = entry.split(':') as [string, string];
    const [lo, hi] = range.split('-').map(Number) as [number, number];
    return [word, lo, hi];
  });

/** SKU names with a price factor against the first; a product takes the first 1–3. */
const VARIANTS: Record<CategorySlug, [string, number][]> = Object.fromEntries(
  Object.entries({
    beauty: '标准装×1 两件装×1.85 礼盒装×2.4',
    apparel: '黑色×1 米白色×1 雾霾蓝×1.08',
    food: '单份装×1 三份装×2.7 整箱装×4.6',
    home: '标准款×1 加大款×1.35 两件套×1.8',
    electronics: '曜石黑×1 星光白×1 Pro版×1.45',
    baby: '单包装×1 两包装×1.9 整箱装×3.6',
    jewelry: '经典款×1 礼盒款×1.15 定制刻字款×1.3',
    fresh: '尝鲜装×1 家庭装×1.8 礼盒装×2.5',
  }).map(([slug, list]) => [
    slug,
    list.split(' ').map((v) => {
      const [name, factor] = v.split('×') as [string, string];
      return [name, Number(factor)];
    }),
  ]),
) as Record<CategorySlug, [string, number][]>;

const DESCRIPTIONS: Record<CategorySlug, string[]> = {
  beauty: ['成分温和，敏感肌可用，支持7天无理由退货。', '官方正品保障，假一赔十，顺丰包邮。'],
  apparel: ['版型修身显瘦，面料亲肤透气，支持7天无理由退换。', '当季新款，多色可选，尺码不合适包退换。'],
  food: ['产地直发，新鲜日期，开袋即食。', '精选原料，无添加防腐剂，整箱囤货更划算。'],
  home: ['居家必备，品质耐用，运输破损包赔。', '大容量设计，节省空间，家用囤货首选。'],
  electronics: ['全国联保一年，支持以旧换新。', '官方正品，顺丰发货，7天无理由退换。'],
  baby: ['母婴店同款，宝宝肌肤友好，官方正品。', '安全材质，通过国家检测标准，宝妈放心选。'],
  jewelry: ['附礼盒和鉴定证书，送礼有面子。', '精工打磨，不过敏不掉色，支持免费刻字。'],
  fresh: ['产地直采，顺丰冷链，坏果包赔。', '当季现摘现发，个大饱满，新鲜到家。'],
};

interface RoomPlan {
  title: string;
  description: string;
  /** What goes in the cart: `category×count`, approved products only. */
  picks: string;
  kind: 'live' | 'ended' | 'scheduled';
}

/** One live room per creator: creator1 is live now, two have ended, two are scheduled. */
const ROOMS: RoomPlan[] = [
  {
    title: '双11宠粉节 · 美妆好物专场 前100单加赠小样',
    description: '今晚全场包邮，下单备注暗号“宠粉”优先发货。',
    picks: 'beauty×3 jewelry×1 food×1 home×1 baby×1',
    kind: 'live',
  },
  {
    title: '秋冬穿搭专场 · 羽绒服牛仔裤一站配齐',
    description: '小个子、梨形身材都能穿，主播身高158体重96斤。',
    picks: 'apparel×3 baby×1 jewelry×2',
    kind: 'ended',
  },
  {
    title: '原产地直播 · 云南普洱和当季鲜果',
    description: '茶山和果园现场连线，产地直发。',
    picks: 'food×3 fresh×3',
    kind: 'ended',
  },
  {
    title: '数码家电真实测评 · 双11攻略',
    description: '耳机、充电宝、空气炸锅逐个实测，不吹不黑。',
    picks: 'electronics×3 home×1',
    kind: 'scheduled',
  },
  {
    title: '周末居家囤货节 · 日用百货限时特惠',
    description: '纸巾、洗衣凝珠、收纳箱，一次囤够半年。',
    picks: 'home×3 fresh×1',
    kind: 'scheduled',
  },
];

/**
 * Coupons: a shop coupon merchant1 drops in creator1's live room when it goes live, a shop
 * coupon of the food shop, and a platform coupon for Double 11. `shop` is null for the
 * platform's; `room` marks the live-room drop (its orders are the ones that use it).
 */
const COUPONS: {
  shop: number | null;
  room?: number;
  title: string;
  amountOffFen: number;
  minSpendFen: number;
  totalQuantity: number;
}[] = [
  {
    shop: 0,
    room: 0,
    title: '直播间专享 满99减10',
    amountOffFen: 1000,
    minSpendFen: 9900,
    totalQuantity: 200,
  },
  { shop: 2, title: '店铺券 满59减5', amountOffFen: 500, minSpendFen: 5900, totalQuantity: 500 },
  { shop: null, title: '双11平台券 满199减20', amountOffFen: 2000, minSpendFen: 19900, totalQuantity: 2000 },
];
/** Every third order is placed with the coupons it qualifies for (and its buyer has not used). */
const usesCoupons = (n: number) => n % 3 === 0;

const VIDEOS: {
  creator: number;
  daysAgo: number;
  category: CategorySlug;
  title: string;
  anchorTitle: string;
}[] = [
  {
    creator: 1,
    daysAgo: 12,
    category: 'apparel',
    title: '158小个子秋冬穿搭，一衣多穿不重样',
    anchorTitle: '视频同款点这里',
  },
  {
    creator: 3,
    daysAgo: 8,
    category: 'electronics',
    title: '百元价位降噪耳机横评，闭眼入哪款？',
    anchorTitle: '测评同款 限时优惠',
  },
  {
    creator: 0,
    daysAgo: 6,
    category: 'beauty',
    title: '敏感肌真实测评｜这款我回购了三次',
    anchorTitle: '视频同款 领券更省',
  },
];

// ---------------------------------------------------------------------------------------
// Plans: pure functions of the seeds (and of the seeding moment, for order times).
// ---------------------------------------------------------------------------------------

interface ProductPlan {
  index: number;
  shop: number;
  category: CategorySlug;
  title: string;
  description: string;
  commissionBps: number;
  skus: { name: string; priceFen: number; stock: number }[];
  review: 'approve' | 'reject' | 'pending';
}

/** Whole yuan ending in 9 above 100 (129.00), else x9.90-style prices (29.90), in fen. */
function priceFen(yuan: number): number {
  if (yuan >= 100) return (Math.round(yuan / 10) * 10 - 1) * 100;
  return Math.max(1, Math.round(yuan)) * 100 - 10;
}

function planShopNames(): string[] {
  const f = createFaker(SEED + 1);
  return SHOPS.map((shop) => {
    for (let i = 0; i < 500; i++) {
      const name = f.shopName();
      if (shop.stems.some((s) => name.startsWith(s))) return name;
    }
    return `${shop.stems[0]}旗舰店`;
  });
}

function planProducts(): ProductPlan[] {
  const f = createFaker(SEED + 2);
  const out: ProductPlan[] = [];
  SHOPS.forEach((shop, s) => {
    const titles = new Set<string>();
    for (const category of shop.categories) {
      for (let k = 0; k < PRODUCTS_PER_CATEGORY; k++) {
        let title = f.productTitle(category);
        for (let tries = 0; titles.has(title) && tries < 50; tries++) title = f.productTitle(category);
        if (titles.has(title)) title = `${title} 第${k + 1}款`;
        titles.add(title);
        const item = PRICE_BY_ITEM.find(([word]) => title.includes(word));
        const [lo, hi] = item ? [item[1], item[2]] : PRICE_YUAN[category];
        const base = f.int(lo, hi);
        const variants = VARIANTS[category].slice(0, f.int(1, 3));
        const index = out.length;
        out.push({
          index,
          shop: s,
          category,
          title,
          description: f.pick(DESCRIPTIONS[category]),
          commissionBps: f.pick([1000, 1500, 2000, 2500, 3000]),
          skus: variants.map(([name, factor]) => ({
            name,
            priceFen: priceFen(base * factor),
            stock: f.int(50, 500),
          })),
          review: PENDING_PRODUCTS.has(index) ? 'pending' : index === REJECTED_PRODUCT ? 'reject' : 'approve',
        });
      }
    }
  });
  return out;
}

/** The products a venue offers: approved ones of a category, rotated so creators differ. */
function parsePicks(picks: string): [CategorySlug, number][] {
  return picks.split(' ').map((p) => {
    const [category, count] = p.split('×') as [CategorySlug, string];
    return [category, Number(count)];
  });
}

function pickProducts(products: ProductPlan[], picks: string, rotate: number): number[] {
  const out: number[] = [];
  for (const [category, count] of parsePicks(picks)) {
    const pool = products.filter((p) => p.category === category && p.review === 'approve');
    for (let i = 0; i < count && i < pool.length; i++) out.push(pool[(i + rotate) % pool.length]!.index);
  }
  return out;
}

function planCreators(): { login: string; nickname: string }[] {
  const f = createFaker(SEED + 4);
  const seen = new Set<string>();
  return ROOMS.map((_, i) => {
    let nickname = f.nickname();
    for (let tries = 0; seen.has(nickname) && tries < 50; tries++) nickname = f.nickname();
    seen.add(nickname);
    return { login: `creator${i + 1}`, nickname };
  });
}

export interface DemoBuyer {
  login: string;
  /** A nickname: the buyer's real name only ever goes into the vault, as a sealed recipient. */
  displayName: string;
  recipients: RecipientInput[];
}

const TAG_CHARS = 'abcdefghjkmnpqrstuvwxyz23456789'.split('');

/** Buyers and their recipients (exported so tests can prove none of it is stored in plain text). */
export function demoBuyers(count: number): DemoBuyer[] {
  const f = createFaker(SEED + 3);
  const recipient = (): RecipientInput =>
    recipientInputSchema.parse({ name: f.personName(), phone: f.mobile(), ...f.address() });
  return Array.from({ length: count }, (_, i) => {
    const recipients = [recipient()];
    if (f.int(0, 3) === 0) recipients.push(recipient()); // an office, or a parent's home
    const tag = Array.from({ length: 5 }, () => f.pick(TAG_CHARS)).join('');
    const displayName = f.int(0, 1) === 0 ? f.nickname() : `抖音用户${tag}`;
    return { login: `buyer${i + 1}`, displayName, recipients };
  });
}

/** Offset from `now` of hh:mm Beijing time, `days` days before now's Beijing date (negative: ahead). */
function beijingAt(now: number, days: number, hh: number, mm = 0): number {
  const bj = 8 * HOUR;
  const midnight = Math.floor((now + bj) / DAY) * DAY - bj;
  return midnight - days * DAY + hh * HOUR + mm * MINUTE - now;
}

interface Timing {
  rooms: { createdAt: number; scheduledAt: number; cartAt: number; liveAt?: number; endAt?: number }[];
  videos: number[];
}

function planTiming(now: number): Timing {
  const liveNow = -2 * HOUR;
  const ended1 = beijingAt(now, 10, 19, 30);
  const ended2 = beijingAt(now, 4, 20, 0);
  return {
    rooms: [
      { createdAt: -DAY, scheduledAt: liveNow - 5 * MINUTE, cartAt: liveNow - HOUR, liveAt: liveNow },
      {
        createdAt: ended1 - 2 * DAY,
        scheduledAt: ended1,
        cartAt: ended1 - 3 * HOUR,
        liveAt: ended1,
        endAt: ended1 + 4 * HOUR,
      },
      {
        createdAt: ended2 - 2 * DAY,
        scheduledAt: ended2,
        cartAt: ended2 - 3 * HOUR,
        liveAt: ended2,
        endAt: ended2 + 3 * HOUR,
      },
      { createdAt: 0, scheduledAt: beijingAt(now, -1, 20, 0), cartAt: 0 },
      { createdAt: 0, scheduledAt: beijingAt(now, -3, 19, 30), cartAt: 0 },
    ],
    videos: VIDEOS.map((v) => beijingAt(now, v.daysAgo, 18, 30)),
  };
}

type VenuePlan = { type: 'live_room'; room: number } | { type: 'video'; video: number } | { type: 'search' };

interface OrderPlan {
  n: number;
  buyer: number;
  recipient: number;
  venue: VenuePlan;
  product: number;
  items: { sku: number; quantity: number }[];
  at: number;
  payAt?: number;
  cancelAt?: number;
  timeoutAt?: number;
  shipAt?: number;
  deliverAt?: number;
  confirmAt?: number;
  carrier: Carrier;
  trackingNo: string;
}

const TRACKING_LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ'.split('');

function planOrders(
  now: number,
  count: number,
  buyers: DemoBuyer[],
  products: ProductPlan[],
  roomProducts: number[][],
  videoProducts: number[],
  timing: Timing,
): OrderPlan[] {
  const f = createFaker(SEED + 5);
  const stock = products.map((p) => p.skus.map((s) => s.stock));
  const sellable = products.filter((p) => p.review === 'approve').map((p) => p.index);
  const window = (from: number, to: number) => from + Math.floor(f.int(0, 10_000) * ((to - from) / 10_000));
  const out: OrderPlan[] = [];

  for (let n = 1; n <= count; n++) {
    const forcedPending = n > count - 2; // the newest orders wait for payment
    const forcedCancel = n === count - 2;
    // Where the order comes from: mostly live rooms, then videos, then search.
    const r = forcedPending ? 50 : f.int(0, 99);
    let venue: VenuePlan;
    let offered: number[];
    let at: number;
    if (r < 65) {
      const room = forcedPending ? 0 : r < 25 ? 1 : r < 47 ? 2 : 0;
      const t = timing.rooms[room]!;
      venue = { type: 'live_room', room };
      offered = roomProducts[room]!;
      at = forcedPending
        ? -(count - n + 2) * MINUTE
        : window(t.liveAt! + 3 * MINUTE, Math.min(t.endAt ?? 0, 0) - 2 * MINUTE);
    } else if (r < 85) {
      const video = f.int(0, VIDEOS.length - 1);
      venue = { type: 'video', video };
      offered = [videoProducts[video]!];
      at = window(timing.videos[video]! + 20 * MINUTE, -5 * MINUTE);
    } else {
      venue = { type: 'search' };
      offered = sellable;
      at = window(-14 * DAY, -5 * MINUTE);
      // People rarely shop between 1 and 7 in the morning (Beijing time).
      const beijingHour = (t: number) => Math.floor(((((now + t + 8 * HOUR) % DAY) + DAY) % DAY) / HOUR);
      for (let i = 0; i < 3 && beijingHour(at) >= 1 && beijingHour(at) < 7; i++)
        at = window(-14 * DAY, -5 * MINUTE);
    }

    // The pinned (first) product of a live room sells best.
    let product = venue.type === 'live_room' && f.int(0, 99) < 35 ? offered[0]! : f.pick(offered);
    const quantity = () => {
      const q = f.int(0, 99);
      return q < 75 ? 1 : q < 95 ? 2 : 3;
    };
    let items: { sku: number; quantity: number }[] = [];
    for (let tries = 0; tries < 5 && items.length === 0; tries++) {
      const skus = products[product]!.skus;
      const first = f.int(0, skus.length - 1);
      const wanted = [{ sku: first, quantity: quantity() }];
      if (skus.length > 1 && f.int(0, 99) < 15) wanted.push({ sku: (first + 1) % skus.length, quantity: 1 });
      items = wanted.filter((w) => stock[product]![w.sku]! >= w.quantity);
      if (items.length === 0) product = f.pick(offered);
    }
    if (items.length === 0) continue; // sold out: the demo simply has one order fewer
    for (const it of items) stock[product]![it.sku]! -= it.quantity;

    // A few buyers order a lot; buyer1 (a demo login) always has some orders.
    const buyer =
      n % 25 === 1
        ? 0
        : Math.min(buyers.length - 1, Math.floor(buyers.length * (f.int(0, 999) / 1000) ** 1.6));
    const recipient = buyers[buyer]!.recipients.length > 1 && f.int(0, 99) < 25 ? 1 : 0;
    const shop = SHOPS[products[product]!.shop]!;
    const carrier = f.pick(shop.carriers);
    const letters = Array.from({ length: 4 }, () => f.pick(TRACKING_LETTERS)).join('');
    // Letters and at most 6 digits: a tracking number never looks like a phone number.
    const trackingNo = `${carrier}${letters}${String((n * 7919 + 104_729) % 1_000_000).padStart(6, '0')}`;
    const plan: OrderPlan = { n, buyer, recipient, venue, product, items, at, carrier, trackingNo };

    // What happened next.
    const u = f.int(0, 99);
    const keep = (t: number) => (t < 0 ? t : undefined);
    if (forcedCancel) {
      plan.cancelAt = keep(at + MINUTE);
    } else if (forcedPending || (at > -12 * MINUTE && u < 55)) {
      // left unpaid, still inside its payment window
    } else if (u < 4) {
      plan.cancelAt = keep(at + f.int(1, 10) * MINUTE);
    } else if (u < 6 && at < -30 * MINUTE) {
      plan.timeoutAt = at + 16 * MINUTE; // the unpaid-order sweep cancels it
    } else {
      plan.payAt = keep(at + f.int(15, 240) * 1000);
      if (plan.payAt !== undefined && f.int(0, 99) >= 3) {
        plan.shipAt = keep(plan.payAt + f.int(180, 2400) * MINUTE);
        if (plan.shipAt !== undefined) plan.deliverAt = keep(plan.shipAt + f.int(20 * 60, 84 * 60) * MINUTE);
        if (plan.deliverAt !== undefined && f.int(0, 99) < 55) {
          plan.confirmAt = keep(plan.deliverAt + f.int(2 * 60, 96 * 60) * MINUTE);
        }
      }
    }
    out.push(plan);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------

/**
 * The services read the time from `app.platform.clock` on every call, so the seed swaps in
 * this clock while it runs and replays two weeks of history at their own times: rooms go
 * live and end, orders are placed, paid, shipped and delivered when the story says. It is
 * put back before the server listens. (The privacy vault and the outbox dispatcher hold the
 * clock they were built with, so recipients and handler runs carry the real seeding time.)
 */
class SeedClock implements Clock {
  constructor(
    private readonly base: number,
    private at = 0,
  ) {}
  set(offset: number): void {
    this.at = offset;
  }
  now(): Date {
    return new Date(this.base + this.at);
  }
}

const summary = (liveRoomId: string): DemoSummary => ({
  liveRoomId,
  password: DEMO_PASSWORD,
  logins: [
    { role: 'operator', login: 'operator' },
    { role: 'merchant', login: 'merchant1' },
    { role: 'staff', login: 'staff1' },
    { role: 'creator', login: 'creator1' },
    { role: 'buyer', login: 'buyer1' },
  ],
});

async function findRoom(app: App, login: string, title: string) {
  const acc = await app.services.identity.findByLogin(login);
  if (!acc) return null;
  return (await app.services.venues.listOwnRooms(acc.id)).find((r) => r.title === title) ?? null;
}

/** The last step of the seed fills creator5's scheduled room; if that is done, so is the rest. */
async function seededLiveRoom(app: App): Promise<string | null> {
  const last = ROOMS.length - 1;
  const lastRoom = await findRoom(app, `creator${last + 1}`, ROOMS[last]!.title);
  if (!lastRoom) return null;
  const view = await app.services.venues.getRoomForViewer(lastRoom.id);
  const expected = parsePicks(ROOMS[last]!.picks).reduce((s, [, c]) => s + c, 0);
  if (view.cart.length < expected) return null;
  return (await findRoom(app, 'creator1', ROOMS[0]!.title))?.id ?? null;
}

const isCode = (err: unknown, ...codes: string[]) => err instanceof AppError && codes.includes(err.code);

export async function seedDemo(app: App, log: Logger, opts: SeedDemoOptions = {}): Promise<DemoSummary> {
  const startedAt = Date.now();
  if (!opts.force) {
    const liveRoomId = await seededLiveRoom(app);
    if (liveRoomId) {
      log.info({ ms: Date.now() - startedAt }, 'demo data already seeded');
      return summary(liveRoomId);
    }
  }
  log.info({ buyers: opts.buyers ?? 60, orders: opts.orders ?? 300 }, 'demo seed: seeding the demo data');
  const platform = app.platform;
  const realClock = platform.clock;
  const now = realClock.now().getTime();
  const clock = new SeedClock(now);
  platform.clock = clock;
  try {
    const liveRoomId = await seedStory(app, log, clock, now, opts);
    log.info({ ms: Date.now() - startedAt }, 'demo data seeded');
    return summary(liveRoomId);
  } finally {
    platform.clock = realClock;
  }
}

async function seedStory(
  app: App,
  log: Logger,
  clock: SeedClock,
  now: number,
  opts: SeedDemoOptions,
): Promise<string> {
  const { identity, catalog, creators, venues, orders, payments, promotions } = app.services;
  const db = app.platform.db;
  let passwordHash: Promise<string> | null = null;

  async function account(login: string, displayName: string, roles: Role[], at: number): Promise<string> {
    const existing = await identity.findByLogin(login);
    if (existing) return existing.id;
    clock.set(at);
    // One scrypt hash for every demo account: the KDF is deliberately slow.
    passwordHash ??= hashPassword(DEMO_PASSWORD);
    try {
      return (await identity.createAccount({ login, passwordHash: await passwordHash, displayName, roles }))
        .id;
    } catch (err) {
      if (!isCode(err, 'LOGIN_TAKEN')) throw err;
      return (await identity.findByLogin(login))!.id; // another node seeded it a moment ago
    }
  }

  // People: the operator, merchants with their shops, a staff member.
  const operatorId = await account('operator', '平台运营-小周', ['operator'], -21 * DAY);
  const shopNames = planShopNames();
  const shopIds: string[] = [];
  for (const [s, name] of shopNames.entries()) {
    const at = -21 * DAY + (s + 1) * 2 * HOUR;
    const merchantId = await account(`merchant${s + 1}`, `${name}店主`, ['buyer', 'merchant'], at);
    let shopId = (await identity.getAccount(merchantId)).shops.find((m) => m.role === 'owner')?.shopId;
    if (!shopId) {
      clock.set(at + 10 * MINUTE);
      const qualification = `营业执照 9133010${s + 1}MA2CK${['QX', 'LM', 'RT', 'WZ'][s]}7H；品牌授权书；质检报告`;
      shopId = (await catalog.createShop(merchantId, { name, qualification })).id;
    }
    if ((await catalog.getShop(shopId)).status === 'onboarding') {
      clock.set(at + DAY);
      await catalog.reviewShop(operatorId, shopId, 'approve', '资质齐全，审核通过');
    }
    shopIds.push(shopId);
  }
  const staffId = await account('staff1', '客服-小林', ['merchant'], -19 * DAY);
  if (!(await identity.shopPermissions(staffId, shopIds[0]!))) {
    clock.set(-19 * DAY + 5 * MINUTE);
    await identity.setShopStaff(shopIds[0]!, 'staff1', ['orders.read', 'orders.ship']);
  }

  // Goods: categories, products with SKUs, quality review.
  const categoryIds = new Map<string, string>();
  for (const c of DEMO_CATEGORIES) categoryIds.set(c.slug, (await catalog.ensureCategory(db, c)).id);
  const productPlans = planProducts();
  const productIds: string[] = [];
  const skuIds: string[][] = [];
  const shopProducts = await Promise.all(shopIds.map((id) => catalog.listShopProducts(id)));
  for (const p of productPlans) {
    const at = -19 * DAY + p.index * 20 * MINUTE;
    let prod = shopProducts[p.shop]!.find((x) => x.title === p.title);
    if (!prod) {
      clock.set(at);
      prod = await catalog.createProduct(shopIds[p.shop]!, {
        categoryId: categoryIds.get(p.category)!,
        title: p.title,
        description: p.description,
        commissionBps: p.commissionBps,
        skus: p.skus,
      });
    }
    if (prod.reviewStatus === 'pending' && p.review !== 'pending') {
      clock.set(at + DAY);
      await catalog.reviewProduct(
        operatorId,
        prod.id,
        p.review,
        p.review === 'reject' ? REJECT_REASON : undefined,
      );
    }
    productIds.push(prod.id);
    skuIds.push(p.skus.map((s) => prod.skus.find((x) => x.name === s.name)!.id));
  }
  log.info({ shops: shopIds.length, products: productIds.length }, 'demo seed: shops and products ready');

  // Creators with product-sharing permission (商品分享权限).
  const creatorIds: string[] = [];
  for (const [i, c] of planCreators().entries()) {
    const at = -20 * DAY + i * 3 * HOUR;
    const id = await account(c.login, c.nickname, ['buyer', 'creator'], at);
    if ((await creators.getProfile(id)).sharingPermission !== 'granted') {
      clock.set(at + 2 * DAY);
      await creators.setSharingPermission(operatorId, id, true, '已缴纳500元保证金，实名认证和资质审核通过');
    }
    creatorIds.push(id);
  }

  // Buyers. Their names, phones and addresses never reach a log line or a plain column.
  const buyers = demoBuyers(opts.buyers ?? 60);
  const buyerIds: string[] = [];
  for (const [i, b] of buyers.entries()) {
    buyerIds.push(
      await account(b.login, b.displayName, ['buyer'], -20 * DAY + Math.floor((i * 5 * DAY) / buyers.length)),
    );
  }
  log.info({ creators: creatorIds.length, buyers: buyerIds.length }, 'demo seed: accounts ready');

  // Venues and orders, replayed in time order.
  const timing = planTiming(now);
  const roomProducts = ROOMS.map((r, i) => pickProducts(productPlans, r.picks, i));
  const videoProducts = VIDEOS.map((v) => pickProducts(productPlans, `${v.category}×1`, v.creator)[0]!);
  const orderPlans = planOrders(
    now,
    opts.orders ?? 300,
    buyers,
    productPlans,
    roomProducts,
    videoProducts,
    timing,
  );

  const couponIds: (string | null)[] = COUPONS.map(() => null);
  /** Issues a coupon unless a coupon of that title exists (the titles are the demo's keys). */
  async function issueCoupon(c: number): Promise<void> {
    const plan = COUPONS[c]!;
    const scope =
      plan.shop === null
        ? { issuer: 'platform' as const }
        : { issuer: 'shop' as const, shopId: shopIds[plan.shop]! };
    const existing = (await promotions.listCoupons(scope, { limit: 100 })).items.find(
      (x) => x.title === plan.title,
    );
    if (existing) {
      couponIds[c] = existing.id;
      return;
    }
    const input = {
      title: plan.title,
      amountOffFen: plan.amountOffFen,
      minSpendFen: plan.minSpendFen,
      validFrom: clock.now(),
      validUntil: new Date(now + 7 * DAY),
      totalQuantity: plan.totalQuantity,
      liveRoomId: plan.room === undefined ? undefined : roomId(plan.room),
    };
    const merchantOf = async (shop: number) => (await identity.findByLogin(`merchant${shop + 1}`))!.id;
    couponIds[c] = (
      plan.shop === null
        ? await promotions.createPlatformCoupon(operatorId, input)
        : await promotions.createShopCoupon(shopIds[plan.shop]!, await merchantOf(plan.shop), input)
    ).id;
  }
  /** The buyer's unused claims of the coupons an order qualifies for, claiming them first. */
  async function couponsFor(o: OrderPlan, buyerId: string): Promise<string[]> {
    if (!usesCoupons(o.n)) return [];
    const product = productPlans[o.product]!;
    const goodsFen = o.items.reduce((s, it) => s + product.skus[it.sku]!.priceFen * it.quantity, 0);
    const ids: string[] = [];
    for (const [c, plan] of COUPONS.entries()) {
      const couponId = couponIds[c];
      if (!couponId || goodsFen < plan.minSpendFen) continue;
      if (plan.shop !== null && plan.shop !== product.shop) continue;
      if (plan.room !== undefined && (o.venue.type !== 'live_room' || o.venue.room !== plan.room)) continue;
      try {
        const held = await promotions.claim(buyerId, couponId);
        if (held.body.status === 'unused') ids.push(held.body.id);
      } catch (err) {
        // All claimed, or stopped by hand between two runs: the order goes without it.
        if (!isCode(err, 'COUPON_SOLD_OUT', 'COUPON_NOT_CLAIMABLE')) throw err;
      }
    }
    return ids;
  }

  const roomIds: (string | null)[] = ROOMS.map(() => null);
  const roomId = (i: number) => roomIds[i]!;
  const videoIds: (string | null)[] = VIDEOS.map(() => null);

  async function ensureRoom(i: number): Promise<void> {
    const plan = ROOMS[i]!;
    const t = timing.rooms[i]!;
    let room = await venues.listOwnRooms(creatorIds[i]!).then((rs) => rs.find((r) => r.title === plan.title));
    if (!room) {
      clock.set(t.createdAt);
      room = await venues.createLiveRoom(creatorIds[i]!, {
        title: plan.title,
        description: plan.description,
        scheduledAt: new Date(now + t.scheduledAt),
      });
    }
    roomIds[i] = room.id;
  }
  async function fillCart(i: number): Promise<void> {
    const view = await venues.getRoomForViewer(roomId(i));
    if (view.status === 'ended') return;
    const have = new Set(view.cart.map((c) => c.productId));
    for (const p of roomProducts[i]!) {
      if (!have.has(productIds[p]!)) await venues.addCartItem(creatorIds[i]!, roomId(i), productIds[p]!);
    }
  }
  async function goLive(i: number): Promise<void> {
    const room = await venues.getOwnRoom(creatorIds[i]!, roomId(i));
    if (room.status === 'scheduled') await venues.transitionLiveRoom(creatorIds[i]!, roomId(i), 'live');
  }
  async function pin(i: number): Promise<void> {
    const view = await venues.getRoomForViewer(roomId(i));
    if (view.status !== 'live' || view.pinned) return;
    const item = view.cart.find((c) => c.productId === productIds[roomProducts[i]![0]!]);
    if (item) await venues.pinCartItem(creatorIds[i]!, roomId(i), item.itemId);
  }
  async function end(i: number): Promise<void> {
    const room = await venues.getOwnRoom(creatorIds[i]!, roomId(i));
    if (room.status === 'live') await venues.transitionLiveRoom(creatorIds[i]!, roomId(i), 'ended');
  }
  async function publishVideo(v: number): Promise<void> {
    const plan = VIDEOS[v]!;
    const creatorId = creatorIds[plan.creator]!;
    // No service lists a creator's videos yet: look the video up by title with a plain read.
    const [existing] = await db
      .select({ id: videosTable.id })
      .from(videosTable)
      .where(and(eq(videosTable.creatorAccountId, creatorId), eq(videosTable.title, plan.title)));
    videoIds[v] =
      existing?.id ??
      (
        await venues.createVideo(creatorId, {
          title: plan.title,
          description: '喜欢的宝子点左下角小黄车，视频同款直接下单。',
          anchor: { productId: productIds[videoProducts[v]!]!, title: plan.anchorTitle },
        })
      ).id;
  }

  // Orders placed by an earlier (interrupted) run, found by their idempotency keys.
  const state = new Map<number, { id: string; status: OrderStatus } | 'skipped'>();
  const prior = await db
    .select({ key: idempotencyKeys.key, scope: idempotencyKeys.scope, response: idempotencyKeys.response })
    .from(idempotencyKeys)
    .where(like(idempotencyKeys.key, 'demo-order-%'));
  const priorIds = new Map<number, string>();
  for (const p of prior) {
    const id = (p.response as { id?: string } | null)?.id;
    if (p.scope.endsWith(':create-order') && id) priorIds.set(Number(p.key.slice('demo-order-'.length)), id);
  }
  if (priorIds.size > 0) {
    const rows = await db
      .select({ id: ordersTable.id, status: ordersTable.status })
      .from(ordersTable)
      .where(inArray(ordersTable.id, [...priorIds.values()]));
    const statusOf = new Map(rows.map((r) => [r.id, r.status]));
    for (const [n, id] of priorIds) {
      const status = statusOf.get(id);
      if (status) state.set(n, { id, status });
    }
  }

  let placed = 0;
  async function refresh(o: OrderPlan): Promise<void> {
    const s = state.get(o.n);
    if (!s || s === 'skipped') return;
    s.status = (await orders.getBuyerOrder(buyerIds[o.buyer]!, s.id)).status;
  }
  /** Runs one transition if the order is in one of `from`; a move made meanwhile (by a sweep) is fine. */
  async function step(
    o: OrderPlan,
    from: OrderStatus[],
    run: (id: string) => Promise<OrderStatus>,
  ): Promise<void> {
    const s = state.get(o.n);
    if (!s || s === 'skipped' || !from.includes(s.status)) return;
    try {
      s.status = await run(s.id);
    } catch (err) {
      if (!isCode(err, 'INVALID_STATE')) throw err;
      await refresh(o);
    }
  }
  async function place(o: OrderPlan): Promise<void> {
    if (state.has(o.n)) return;
    const buyerId = buyerIds[o.buyer]!;
    const venue: CheckoutInput['venue'] =
      o.venue.type === 'search'
        ? { type: 'search' }
        : o.venue.type === 'video'
          ? { type: 'video', id: videoIds[o.venue.video]! }
          : { type: 'live_room', id: roomId(o.venue.room) };
    const input: CheckoutInput = {
      venue,
      items: o.items.map((it) => ({ skuId: skuIds[o.product]![it.sku]!, quantity: it.quantity })),
      recipient: buyers[o.buyer]!.recipients[o.recipient]!,
    };
    try {
      const couponClaimIds = await couponsFor(o, buyerId);
      if (couponClaimIds.length > 0) input.couponClaimIds = couponClaimIds;
      const res = await orders.createOrder(buyerId, input, `demo-order-${o.n}`);
      state.set(o.n, { id: res.body.id, status: res.body.status });
      if (++placed % 100 === 0) log.info({ placed }, 'demo seed: orders placed');
    } catch (err) {
      // E.g. a room ended or stock sold out by hand between two runs: one demo order fewer.
      const skippable = ['VENUE_NOT_SELLING', 'INSUFFICIENT_STOCK', 'PRODUCT_NOT_SELLABLE', 'SKU_NOT_FOUND'];
      if (!isCode(err, ...skippable, 'COUPON_ALREADY_USED', 'COUPON_EXPIRED', 'COUPON_NOT_APPLICABLE'))
        throw err;
      log.warn({ order: o.n, code: (err as AppError).code }, 'demo seed: order skipped');
      state.set(o.n, 'skipped');
    }
  }
  async function pay(o: OrderPlan): Promise<void> {
    await step(o, ['pending_payment'], async (id) => {
      const buyerId = buyerIds[o.buyer]!;
      const res = await payments.pay(buyerId, id, `demo-pay-${o.n}`);
      if (res.body.orderStatus === 'paid') return 'paid';
      await app.paymentProvider.settle(); // async simulated mode: the webhook pays the order
      return (await orders.getBuyerOrder(buyerId, id)).status;
    });
  }

  interface Event {
    at: number;
    seq: number;
    run: () => Promise<void>;
  }
  const events: Event[] = [];
  const at = (t: number | undefined, run: () => Promise<void>) => {
    if (t !== undefined && t <= 0) events.push({ at: t, seq: events.length, run });
  };
  const scheduled = [...ROOMS.keys()].filter((i) => ROOMS[i]!.kind === 'scheduled');
  for (const i of ROOMS.keys()) {
    if (scheduled.includes(i)) continue;
    const t = timing.rooms[i]!;
    at(t.createdAt, () => ensureRoom(i));
    at(t.cartAt, () => fillCart(i));
    at(t.liveAt, () => goLive(i));
    at((t.liveAt ?? 0) + 2 * MINUTE, () => pin(i));
    at(t.endAt, () => end(i));
  }
  for (const v of VIDEOS.keys()) at(timing.videos[v], () => publishVideo(v));
  for (const [c, plan] of COUPONS.entries()) {
    // The room's coupon drops a minute into the broadcast; the others run from before the first order.
    const room = plan.room === undefined ? undefined : timing.rooms[plan.room]!;
    at(room ? room.liveAt! + MINUTE : -15 * DAY, () => issueCoupon(c));
  }
  // The platform's clock-driven sweeps, as if the server had been running all along.
  for (let d = 14; d >= 0; d--)
    at(beijingAt(now, d, 3, 0), () => orders.sweepAutoConfirm().then(() => undefined));
  for (const o of orderPlans) {
    const buyerId = buyerIds[o.buyer]!;
    const shopId = shopIds[productPlans[o.product]!.shop]!;
    at(o.at, () => place(o));
    at(o.payAt, () => pay(o));
    at(o.cancelAt, () =>
      step(o, ['pending_payment'], async (id) => (await orders.cancelByBuyer(buyerId, id)).status),
    );
    at(o.timeoutAt, async () => {
      const s = state.get(o.n);
      if (!s || s === 'skipped' || s.status !== 'pending_payment') return;
      await orders.sweepUnpaid();
      await refresh(o);
    });
    at(o.shipAt, () =>
      step(
        o,
        ['paid'],
        async (id) =>
          (await orders.ship(shopId, id, { carrier: o.carrier, trackingNo: o.trackingNo })).order.status,
      ),
    );
    at(o.deliverAt, () =>
      step(o, ['shipped'], async (id) => {
        // The carrier's delivery event, as the logistics webhook would apply it.
        if ((await orders.markDelivered(o.carrier, o.trackingNo))?.changed) return 'delivered';
        return (await orders.getBuyerOrder(buyerId, id)).status;
      }),
    );
    at(o.confirmAt, () =>
      step(o, ['shipped', 'delivered'], async (id) => (await orders.confirmReceipt(buyerId, id)).status),
    );
  }
  events.sort((a, b) => a.at - b.at || a.seq - b.seq);
  for (const e of events) {
    clock.set(e.at);
    await e.run();
  }

  // Last: two creators schedule their next broadcasts. This is the marker of a finished seed.
  clock.set(0);
  for (const i of scheduled) {
    await ensureRoom(i);
    await fillCart(i);
  }
  await app.paymentProvider.settle();
  await app.platform.outbox.drain();

  const byStatus: Record<string, number> = {};
  for (const s of state.values()) if (s !== 'skipped') byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
  log.info(
    { orders: byStatus, rooms: roomIds.length, videos: videoIds.length },
    'demo seed: venues and orders ready',
  );
  return roomId(0);
}
