/**
 * A small client for the Livecart HTTP API (same origin). Only the session token and the
 * account's public fields are kept in localStorage — never buyer recipient data.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Session {
  token: string;
  login: string;
  displayName: string;
  roles: string[];
}

const SESSION_KEY = 'livecart.session';
const listeners = new Set<() => void>();

export function getSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token !== 'string') return null;
    return { token: s.token, login: s.login ?? '', displayName: s.displayName ?? '', roles: s.roles ?? [] };
  } catch {
    return null;
  }
}

export function setSession(session: Session | null): void {
  try {
    if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else localStorage.removeItem(SESSION_KEY);
  } catch {
    // Storage disabled: the session lives until the page reloads.
  }
  for (const l of listeners) l();
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** A fresh idempotency key; falls back to getRandomValues where randomUUID needs a secure context. */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  opts: { body?: unknown; idempotencyKey?: string; auth?: boolean; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  const session = opts.auth === false ? null : getSession();
  if (session) headers.authorization = `Bearer ${session.token}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', '');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw failure(res, data, session);
  return data as T;
}

function failure(res: Response, data: unknown, session: Session | null): ApiError {
  const e = (data ?? {}) as { code?: string; message?: string; details?: unknown };
  // A dead token: forget it so the page offers the login form again.
  if (res.status === 401 && session) setSession(null);
  return new ApiError(
    res.status,
    e.code ?? `HTTP_${res.status}`,
    e.message ?? `HTTP ${res.status}`,
    e.details,
  );
}

/**
 * Downloads a file the API serves behind the bearer token (a plain link could not carry it):
 * fetched with the session, then saved from a blob under `filename`.
 */
export async function downloadWithToken(url: string, filename: string): Promise<void> {
  const session = getSession();
  const headers: Record<string, string> = {};
  if (session) headers.authorization = `Bearer ${session.token}`;
  let res: Response;
  try {
    res = await fetch(url, { headers });
  } catch {
    throw new ApiError(0, 'NETWORK', '');
  }
  if (!res.ok) {
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    throw failure(res, data, session);
  }
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoked once the browser has taken the blob over.
  setTimeout(() => URL.revokeObjectURL(href), 30_000);
}

export async function login(loginName: string, password: string): Promise<Session> {
  const r = await api<{ token: string; account: { login: string; displayName: string; roles: string[] } }>(
    'POST',
    '/api/auth/login',
    { body: { login: loginName, password }, auth: false },
  );
  const session = {
    token: r.token,
    login: r.account.login,
    displayName: r.account.displayName,
    roles: r.account.roles,
  };
  setSession(session);
  return session;
}

export async function logout(): Promise<void> {
  try {
    if (getSession()) await api('POST', '/api/auth/logout');
  } catch {
    // The session is forgotten locally either way.
  }
  setSession(null);
}

/** Integer fen → "¥99.00". */
export function formatFen(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(fen));
  const yuan = Math.floor(abs / 100).toLocaleString('en-US');
  return `${sign}¥${yuan}.${String(abs % 100).padStart(2, '0')}`;
}

/** Integer fen → "+¥99.00" / "-¥99.00" (a movement of money, sign always shown). */
export function formatSignedFen(fen: number): string {
  return fen > 0 ? `+${formatFen(fen)}` : formatFen(fen);
}

/** The current local month as `YYYY-MM` (the value of an `<input type="month">`). */
export function currentMonth(now: Date = new Date()): string {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
}

/** A local calendar month `YYYY-MM` → the instants [from, to) that bound it, or null if malformed. */
export function monthRange(month: string): { from: string; to: string } | null {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return null;
  const year = Number(m[1]);
  const index = Number(m[2]) - 1;
  if (index < 0 || index > 11) return null;
  return {
    from: new Date(year, index, 1).toISOString(),
    to: new Date(year, index + 1, 1).toISOString(),
  };
}

export function formatTime(iso: string | null | undefined, lang: 'zh' | 'en'): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });
}

// Response shapes the pages use (a subset of the OpenAPI document at /openapi.json).

export interface Sku {
  id: string;
  productId: string;
  name: string;
  priceFen: number;
  stock: number;
}

export interface CartItem {
  itemId: string;
  position: number;
  productId: string;
  shopId: string;
  shopName: string;
  title: string;
  description: string;
  imageUrl: string | null;
  skus: Sku[];
}

export interface LiveRoom {
  id: string;
  title: string;
  description: string;
  status: 'scheduled' | 'live' | 'ended';
  startedAt: string | null;
  paidOrders: number;
  creator: { accountId: string; nickname: string };
  pinned: CartItem | null;
  cart: CartItem[];
}

export interface LiveRoomSummary {
  id: string;
  title: string;
  creatorAccountId: string;
  startedAt: string | null;
}

export interface Order {
  id: string;
  shopId: string;
  status: string;
  totalFen: number;
  attribution: { venueType: string; venueId: string | null; creatorAccountId: string | null };
  recipient: { name: string; phone: string; address: string };
  lines: Array<{
    id: string;
    title: string;
    skuName: string;
    unitPriceFen: number;
    quantity: number;
    lineTotalFen: number;
  }>;
  createdAt: string;
  paidAt: string | null;
  shipment: { carrier: string; trackingNo: string } | null;
}

export interface PaymentResult {
  paymentId: string;
  orderId: string;
  amountFen: number;
  status: string;
  orderStatus: string;
}

export interface Me {
  id: string;
  login: string;
  displayName: string;
  roles: string[];
  shops: Array<{ shopId: string; role: string; name: string; status: string }>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// Finance (the ledger): every amount is integer fen.

export interface Balances {
  pendingFen: number;
  availableFen: number;
  deposits: Array<{ account: string; balanceFen: number }>;
}

export interface StatementEntry {
  id: number;
  at: string;
  /** The holder's view: positive is money in. */
  amount: number;
  orderId: string | null;
  kind: string;
  memo: string;
  journalId: string;
}

export interface StatementAccount {
  account: string;
  opening: number;
  in: number;
  out: number;
  closing: number;
  entries: StatementEntry[];
}

export interface Statement {
  from: string;
  to: string;
  accounts: StatementAccount[];
}

export const COMMISSION_STATUSES = ['pending', 'settled', 'withdrawn', 'refunded', 'frozen'] as const;

export interface Commission {
  orderId: string;
  shopId: string;
  paidFen: number;
  commissionFen: number;
  commissionReversedFen: number;
  netCommissionFen: number;
  status: string;
  paidAt: string;
  settleAfter: string | null;
  settledAt: string | null;
}

export interface CommissionPage extends Page<Commission> {
  frozen: { reason: string; since: string } | null;
}

/**
 * A yuan amount typed by a person ("12", "12.3", "12.34", "1,234.50") → integer fen, or null
 * if it is not a positive amount with at most two decimals. String arithmetic only: no float.
 */
export function parseYuan(input: string): number | null {
  const m = /^(\d{1,9})(?:\.(\d{0,2}))?$/.exec(
    input
      .trim()
      .replace(/[,，\s]/g, '')
      .replace(/^¥/, ''),
  );
  if (!m) return null;
  const fen = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return fen > 0 ? fen : null;
}

/** Integer fen → "12.34" (for an input's value; no currency sign, no grouping). */
export function fenToYuanInput(fen: number): string {
  const abs = Math.abs(Math.trunc(fen));
  return `${fen < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

export interface PayoutAccount {
  id: string;
  bankName: string;
  holderName: string;
  accountLast4: string;
  accountMask: string;
  createdAt: string;
}

export interface Payout {
  id: string;
  purpose: 'withdrawal' | 'deposit_refund';
  amountFen: number;
  status: 'processing' | 'succeeded' | 'failed';
  failureReason: string | null;
  payoutAccount: { id: string; bankName?: string; accountLast4?: string };
  createdAt: string;
  finishedAt: string | null;
}

export interface CreatorDeposit {
  account: string;
  status: 'open' | 'reviewing' | 'paying_out' | 'forfeited';
  balanceFen: number;
  requiredFen: number;
  shortfallFen: number;
  covered: boolean;
  requirement: { month: string; lastMonthGmvFen: number; baseFen: number; variableFen: number } | null;
  withdrawal: {
    requestedAt: string | null;
    reviewEndsAt: string | null;
    payoutAccountId: string | null;
    payoutId: string | null;
  } | null;
  frozen: { reason: string; since: string | null } | null;
  deductions: Array<{
    id: string;
    kind: 'penalty' | 'forfeiture';
    amountFen: number;
    reason: string;
    note: string | null;
    createdAt: string;
  }>;
  sharingPermission: string;
}

export interface DepositLockResult {
  payment: {
    id: string;
    amountFen: number;
    status: 'pending' | 'succeeded' | 'failed';
    failureReason: string | null;
  };
  deposit: CreatorDeposit;
}

// The live room's promotions (flash sales, coupon drops, red-envelope rains).

export interface FlashSale {
  id: string;
  roomId: string;
  cartItemId: string;
  productId: string;
  skuId: string;
  priceFen: number;
  listPriceFen: number;
  quantity: number;
  perBuyerLimit: number;
  startsAt: string;
  endsAt: string;
  status: 'scheduled' | 'open' | 'ended';
  remaining: number;
  soldOut: boolean;
}

export interface FlashReservation {
  id: string;
  slotId: string;
  skuId: string;
  quantity: number;
  unitPriceFen: number;
  totalFen: number;
  status: string;
  orderId: string | null;
  createdAt: string;
  expiresAt: string;
}

export interface Coupon {
  id: string;
  issuer: 'shop' | 'platform';
  shopId: string | null;
  title: string;
  amountOffFen: number;
  minSpendFen: number;
  remaining: number;
  liveRoomId: string | null;
  status: string;
}

export interface CouponClaim {
  id: string;
  couponId: string;
  status: string;
}

export interface Rain {
  id: string;
  roomId: string;
  budgetFen: number;
  count: number;
  startsAt: string;
  endsAt: string;
  status: 'scheduled' | 'open' | 'ended';
  remaining: number;
}

export interface GrabbedEnvelope {
  rainId: string;
  amountFen: number;
  couponId: string;
  couponClaimId: string;
  minSpendFen: number;
  validUntil: string;
}
