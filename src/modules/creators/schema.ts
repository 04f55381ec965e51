import { pgTable, text } from 'drizzle-orm/pg-core';
import { ts } from '../../platform/columns.js';

export const creatorProfiles = pgTable('creator_profiles', {
  accountId: text('account_id').primaryKey(),
  nickname: text('nickname').notNull(),
  /**
   * Product-sharing permission (商品分享权限): none → granted ⇄ revoked (operator); with a
   * deposit: granted ⇄ suspended (deposit short), → closed (deposit withdrawn), → banned (for good).
   */
  sharingPermission: text('sharing_permission').notNull(),
  sharingChangedAt: ts('sharing_changed_at'),
  sharingChangedBy: text('sharing_changed_by'),
  sharingReason: text('sharing_reason'),
  createdAt: ts('created_at').notNull(),
});
