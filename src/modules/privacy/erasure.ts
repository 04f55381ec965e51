import type { Platform } from '../../platform/context.js';
import type { Tx } from '../../platform/db.js';
import { inTransaction } from '../../platform/tx.js';
import type { AuditActor, AuditLog } from '../audit/service.js';
import type { PrivacyVault } from './service.js';

export interface ErasurePorts {
  /** The buyer's orders' recipients; refuses while an order is still open. */
  recipientsForErasure(buyerId: string): Promise<{ shopId: string; recipientId: string; orderId: string }[]>;
  /** Anonymises the account and ends its sessions, in the given transaction. */
  anonymiseAccount(tx: Tx, accountId: string): Promise<void>;
}

/**
 * A buyer deletes their account: their recipients' ciphertext and search indexes are erased
 * (the masks stay, so shops' order history still reads 张*), the account is anonymised, and
 * each shop's chain records the deletion. Orders and money are untouched.
 */
export class BuyerErasure {
  constructor(
    private readonly p: Platform,
    private readonly vault: PrivacyVault,
    private readonly audit: AuditLog,
    private readonly ports: ErasurePorts,
  ) {}

  async eraseBuyer(
    buyerId: string,
    actor: AuditActor,
  ): Promise<{ erasedRecipients: number; orders: number }> {
    const rows = await this.ports.recipientsForErasure(buyerId);
    return inTransaction(this.p.db, async (tx) => {
      const erased = await this.vault.eraseRecipients(
        tx,
        rows.map((r) => r.recipientId),
      );
      const byShop = new Map<string, string[]>();
      for (const r of rows) byShop.set(r.shopId, [...(byShop.get(r.shopId) ?? []), r.orderId]);
      for (const [shopId, orderIds] of byShop) {
        await this.audit.record(tx, {
          operation: 'delete_order',
          actor,
          shopId,
          orderIds,
          reason: 'buyer deleted account',
        });
      }
      await this.ports.anonymiseAccount(tx, buyerId);
      return { erasedRecipients: erased, orders: rows.length };
    });
  }
}
