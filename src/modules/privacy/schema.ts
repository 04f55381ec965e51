import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

/**
 * Envelope encryption: one data key per shop and time bucket (a calendar month), stored
 * only wrapped by the master key. Destroying a bucket's key (shredding) makes every
 * recipient it sealed unrecoverable; rotating the master key re-wraps these rows only.
 */
export const privacyDataKeys = pgTable(
  'privacy_data_keys',
  {
    id: text('id').primaryKey(),
    shopId: text('shop_id').notNull(),
    /** `YYYY-MM` of the recipients it seals (platform time zone). */
    bucket: text('bucket').notNull(),
    wrappedKey: text('wrapped_key'),
    masterKeyVersion: text('master_key_version').notNull(),
    createdAt: ts('created_at').notNull(),
    shreddedAt: ts('shredded_at'),
  },
  (t) => [
    uniqueIndex('privacy_data_keys_active_uq').on(t.shopId, t.bucket).where(sql`${t.shreddedAt} is null`),
    index('privacy_data_keys_version_idx').on(t.masterKeyVersion),
  ],
);

/**
 * The only place buyer names, phones and addresses exist: as AES-256-GCM ciphertext
 * (base64url, additional data = recipient id + field), with masks computed at write time
 * and keyed blind indexes for exact-match search.
 */
export const recipients = pgTable(
  'recipients',
  {
    id: text('id').primaryKey(),
    shopId: text('shop_id').notNull(),
    dataKeyId: text('data_key_id').notNull(),
    nameCt: text('name_ct').notNull(),
    phoneCt: text('phone_ct').notNull(),
    addressCt: text('address_ct').notNull(),
    nameMask: text('name_mask').notNull(),
    phoneMask: text('phone_mask').notNull(),
    addressMask: text('address_mask').notNull(),
    phoneIndex: text('phone_index').notNull(),
    nameIndex: text('name_index').notNull(),
    createdAt: ts('created_at').notNull(),
    /** Set when the buyer's data was erased (account deletion): ciphertext and indexes are blanked. */
    erasedAt: ts('erased_at'),
  },
  (t) => [
    index('recipients_shop_phone_idx').on(t.shopId, t.phoneIndex),
    index('recipients_shop_name_idx').on(t.shopId, t.nameIndex),
  ],
);

/**
 * The shop's decrypt quota for one day (platform time zone): the base is fixed at the first
 * decrypt of the day from the last 7 days' paid orders; a temporary raise lapses at 23:59:59.
 */
export const decryptQuotas = pgTable(
  'decrypt_quotas',
  {
    shopId: text('shop_id').notNull(),
    /** `YYYY-MM-DD` in the platform time zone. */
    day: text('day').notNull(),
    base: integer('base').notNull(),
    raised: integer('raised').notNull().default(0),
    raiseReason: text('raise_reason'),
    used: integer('used').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.shopId, t.day] })],
);

/** A shop's explicit grant letting a service-provider account decrypt its orders. */
export const privacyGrants = pgTable(
  'privacy_grants',
  {
    shopId: text('shop_id').notNull(),
    accountId: text('account_id').notNull(),
    grantedBy: text('granted_by').notNull(),
    reason: text('reason').notNull(),
    grantedAt: ts('granted_at').notNull(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [primaryKey({ columns: [t.shopId, t.accountId] })],
);

/**
 * A virtual number (隐私号) binding: `main-ext` connects a caller to the buyer of one order
 * until the after-sales window closes. Released bindings free their extension.
 */
export const virtualNumberBindings = pgTable(
  'virtual_number_bindings',
  {
    id: text('id').primaryKey(),
    mainNumber: text('main_number').notNull(),
    extension: text('extension').notNull(),
    orderId: text('order_id').notNull(),
    shopId: text('shop_id').notNull(),
    recipientId: text('recipient_id').notNull(),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    releasedAt: ts('released_at'),
  },
  (t) => [
    uniqueIndex('virtual_number_active_uq').on(t.mainNumber, t.extension).where(sql`${t.releasedAt} is null`),
    uniqueIndex('virtual_number_order_active_uq').on(t.orderId).where(sql`${t.releasedAt} is null`),
    index('virtual_number_expiry_idx').on(t.expiresAt).where(sql`${t.releasedAt} is null`),
    index('virtual_number_lookup_idx').on(t.mainNumber, t.extension),
  ],
);

/** Registered carrier accounts that may redeem privacy waybills for their own carrier. */
export const carrierAccounts = pgTable('carrier_accounts', {
  accountId: text('account_id').primaryKey(),
  carrier: text('carrier').notNull(),
  createdAt: ts('created_at').notNull(),
});

/**
 * A privacy waybill (隐私面单): the label shows masks (and the virtual number); the print
 * payload is the recipient encrypted for the carrier, with the platform's signature.
 */
export const waybills = pgTable(
  'waybills',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id').notNull(),
    shopId: text('shop_id').notNull(),
    carrier: text('carrier').notNull(),
    trackingNo: text('tracking_no').notNull(),
    recipientId: text('recipient_id').notNull(),
    /** What is printed in the clear: masks, virtual number, tracking number. */
    label: jsonb('label').notNull(),
    printPayload: text('print_payload').notNull(),
    signature: text('signature').notNull(),
    createdAt: ts('created_at').notNull(),
    redeemedCount: integer('redeemed_count').notNull().default(0),
  },
  (t) => [
    uniqueIndex('waybills_tracking_uq').on(t.carrier, t.trackingNo),
    index('waybills_order_idx').on(t.orderId),
    index('waybills_recipient_idx').on(t.recipientId),
  ],
);
