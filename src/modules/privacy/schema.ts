import { sql } from 'drizzle-orm';
import { index, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Envelope encryption: one data key per shop, stored only wrapped by the master key.
 * Destroying a data key (shredding) makes every recipient it sealed unrecoverable.
 */
export const privacyDataKeys = pgTable(
  'privacy_data_keys',
  {
    id: text('id').primaryKey(),
    shopId: text('shop_id').notNull(),
    wrappedKey: text('wrapped_key'),
    masterKeyVersion: text('master_key_version').notNull(),
    createdAt: ts('created_at').notNull(),
    shreddedAt: ts('shredded_at'),
  },
  (t) => [uniqueIndex('privacy_data_keys_active_uq').on(t.shopId).where(sql`${t.shreddedAt} is null`)],
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
  },
  (t) => [
    index('recipients_shop_phone_idx').on(t.shopId, t.phoneIndex),
    index('recipients_shop_name_idx').on(t.shopId, t.nameIndex),
  ],
);
