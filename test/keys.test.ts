import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orders } from '../src/modules/orders/schema.js';
import { privacyDataKeys } from '../src/modules/privacy/schema.js';
import { PrivacyVault } from '../src/modules/privacy/service.js';
import { addMasterKeyVersion, ephemeralMasterKey, localMasterKey } from '../src/platform/keys.js';
import { checkout, pay, recipient, sellingWorld, startTestApp, type TestContext } from './harness.js';

let t: TestContext;
const master = ephemeralMasterKey();
beforeAll(async () => {
  t = await startTestApp({}, { masterKey: master });
});
afterAll(() => t.close());

describe('master keys', () => {
  it('rotation re-wraps data keys without re-encrypting recipients; decrypt and search keep working', async () => {
    const w = await sellingWorld(t, { stock: 5 });
    const buyer = await t.account(['buyer']);
    const order = (
      await checkout(t, buyer.token, {
        venue: { type: 'live_room', id: w.room.id },
        items: [{ skuId: w.sku.id, quantity: 1 }],
        recipient: recipient({ name: '王维', phone: '13512340000' }),
      })
    ).json();
    await pay(t, buyer.token, order.id);
    const [before] = await t.app.platform.db
      .select()
      .from(privacyDataKeys)
      .where(eq(privacyDataKeys.shopId, w.shop.id));
    expect(before!.masterKeyVersion).toBe(master.currentVersion);

    const next = master.rotate();
    // The shared test database holds other apps' keys (other master keys): rotate this shop's.
    const result = await t.app.services.vault.rewrapDataKeys({ shopIds: [w.shop.id] });
    expect(result.version).toBe(next);
    expect(result.rewrapped).toBeGreaterThanOrEqual(1);
    const [after] = await t.app.platform.db
      .select()
      .from(privacyDataKeys)
      .where(eq(privacyDataKeys.id, before!.id));
    expect(after!.masterKeyVersion).toBe(next);
    expect(after!.wrappedKey).not.toBe(before!.wrappedKey);

    // A vault with no cached keys (another node, a restart) opens the recipient under the new wrapping.
    const fresh = new PrivacyVault(t.app.platform.db, master, t.clock, 480);
    const [row] = await t.app.platform.db.select().from(orders).where(eq(orders.id, order.id));
    const [plain] = await fresh.openRecipients(t.app.platform.db, w.shop.id, [row!.recipientId]);
    expect(plain).toMatchObject({ name: '王维', phone: '13512340000' });
    const found = await t.request({
      method: 'GET',
      url: `/api/shops/${w.shop.id}/orders?phone=13512340000`,
      token: w.merchant.token,
    });
    expect(found.json().items.map((o: { id: string }) => o.id)).toEqual([order.id]);
  });

  it('keeps a local keyring of 0600 files and serves a version added by another process', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lc-keys-'));
    const provider = localMasterKey({ keyDir: dir });
    expect(provider.currentVersion).toBe('v1');
    expect(readdirSync(dir).sort()).toEqual(['index.key', 'master-v1.key']);
    for (const f of readdirSync(dir)) expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
    const wrapped = await provider.wrap(Buffer.from('data-key'), 'aad');
    const index = provider.indexKey();

    expect(addMasterKeyVersion(dir)).toBe('v2'); // e.g. `npm run keys:rotate` on another node
    const rewrapped = await provider.wrap(Buffer.from('data-key'), 'aad');
    expect(rewrapped.version).toBe('v2');
    expect((await provider.unwrap(wrapped.version, wrapped.wrapped, 'aad')).toString()).toBe('data-key');
    expect((await localMasterKey({ keyDir: dir }).unwrap('v2', rewrapped.wrapped, 'aad')).toString()).toBe(
      'data-key',
    );
    expect(provider.indexKey().equals(index)).toBe(true); // search survives rotation
    await expect(provider.unwrap('v1', wrapped.wrapped, 'other-aad')).rejects.toThrow();
  });
});
