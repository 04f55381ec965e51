import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Platform } from '../../platform/context.js';
import { type Executor, rowsOf } from '../../platform/db.js';
import { AppError, invalidState } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { MasterKeyProvider } from '../../platform/keys.js';
import { inTransaction } from '../../platform/tx.js';
import { open, seal } from './crypto.js';
import { carrierAccounts, privacyDataKeys, recipients, waybills } from './schema.js';
import type { PlainRecipient, PrivacyVault } from './service.js';
import type { PrivacyAuditHint, VirtualNumbers } from './virtual-numbers.js';

/** What is printed in the clear. Every recipient field is named as a mask, so none passes for an address. */
export interface WaybillLabel {
  trackingNo: string;
  carrier: string;
  recipient: { nameMask: string; phoneMask: string; virtualNumber: string; addressMask: string };
  masked: true;
}

export interface IssueWaybillInput {
  orderId: string;
  shopId: string;
  carrier: string;
  trackingNo: string;
  recipientId: string;
  /** The order's recipient masks. */
  masks: { name: string; phone: string; address: string };
  /** When the after-sales window closes: the virtual number expires then. */
  afterSalesEndsAt: Date;
}

export interface IssuedWaybill {
  id: string;
  orderId: string;
  shopId: string;
  carrier: string;
  trackingNo: string;
  label: WaybillLabel;
  /** The recipient, AES-256-GCM under the carrier's key; only the redeem endpoint opens it. */
  printPayload: string;
  /** base64url HMAC-SHA256 over `waybillId|carrier|trackingNo|printPayload`. */
  signature: string;
  virtualNumberExpiresAt: Date;
  createdAt: Date;
}

export interface RedeemedWaybill {
  trackingNo: string;
  recipient: {
    name: string;
    phone: string;
    province: string;
    city: string;
    district: string;
    detail: string;
  };
  audit: PrivacyAuditHint;
}

interface PrintPayload {
  v: 1;
  carrier: string;
  trackingNo: string;
  recipient: RedeemedWaybill['recipient'];
}

const CARRIER_CODE = /^[A-Z0-9]{2,16}$/;

function assertCarrierCode(carrier: string): void {
  if (!CARRIER_CODE.test(carrier)) throw new Error(`carrier code ${JSON.stringify(carrier)} is malformed`);
}

/** A waybill whose recipient was shredded or erased: its payload is gone with it. */
function payloadShredded(details: Record<string, unknown>): AppError {
  return new AppError(
    'RECIPIENT_SHREDDED',
    'The recipient data of this waybill was erased under the retention policy; it can no longer be redeemed.',
    details,
  );
}

const PURGE_BATCH = 500;

/**
 * Privacy waybills (隐私面单): the label carries masks and the order's virtual number; the
 * recipient travels to the carrier only as an encrypted print payload with the platform's
 * signature, opened by the redeem endpoint for a registered account of that carrier.
 */
export class Waybills {
  private readonly signingKey: Buffer;
  private readonly carrierKeys = new Map<string, Buffer>();

  constructor(
    private readonly p: Platform,
    private readonly vault: PrivacyVault,
    private readonly numbers: VirtualNumbers,
    private readonly masterKey: MasterKeyProvider,
  ) {
    this.signingKey = masterKey.derive('livecart/waybill-signing/v1');
  }

