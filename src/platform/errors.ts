/**
 * Errors are values with stable codes. The HTTP status for each code is decided here,
 * in one place; the response body is always `{ code, message, details }`.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  IDEMPOTENCY_KEY_REQUIRED: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  WEBHOOK_SIGNATURE_INVALID: 401,
  FORBIDDEN: 403,
  SHARING_PERMISSION_REQUIRED: 403,
  NOT_FOUND: 404,
  SHOP_NOT_FOUND: 404,
  PRODUCT_NOT_FOUND: 404,
  SKU_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  LIVE_ROOM_NOT_FOUND: 404,
  VIDEO_NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  COUPON_NOT_FOUND: 404,
  RAIN_NOT_FOUND: 404,
  AFTERSALES_CASE_NOT_FOUND: 404,
  LOGIN_TAKEN: 409,
  INVALID_STATE: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  DECRYPT_QUOTA_EXCEEDED: 429,
  DECRYPT_NOT_ALLOWED: 409,
  RECIPIENT_SHREDDED: 410,
  EXTERNAL_LINK_FORBIDDEN: 422,
  INSUFFICIENT_STOCK: 409,
  PRODUCT_NOT_SELLABLE: 409,
  SHOP_NOT_ACTIVE: 409,
  VENUE_NOT_SELLING: 409,
  PAYMENT_FAILED: 402,
  MIXED_SHOP_ORDER: 422,
  COUPON_SOLD_OUT: 409,
  COUPON_NOT_CLAIMABLE: 409,
  COUPON_ALREADY_USED: 409,
  COUPON_EXPIRED: 409,
  COUPON_NOT_APPLICABLE: 422,
  RAIN_NOT_OPEN: 409,
  RAIN_EMPTY: 409,
  RAIN_ALREADY_GRABBED: 409,
  REFUND_EXCEEDS_PAID: 409,
  REFUND_FAILED: 502,
  AFTERSALES_ALREADY_OPEN: 409,
  AFTERSALES_WINDOW_CLOSED: 409,
  ORDER_SHIPPING_HELD: 409,
  LEDGER_NOT_READY: 409,
  INSUFFICIENT_BALANCE: 409,
  PAYOUT_BELOW_MINIMUM: 422,
  PAYOUT_NOT_FOUND: 404,
  PAYOUT_ACCOUNT_NOT_FOUND: 404,
  DEPOSIT_NOT_FOUND: 404,
  DEPOSIT_FORFEITED: 409,
  PENALTY_EXCEEDS_DEPOSIT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  FLASH_SALE_NOT_FOUND: 404,
  FLASH_SALE_RESERVATION_NOT_FOUND: 404,
  FLASH_SALE_NOT_OPEN: 409,
  FLASH_SALE_SOLD_OUT: 409,
  FLASH_SALE_LIMIT_REACHED: 409,
  FLASH_SALE_RESERVATION_EXPIRED: 409,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (code: ErrorCode, what: string, id: string) =>
  new AppError(code, `${what} ${id} was not found`, { id });

export const invalidState = (message: string, details?: Record<string, unknown>) =>
  new AppError('INVALID_STATE', message, details);
