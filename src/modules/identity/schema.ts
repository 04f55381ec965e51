import { index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

export const accounts = pgTable('accounts', {
  id: text('id').primaryKey(),
  login: text('login').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  displayName: text('display_name').notNull(),
  /** buyer, merchant, creator, service_provider, operator */
  roles: text('roles').array().notNull(),
  createdAt: ts('created_at').notNull(),
});

/** Only a hash of the bearer token is stored, so a database leak yields no usable session. */
export const sessions = pgTable(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    createdAt: ts('created_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [index('sessions_account_idx').on(t.accountId)],
);

export const shopMembers = pgTable(
  'shop_members',
  {
    shopId: text('shop_id').notNull(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    /** owner or staff */
    role: text('role').notNull(),
    permissions: text('permissions').array().notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.shopId, t.accountId] }),
    index('shop_members_account_idx').on(t.accountId),
  ],
);
