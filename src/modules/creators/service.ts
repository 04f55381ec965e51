import { and, eq, inArray } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import type { Executor } from '../../platform/db.js';
import { AppError, notFound } from '../../platform/errors.js';
import { recordEvent } from '../../platform/outbox.js';
import { inTransaction } from '../../platform/tx.js';
import { accounts } from '../identity/schema.js';
import { creatorProfiles } from './schema.js';

/** Product-sharing permission (商品分享权限) states; only `granted` may attach products. */
export type SharingState = 'none' | 'granted' | 'revoked' | 'suspended' | 'closed' | 'banned';

/** What the deposit rules may change the permission to, and from which states. */
const DEPOSIT_TRANSITIONS = {
  granted: ['none', 'suspended'],
  suspended: ['granted'],
  closed: ['none', 'granted', 'suspended'],
  banned: ['none', 'granted', 'revoked', 'suspended', 'closed'],
} as const satisfies Record<string, readonly SharingState[]>;

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
   * An operator grants or revokes product-sharing permission (商品分享权限) by hand: an
   * override of the deposit rules (which normally grant it, see `applyDepositRule`). A banned
   * creator cannot be granted it again.
   */
  async setSharingPermission(operatorId: string, accountId: string, granted: boolean, reason: string) {
    return inTransaction(this.p.db, async (tx) => {
      const profile = await this.getProfile(accountId, tx);
      if (granted && profile.sharingPermission === 'banned') {
        throw new AppError(
          'INVALID_STATE',
          `Creator ${accountId} is banned for good; sharing cannot be granted.`,
        );
      }
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

  /**
   * The deposit rules move the permission on their own, in the deposit's transaction: granted
   * once the deposit covers the requirement (`reopen` also after a withdrawal closed it),
   * suspended when a penalty or a higher monthly requirement leaves it short, closed when the
   * creator withdraws the deposit, banned for good. An operator's revocation is never lifted
   * by a deposit. Returns whether the state changed.
   */
  async applyDepositRule(
    tx: Executor,
    accountId: string,
    next: keyof typeof DEPOSIT_TRANSITIONS,
    reason: string,
    opts: { by?: string; reopen?: boolean } = {},
  ): Promise<boolean> {
    const from: SharingState[] = [...DEPOSIT_TRANSITIONS[next]];
    if (next === 'granted' && opts.reopen) from.push('closed');
    await this.getProfile(accountId, tx);
    const [row] = await tx
      .update(creatorProfiles)
      .set({
        sharingPermission: next,
        sharingChangedAt: this.p.clock.now(),
        sharingChangedBy: opts.by ?? 'system:deposit',
        sharingReason: reason,
      })
      .where(and(eq(creatorProfiles.accountId, accountId), inArray(creatorProfiles.sharingPermission, from)))
      .returning({ accountId: creatorProfiles.accountId });
    if (!row) return false;
    await recordEvent(tx, this.p.clock, `creator.sharing_${next}`, accountId, {
      creatorAccountId: accountId,
      reason,
    });
    return true;
  }

  async assertCanShareProducts(accountId: string, ex: Executor = this.p.db): Promise<void> {
    const profile = await this.getProfile(accountId, ex);
    if (profile.sharingPermission !== 'granted') {
      const why: Record<string, string> = {
        suspended:
          'Your product-sharing permission (商品分享权限) is suspended: your deposit is below what is required; top it up.',
        closed:
          'Your product-sharing permission (商品分享权限) closed when you withdrew your deposit; lock a deposit to reopen it.',
        banned: 'Your product-sharing permission (商品分享权限) was revoked for good.',
      };
      throw new AppError(
        'SHARING_PERMISSION_REQUIRED',
        why[profile.sharingPermission] ??
          'You need product-sharing permission (商品分享权限) to attach products; lock a deposit (保证金) in the creator workbench.',
        { sharingPermission: profile.sharingPermission },
      );
    }
  }
}