  /**
   * Issues the waybill in the caller's transaction: binds the order's virtual number until
   * the after-sales window closes, seals the recipient for the carrier, signs, and stores.
   * Issuing again with the same carrier and tracking number for the same order refreshes
   * the label (the virtual number may have changed) and returns the stored payload.
   */
  async issue(tx: Executor, input: IssueWaybillInput): Promise<IssuedWaybill> {
    assertCarrierCode(input.carrier);
    const plain = await this.openRecipient(tx, input.shopId, input.recipientId);
    assertMasked(input.masks, plain);
    const binding = await this.numbers.bindForOrder(tx, {
      orderId: input.orderId,
      shopId: input.shopId,
      recipientId: input.recipientId,
      expiresAt: input.afterSalesEndsAt,
    });
    const label: WaybillLabel = {
      trackingNo: input.trackingNo,
      carrier: input.carrier,
      recipient: {
        nameMask: input.masks.name,
        phoneMask: input.masks.phone,
        virtualNumber: binding.number,
        addressMask: input.masks.address,
      },
      masked: true,
    };
    const id = newId('waybill');
    const payload: PrintPayload = {
      v: 1,
      carrier: input.carrier,
      trackingNo: input.trackingNo,
      recipient: {
        name: plain.name,
        phone: plain.phone,
        province: plain.province,
        city: plain.city,
        district: plain.district,
        detail: plain.detail,
      },
    };
    const printPayload = seal(this.carrierKey(input.carrier), JSON.stringify(payload), id);
    const [row] = await tx
      .insert(waybills)
      .values({
        id,
        orderId: input.orderId,
        shopId: input.shopId,
        carrier: input.carrier,
        trackingNo: input.trackingNo,
        recipientId: input.recipientId,
        label,
        printPayload,
        signature: this.sign(id, input.carrier, input.trackingNo, printPayload),
        createdAt: this.p.clock.now(),
      })
      .onConflictDoNothing()
      .returning();
    if (row) return issued(row, binding.expiresAt);

    // The carrier's tracking number already has a waybill: a reprint of the same order, or a mistake.
    const [existing] = await tx
      .select()
      .from(waybills)
      .where(and(eq(waybills.carrier, input.carrier), eq(waybills.trackingNo, input.trackingNo)));
    if (!existing)
      throw new Error(`waybill insert for ${input.carrier} ${input.trackingNo} conflicted on id`);
    if (existing.orderId !== input.orderId || existing.shopId !== input.shopId) {
      throw invalidState(
        `Tracking number ${input.trackingNo} of ${input.carrier} is already on another order's waybill.`,
        { carrier: input.carrier, trackingNo: input.trackingNo },
      );
    }
    const [refreshed] = await tx
      .update(waybills)
      .set({ label })
      .where(eq(waybills.id, existing.id))
      .returning();
    return issued(refreshed!, binding.expiresAt);
  }

  /**
   * A carrier opens a waybill it holds: the account must be registered for the waybill's
   * carrier (another carrier's waybill answers 404, like a missing one), and the payload and
   * signature must be the ones issued. Every successful redeem is counted.
   */
  async redeem(
    carrierAccountId: string,
    input: { trackingNo: string; printPayload: string; signature: string },
  ): Promise<RedeemedWaybill> {
    return inTransaction(this.p.db, async (tx) => {
      const [account] = await tx
        .select()
        .from(carrierAccounts)
        .where(eq(carrierAccounts.accountId, carrierAccountId));
      if (!account) {
        throw new AppError(
          'FORBIDDEN',
          'This account is not registered as a carrier account; an operator registers it for one carrier.',
        );
      }
      const [wb] = await tx
        .select()
        .from(waybills)
        .where(and(eq(waybills.carrier, account.carrier), eq(waybills.trackingNo, input.trackingNo)));
      if (!wb) {
        throw new AppError('NOT_FOUND', `Waybill ${input.trackingNo} was not found`, {
          trackingNo: input.trackingNo,
        });
      }
      if (wb.printPayload === '') throw payloadShredded({ trackingNo: wb.trackingNo });
      const signatureOk = safeEqual(
        this.sign(wb.id, wb.carrier, wb.trackingNo, input.printPayload),
        input.signature,
      );
      const payloadOk = safeEqual(input.printPayload, wb.printPayload);
      if (!signatureOk || !payloadOk) {
        throw new AppError('FORBIDDEN', 'The print payload and signature do not match this waybill.', {
          trackingNo: input.trackingNo,
        });
      }
      // Shredding and erasure win over the payload: the vault must still open the recipient
      // (it throws RECIPIENT_SHREDDED otherwise), even before the purge job has blanked it.
      await this.openRecipient(tx, wb.shopId, wb.recipientId);
      const payload = JSON.parse(open(this.carrierKey(wb.carrier), wb.printPayload, wb.id)) as PrintPayload;
      const [counted] = await tx
        .update(waybills)
        .set({ redeemedCount: sql`${waybills.redeemedCount} + 1` })
        .where(eq(waybills.id, wb.id))
        .returning({ redeemedCount: waybills.redeemedCount });
      return {
        trackingNo: wb.trackingNo,
        recipient: payload.recipient,
        audit: {
          operation: 'redeem_waybill',
          shopId: wb.shopId,
          orderIds: [wb.orderId],
          details: {
            waybillId: wb.id,
            carrier: wb.carrier,
            trackingNo: wb.trackingNo,
            carrierAccountId,
            redeemedCount: counted!.redeemedCount,
          },
        },
      };
    });
  }

