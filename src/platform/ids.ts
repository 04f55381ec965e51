import { randomBytesPooled } from './random.js';

/** Prefixes tell what an id names in logs and URLs. */
export const ID_PREFIX = {
  account: 'acc',
  session: 'ses',
  shop: 'shp',
  category: 'cat',
  product: 'prd',
  sku: 'sku',
  liveRoom: 'lr',
  cartItem: 'lri',
  video: 'vid',
  order: 'ord',
  orderLine: 'oln',
  payment: 'pay',
  refund: 'rfd',
  afterSalesCase: 'as',
  recipient: 'rcp',
  dataKey: 'dk',
  event: 'evt',
  securityEvent: 'sev',
  virtualNumber: 'vn',
  waybill: 'wb',
  coupon: 'cpn',
  couponClaim: 'cpc',
  redEnvelopeRain: 'rain',
  journal: 'jnl',
  feeRate: 'fee',
  depositPayment: 'dpp',
  depositDeduction: 'ddn',
  payoutAccount: 'pac',
  payout: 'po',
  flashSale: 'fs',
  flashReservation: 'fsr',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

// Crockford base32, lower case: sortable as text in the same order as the numbers.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
let lastMs = -1;
let lastRandom: Uint8Array = new Uint8Array(10);

/** 80 random bits; within one millisecond the previous value + 1, so ids stay monotonic. */
function nextRandom(ms: number): Uint8Array {
  if (ms === lastMs) {
    for (let i = 9; i >= 0; i--) {
      lastRandom[i] = (lastRandom[i]! + 1) & 0xff;
      if (lastRandom[i] !== 0) break;
    }
    return lastRandom;
  }
  lastRandom = randomBytesPooled(10);
  lastMs = ms;
  return lastRandom;
}

/**
 * ULID (48-bit milliseconds + 80 random bits in Crockford base32) with a readable prefix,
 * e.g. `ord_01jd…`. Hand-written rather than the `ulid` package, which asks the OS for
 * randomness once per character: ids are minted on every checkout.
 */
export function newId(kind: IdKind): string {
  const ms = Date.now();
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  const r = nextRandom(ms);
  // 80 bits → 16 base32 characters, 5 bits at a time.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | r[i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return `${ID_PREFIX[kind]}_${out}`;
}
