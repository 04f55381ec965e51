import { randomBytes } from 'node:crypto';
import { and, eq, inArray, isNull, ne, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { setBounded } from '../../platform/bounded-map.js';
import { type Clock, localMonth } from '../../platform/clock.js';
import { type Db, type Executor, inJson, insertJson, insertJsonSql, rowsOf } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { MasterKeyProvider } from '../../platform/keys.js';
import { blindIndex, open, seal } from './crypto.js';
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

/** An unwrapped data key, for sealing recipients of one shop in the current bucket. */
export interface DataKey {
  id: string;
  shopId: string;
  key: Buffer;
}

const ERASED = '';
/** Unwrapped data keys kept for opening: one per shop and month, so this covers many shops. */
const OPENING_CACHE_MAX = 10_000;

/**
 * The privacy vault: the one module that holds buyer PII, as ciphertext under a data key per
 * shop and month, wrapped by the master key. Other modules keep the recipient id and masks.
 */
export class PrivacyVault {
  private readonly sealing = new Map<string, DataKey>();
  /**
   * Unwrapped data keys for opening, by key id, with the wrapping they were unwrapped from
   * (a re-wrap or a shred changes the row, so a stale entry is never used). Bounded, oldest
   * out first; shredDataKeys drops its keys. Every open still reads the key row, so a key
   * shredded by another node is refused here too.
   */
  private readonly opening = new Map<string, { wrapped: string; key: Buffer }>();

  constructor(
    private readonly db: Db,
    private readonly master: MasterKeyProvider,
    private readonly clock: Clock,
    private readonly offsetMinutes: number,
  ) {}

  /**
   * The shop's data key for the current bucket (local month), created in its own committed
   * transaction if needed: a key must never be cached from a transaction that might still
   * roll back. Call before the use case's transaction (PGlite has one connection, so nesting
   * would wait on itself) and pass the result to sealRecipient.
   */
  async dataKeyFor(shopId: string): Promise<DataKey> {
    const bucket = localMonth(this.clock.now(), this.offsetMinutes);
    const cacheKey = `${shopId}|${bucket}`;
    const cached = this.sealing.get(cacheKey);
    if (cached) return cached;
    let row = await this.activeKeyRow(shopId, bucket);
    if (!row) {
      const id = newId('dataKey');
      const { version, wrapped } = await this.master.wrap(randomBytes(32), wrapAad(id, shopId));
      await this.db
        .insert(privacyDataKeys)
        .values({
          id,
          shopId,
          bucket,
          wrappedKey: wrapped,
          masterKeyVersion: version,
          createdAt: this.clock.now(),
        })
        .onConflictDoNothing();
      row = await this.activeKeyRow(shopId, bucket);
    }
    if (!row?.wrappedKey) throw new Error(`no active data key for shop ${shopId} bucket ${bucket}`);
    const key: DataKey = {
      id: row.id,
      shopId,
      key: await this.master.unwrap(row.masterKeyVersion, row.wrappedKey, wrapAad(row.id, shopId)),
    };
    if (this.sealing.size > 10_000) this.sealing.clear();
    this.sealing.set(cacheKey, key);
    return key;
  }

  /**
   * Encrypts a recipient and issues its insert in the caller's transaction. The reference
   * and masks are returned at once so the caller can pipeline its own writes; it must await
   * `written` before committing.
   */
  sealRecipient(
    tx: Executor,
    dk: DataKey,
    input: RecipientInput,
  ): SealedRecipient & { written: Promise<unknown> } {
    const { sealed, rows } = this.sealRows([{ dk, input }]);
    return { ...sealed[0]!, written: insertJson(tx, recipients, rows) };
  }

  /**
   * Encrypts recipients for a statement the caller builds around their INSERT (a group of
   * checkouts written by one statement); `when` makes the insert conditional.
   */
  sealRecipientsInsert(
    items: { dk: DataKey; input: RecipientInput }[],
    when: SQL,
  ): { sealed: SealedRecipient[]; insert: SQL } {
    const { sealed, rows } = this.sealRows(items);
    return { sealed, insert: insertJsonSql(recipients, rows, { when }) };
  }

  private sealRows(items: { dk: DataKey; input: RecipientInput }[]) {
    const createdAt = this.clock.now();
    const rows = items.map(({ dk, input }) => {
      const id = newId('recipient');
      const phone = normalizePhone(input.phone);
      const address = JSON.stringify({
        province: input.province,
        city: input.city,
        district: input.district,
        detail: input.detail,
      });
      return {
        id,
        shopId: dk.shopId,
        dataKeyId: dk.id,
        nameCt: seal(dk.key, input.name, `${id}|name`),
        phoneCt: seal(dk.key, phone, `${id}|phone`),
        addressCt: seal(dk.key, address, `${id}|address`),
        nameMask: maskName(input.name),
        phoneMask: maskPhone(phone),
        addressMask: maskAddress(input),
        phoneIndex: this.phoneIndex(phone),
        nameIndex: this.nameIndex(input.name),
        createdAt,
      };
    });
    const sealed: SealedRecipient[] = rows.map((r) => ({
      id: r.id,
      nameMask: r.nameMask,
      phoneMask: r.phoneMask,
      addressMask: r.addressMask,
    }));
    return { sealed, rows };
  }

  /**
   * A keyed fingerprint of a recipient, for idempotency request hashes: equal inputs give
   * equal fingerprints, but a stored hash cannot be used to confirm a guessed phone number.
   */
  fingerprint(input: RecipientInput): string {
    return blindIndex(this.master.indexKey(), 'recipient', JSON.stringify(recipientInputSchema.parse(input)));
  }

  phoneIndex(phone: string): string {
    return blindIndex(this.master.indexKey(), 'phone', normalizePhone(phone));
  }

  nameIndex(name: string): string {
    return blindIndex(this.master.indexKey(), 'name', name.trim());
  }

  /** Recipients of a shop whose phone or name equals the given one, found by blind index. */
  async findRecipientIds(
    shopId: string,
    by: { phone?: string | undefined; name?: string | undefined },
  ): Promise<string[]> {
    const conds = [eq(recipients.shopId, shopId)];
    if (by.phone) conds.push(eq(recipients.phoneIndex, this.phoneIndex(by.phone)));
    if (by.name) conds.push(eq(recipients.nameIndex, this.nameIndex(by.name)));
    const rows = await this.db
      .select({ id: recipients.id })
      .from(recipients)
      .where(and(...conds))
      .limit(1000);
    return rows.map((r) => r.id);
  }

  /**
   * Decrypts recipients of one shop. Only the decrypt, waybill-redeem and call use cases call
   * this, after their own authorisation, quota and audit. Throws RECIPIENT_SHREDDED when the
   * data was destroyed by retention or erased at the buyer's request.
   */
  async openRecipients(ex: Executor, shopId: string, ids: string[]): Promise<PlainRecipient[]> {
    if (ids.length === 0) return [];
    // The columns opening needs, and the ids as one jsonb parameter: a decrypt of 50 spends a
    // third of the time building and mapping the query that all columns and 50 parameters take.
    const rows = await ex
      .select({
        r: {
          id: recipients.id,
          nameCt: recipients.nameCt,
          phoneCt: recipients.phoneCt,
          addressCt: recipients.addressCt,
          erasedAt: recipients.erasedAt,
        },
        k: {
          id: privacyDataKeys.id,
          shopId: privacyDataKeys.shopId,
          wrappedKey: privacyDataKeys.wrappedKey,
          masterKeyVersion: privacyDataKeys.masterKeyVersion,
          shreddedAt: privacyDataKeys.shreddedAt,
        },
      })
      .from(recipients)
      .innerJoin(privacyDataKeys, eq(privacyDataKeys.id, recipients.dataKeyId))
      .where(and(eq(recipients.shopId, shopId), inJson(recipients.id, ids)));
    const out: PlainRecipient[] = [];
    for (const { r, k } of rows) {
      if (!k.wrappedKey || k.shreddedAt || r.erasedAt) {
        if (!k.wrappedKey || k.shreddedAt) this.opening.delete(k.id); // shredded by another node
        throw new AppError(
          'RECIPIENT_SHREDDED',
          'The recipient data of this order has been destroyed under the retention policy or at the buyer’s request; only the masks remain.',
          { recipientId: r.id },
        );
      }
      const key = await this.openingKey(k.id, k.shopId, k.masterKeyVersion, k.wrappedKey);
      const address = JSON.parse(open(key, r.addressCt, `${r.id}|address`));
      out.push({
        id: r.id,
        name: open(key, r.nameCt, `${r.id}|name`),
        phone: open(key, r.phoneCt, `${r.id}|phone`),
        ...address,
      });
    }
    return out;
  }

  /** The unwrapped data key of a key row that is not shredded (see `opening`). */
  private async openingKey(id: string, shopId: string, version: string, wrapped: string): Promise<Buffer> {
    const cached = this.opening.get(id);
    if (cached && cached.wrapped === wrapped) return cached.key;
    const key = await this.master.unwrap(version, wrapped, wrapAad(id, shopId));
    this.opening.delete(id);
    setBounded(this.opening, id, { wrapped, key }, OPENING_CACHE_MAX);
    return key;
  }

  /** Crypto-shreds data keys: their recipients become unrecoverable; masks stay. */
  async shredDataKeys(keyIds: string[]): Promise<number> {
    if (keyIds.length === 0) return 0;
    const done = await this.db
      .update(privacyDataKeys)
      .set({ wrappedKey: null, shreddedAt: this.clock.now() })
      .where(and(inArray(privacyDataKeys.id, keyIds), isNull(privacyDataKeys.shreddedAt)))
      .returning({ id: privacyDataKeys.id });
    for (const [k, v] of this.sealing) if (keyIds.includes(v.id)) this.sealing.delete(k);
    for (const id of keyIds) this.opening.delete(id);
    return done.length;
  }

  /**
   * Retention sweep: shreds each shop-month data key once every order sealed with it has been
   * closed (completed, cancelled or refunded) for `retentionDays` after its after-sales window. The
   * orders are read, never written (a reporting join across modules). The current month's
   * key is never shredded: it is still sealing new orders.
   */
  async shredExpired(opts: { retentionDays: number; afterSalesDays: number }): Promise<number> {
    const now = this.clock.now();
    const currentBucket = localMonth(now, this.offsetMinutes);
    const cutoff = new Date(now.getTime() - opts.retentionDays * 86_400_000).toISOString();
    const due = rowsOf<{ id: string }>(
      await this.db.execute(sql`
        select dk.id from privacy_data_keys dk
        where dk.shredded_at is null and dk.bucket < ${currentBucket}
          and not exists (
            select 1 from recipients r join orders o on o.recipient_id = r.id
            where r.data_key_id = dk.id and not (
              (o.status in ('cancelled', 'refunded') and o.cancelled_at <= ${cutoff}::timestamptz)
              or (o.status = 'completed'
                  and greatest(o.completed_at, coalesce(o.delivered_at, o.completed_at) + make_interval(days => ${opts.afterSalesDays}))
                      <= ${cutoff}::timestamptz)))
        limit 500`),
    );
    return this.shredDataKeys(due.map((d) => d.id));
  }

  /** Erases recipients (a buyer deleted their account): ciphertext and indexes go, masks stay. */
  async eraseRecipients(ex: Executor, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const done = await ex
      .update(recipients)
      .set({
        nameCt: ERASED,
        phoneCt: ERASED,
        addressCt: ERASED,
        phoneIndex: ERASED,
        nameIndex: ERASED,
        erasedAt: this.clock.now(),
      })
      .where(and(inArray(recipients.id, ids), isNull(recipients.erasedAt)))
      .returning({ id: recipients.id });
    return done.length;
  }

  /**
   * Master-key rotation: re-wraps every live data key under the current master version, in
   * small batches with a conditional update, while the service keeps running. Recipients are
   * not re-encrypted: only the 32-byte data keys change wrapping.
   */
  async rewrapDataKeys(opts: { shopIds?: string[] } = {}): Promise<{ rewrapped: number; version: string }> {
    const version = this.master.currentVersion;
    let rewrapped = 0;
    for (;;) {
      const conds = [ne(privacyDataKeys.masterKeyVersion, version), isNull(privacyDataKeys.shreddedAt)];
      if (opts.shopIds) conds.push(inArray(privacyDataKeys.shopId, opts.shopIds));
      const batch = await this.db
        .select()
        .from(privacyDataKeys)
        .where(and(...conds))
        .limit(200);
      if (batch.length === 0) return { rewrapped, version };
      for (const k of batch) {
        if (!k.wrappedKey) continue;
        const aad = wrapAad(k.id, k.shopId);
        const plain = await this.master.unwrap(k.masterKeyVersion, k.wrappedKey, aad);
        const next = await this.master.wrap(plain, aad);
        const done = await this.db
          .update(privacyDataKeys)
          .set({ wrappedKey: next.wrapped, masterKeyVersion: next.version })
          .where(and(eq(privacyDataKeys.id, k.id), eq(privacyDataKeys.masterKeyVersion, k.masterKeyVersion)))
          .returning({ id: privacyDataKeys.id });
        rewrapped += done.length;
      }
    }
  }

  private async activeKeyRow(shopId: string, bucket: string) {
    const [row] = await this.db
      .select()
      .from(privacyDataKeys)
      .where(
        and(
          eq(privacyDataKeys.shopId, shopId),
          eq(privacyDataKeys.bucket, bucket),
          isNull(privacyDataKeys.shreddedAt),
        ),
      );
    return row;
  }
}

const wrapAad = (keyId: string, shopId: string) => `dk|${keyId}|${shopId}`;