  /** Operator: lets an account redeem waybills of one carrier (registering again moves it). */
  async registerCarrierAccount(
    accountId: string,
    carrier: string,
  ): Promise<{ accountId: string; carrier: string; createdAt: Date }> {
    assertCarrierCode(carrier);
    const [row] = await this.p.db
      .insert(carrierAccounts)
      .values({ accountId, carrier, createdAt: this.p.clock.now() })
      .onConflictDoUpdate({ target: carrierAccounts.accountId, set: { carrier } })
      .returning();
    return { accountId: row!.accountId, carrier: row!.carrier, createdAt: row!.createdAt };
  }

  /**
   * Job: blanks the print payload and signature of waybills whose recipient was shredded or
   * erased. The payload is sealed under a waybill key, not the shop's data key, so without
   * this it would outlive the crypto-shredding of the recipient. The label (masks) stays.
   */
  async purgeShreddedPayloads(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inTransaction(this.p.db, async (tx) => {
        const purged = rowsOf<{ id: string }>(
          await tx.execute(sql`
            update ${waybills} set print_payload = '', signature = ''
            where id in (
              select w.id from ${waybills} w
              join ${recipients} r on r.id = w.recipient_id
              left join ${privacyDataKeys} k on k.id = r.data_key_id
              where w.print_payload <> ''
                and (r.erased_at is not null or k.id is null or k.shredded_at is not null or k.wrapped_key is null)
              limit ${PURGE_BATCH}
              for update of w skip locked)
            returning id`),
        );
        return purged.length;
      });
      total += n;
      if (n < PURGE_BATCH) break;
    }
    return total;
  }

  private carrierKey(carrier: string): Buffer {
    let key = this.carrierKeys.get(carrier);
    if (!key) {
      key = this.masterKey.derive(`livecart/waybill/${carrier}/v1`);
      this.carrierKeys.set(carrier, key);
    }
    return key;
  }

  private sign(waybillId: string, carrier: string, trackingNo: string, printPayload: string): string {
    return createHmac('sha256', this.signingKey)
      .update(`${waybillId}|${carrier}|${trackingNo}|${printPayload}`)
      .digest('base64url');
  }

  /** The plain recipient; the vault throws RECIPIENT_SHREDDED when its data was destroyed. */
  private async openRecipient(ex: Executor, shopId: string, recipientId: string): Promise<PlainRecipient> {
    const [plain] = await this.vault.openRecipients(ex, shopId, [recipientId]);
    if (!plain) throw new Error(`recipient ${recipientId} of shop ${shopId} does not exist`);
    return plain;
  }
}

function issued(row: typeof waybills.$inferSelect, virtualNumberExpiresAt: Date): IssuedWaybill {
  return {
    id: row.id,
    orderId: row.orderId,
    shopId: row.shopId,
    carrier: row.carrier,
    trackingNo: row.trackingNo,
    label: row.label as WaybillLabel,
    printPayload: row.printPayload,
    signature: row.signature,
    virtualNumberExpiresAt,
    createdAt: row.createdAt,
  };
}

/**
 * A guard against a caller passing plain values where masks belong: each mask must be
 * masked and must not spell the name, the phone number or the detailed address.
 */
function assertMasked(masks: IssueWaybillInput['masks'], plain: PlainRecipient): void {
  const values = [masks.name, masks.phone, masks.address];
  const leaks =
    values.some((m) => !m.includes('*')) ||
    values.some((m) => m.includes(plain.phone) || m.includes(plain.detail)) ||
    (Array.from(plain.name).length > 1 && values.some((m) => m.includes(plain.name)));
  if (leaks) throw new Error('waybill label masks must be masks of the recipient, not plain values');
}

/** Constant-time string equality: equal-length digests, so unequal lengths take the same path. */
function safeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
