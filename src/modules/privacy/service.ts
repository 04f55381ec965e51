import { randomBytes } from 'node:crypto';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.js';
import type { Db, Executor } from '../../platform/db.js';
import { newId } from '../../platform/ids.js';
import type { MasterKeyProvider } from '../../platform/keys.js';
import { blindIndex, deriveKey, open, seal } from './crypto.js';
import { maskAddress, maskName, maskPhone, normalizePhone } from './masks.js';
import { privacyDataKeys, recipients } from './schema.js';

/** Recipient input at checkout; the schema is shared with the HTTP layer. */
export const recipientInputSchema = z.object({
  name: z.string().trim().min(1).max(40),
  phone: z
    .string()
    .trim()
    .regex(
      /^(\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}$/,
      'must be a mainland mobile number (11 digits, 1[3-9]…)',
    ),
  province: z.string().trim().min(2).max(20),
  city: z.string().trim().min(2).max(20),
  district: z.string().trim().min(2).max(20),
  detail: z.string().trim().min(2).max(120),
});
export type RecipientInput = z.infer<typeof recipientInputSchema>;

export interface SealedRecipient {
  id: string;
  nameMask: string;
  phoneMask: string;
  addressMask: string;
}

export interface PlainRecipient extends RecipientInput {
  id: string;
}

const FIELDS = ['name', 'phone', 'address'] as const;

/**
 * The privacy vault: the one module that holds buyer PII, as ciphertext under a per-shop
 * data key wrapped by the master key. Other modules keep the recipient id and the masks.
 */
export class PrivacyVault {
  private readonly dataKeys = new Map<string, { id: string; key: Buffer }>();
  private readonly indexKey: Buffer;

  constructor(
    private readonly db: Db,
    private readonly master: MasterKeyProvider,
    private readonly clock: Clock,
  ) {
    this.indexKey = deriveKey(master.key(), 'livecart/blind-index/v1');
  }

  /**
   * Makes sure the shop has a data key, in its own committed transaction: a key must never
   * be cached from a transaction that might still roll back. Call before the use case's
   * transaction (PGlite has one connection, so nesting would wait on itself).
   */
  async ensureDataKey(shopId: string): Promise<void> {
    if (this.dataKeys.has(shopId)) return;
    const existing = await this.activeKeyRow(this.db, shopId);
    if (!existing) {
      const id = newId('dataKey');
      const wrapped = seal(this.master.key(), randomBytes(32).toString('base64'), `dk|${id}|${shopId}`);
      await this.db
        .insert(privacyDataKeys)
        .values({
          id,
          shopId,
          wrappedKey: wrapped,
          masterKeyVersion: this.master.version,
          createdAt: this.clock.now(),
        })
        .onConflictDoNothing();
    }
    const row = await this.activeKeyRow(this.db, shopId);
    if (!row?.wrappedKey) throw new Error(`no active data key for shop ${shopId}`);
    this.dataKeys.set(shopId, { id: row.id, key: this.unwrap(row.id, shopId, row.wrappedKey) });
  }

  /**
   * Encrypts a recipient and issues its insert in the caller's transaction. The reference
   * and masks are returned at once so the caller can pipeline its own writes; it must await
   * `written` before committing.
   */
  sealRecipient(
    tx: Executor,
    shopId: string,
    input: RecipientInput,
  ): SealedRecipient & { written: Promise<unknown> } {
    const dk = this.dataKeys.get(shopId);
    if (!dk) throw new Error(`ensureDataKey(${shopId}) must run before sealRecipient`);
    const id = newId('recipient');
    const phone = normalizePhone(input.phone);
    const address = JSON.stringify({
      province: input.province,
      city: input.city,
      district: input.district,
      detail: input.detail,
    });
    const masks = {
      nameMask: maskName(input.name),
      phoneMask: maskPhone(phone),
      addressMask: maskAddress(input),
    };
    const written = Promise.resolve(
      tx.insert(recipients).values({
        id,
        shopId,
        dataKeyId: dk.id,
        nameCt: seal(dk.key, input.name, `${id}|name`),
        phoneCt: seal(dk.key, phone, `${id}|phone`),
        addressCt: seal(dk.key, address, `${id}|address`),
        ...masks,
        phoneIndex: this.phoneIndex(phone),
        nameIndex: this.nameIndex(input.name),
        createdAt: this.clock.now(),
      }),
    );
    return { id, ...masks, written };
  }

  /**
   * A keyed fingerprint of a recipient, for idempotency request hashes: equal inputs give
   * equal fingerprints, but a stored hash cannot be used to confirm a guessed phone number.
   */
  fingerprint(input: RecipientInput): string {
    return blindIndex(this.indexKey, 'recipient', JSON.stringify(recipientInputSchema.parse(input)));
  }

  phoneIndex(phone: string): string {
    return blindIndex(this.indexKey, 'phone', normalizePhone(phone));
  }

  nameIndex(name: string): string {
    return blindIndex(this.indexKey, 'name', name.trim());
  }

  /**
   * Decrypts recipients. Not exposed over HTTP yet: the audited, quota-limited decrypt
   * endpoint builds on this (see docs/privacy.md).
   */
  async openRecipients(tx: Executor, shopId: string, ids: string[]): Promise<PlainRecipient[]> {
    if (ids.length === 0) return [];
    const rows = await tx
      .select()
      .from(recipients)
      .where(and(eq(recipients.shopId, shopId), inArray(recipients.id, ids)));
    const out: PlainRecipient[] = [];
    for (const r of rows) {
      const [keyRow] = await tx.select().from(privacyDataKeys).where(eq(privacyDataKeys.id, r.dataKeyId));
      if (!keyRow?.wrappedKey) throw new Error(`data key ${r.dataKeyId} is shredded`);
      const key = this.unwrap(keyRow.id, keyRow.shopId, keyRow.wrappedKey);
      const [name, phone, address] = FIELDS.map((f) =>
        open(key, f === 'name' ? r.nameCt : f === 'phone' ? r.phoneCt : r.addressCt, `${r.id}|${f}`),
      ) as [string, string, string];
      out.push({ id: r.id, name, phone, ...JSON.parse(address) });
    }
    return out;
  }

  private async activeKeyRow(ex: Executor, shopId: string) {
    const [row] = await ex
      .select()
      .from(privacyDataKeys)
      .where(and(eq(privacyDataKeys.shopId, shopId), isNull(privacyDataKeys.shreddedAt)));
    return row;
  }

  private unwrap(id: string, shopId: string, wrapped: string): Buffer {
    return Buffer.from(open(this.master.key(), wrapped, `dk|${id}|${shopId}`), 'base64');
  }
}
