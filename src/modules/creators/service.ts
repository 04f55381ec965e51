import { eq } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import type { Executor } from '../../platform/db.js';
import { AppError, notFound } from '../../platform/errors.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import { accounts } from '../identity/schema.js';
import { creatorProfiles } from './schema.js';

export class CreatorService {
  constructor(private readonly p: Platform) {}

  async getProfile(accountId: string, ex: Executor = this.p.db) {
    const [profile] = await ex.select().from(creatorProfiles).where(eq(creatorProfiles.accountId, accountId));
    if (profile) return profile;
    const [acc] = await ex.select().from(accounts).where(eq(accounts.id, accountId));
    if (!acc?.roles.includes('creator')) throw notFound('ACCOUNT_NOT_FOUND', 'Creator', accountId);
    await ex
      .insert(creatorProfiles)
      .values({
        accountId,
        nickname: acc.displayName,
        sharingPermission: 'none',
        createdAt: this.p.clock.now(),
      })
      .onConflictDoNothing();
    const [created] = await ex.select().from(creatorProfiles).where(eq(creatorProfiles.accountId, accountId));
    return created!;
  }

  /**
   * An operator grants or revokes product-sharing permission (商品分享权限). Deposits and
   * penalties gate it in a later iteration; the decision and its reason are kept either way.
   */
  async setSharingPermission(operatorId: string, accountId: string, granted: boolean, reason: string) {
    return inTransaction(this.p.db, async (tx) => {
      await this.getProfile(accountId, tx);
      const [row] = await tx
        .update(creatorProfiles)
        .set({
          sharingPermission: granted ? 'granted' : 'revoked',
          sharingChangedAt: this.p.clock.now(),
          sharingChangedBy: operatorId,
          sharingReason: reason,
        })
        .where(eq(creatorProfiles.accountId, accountId))
        .returning();
      await recordEvent(
        tx,
        this.p.clock,
        granted ? 'creator.sharing_granted' : 'creator.sharing_revoked',
        accountId,
        {
          creatorAccountId: accountId,
          operatorId,
        },
      );
      return row!;
    });
  }

  async assertCanShareProducts(accountId: string, ex: Executor = this.p.db): Promise<void> {
    const profile = await this.getProfile(accountId, ex);
    if (profile.sharingPermission !== 'granted') {
      throw new AppError(
        'SHARING_PERMISSION_REQUIRED',
        'You need product-sharing permission (商品分享权限) to attach products; apply for it in the creator workbench.',
      );
    }
  }
}
