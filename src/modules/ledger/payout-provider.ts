import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** A bank account as the provider knows it: its token, never the number. */
export interface PayoutDestination {
  token: string;
  bankName: string;
  holderName: string;
}

export interface PayoutRequest {
  payoutId: string;
  amountFen: number;
  account: PayoutDestination;
  /** The provider pays at most once per key; we pass the payout id. */
  idempotencyKey: string;
}

export interface PayoutResult {
  providerRef: string;
  status: 'pending' | 'succeeded' | 'failed';
  failureReason?: string | undefined;
}

/** The seam to a real payout rail (bank transfer, WeChat Pay / Alipay enterprise payment …). */
export interface PayoutProvider {
  readonly name: string;
  /** Vaults a bank account; the platform keeps only the token and the last four digits. */
  registerAccount(a: { bankName: string; holderName: string; accountNumber: string }): Promise<{
    token: string;
    last4: string;
  }>;
  send(req: PayoutRequest): Promise<PayoutResult>;
  /** The final result of a payout that `send` answered `pending` (a job polls it). */
  poll(providerRef: string): Promise<PayoutResult>;
}

/**
 * Built-in simulated provider. Its tokens are the account number encrypted under its own key,
 * so it needs no storage of its own. Accounts whose number ends in `0000` (or another suffix
 * given to `failAccountsEndingWith`) are refused by the "receiving bank", so tests can
 * exercise failures. `sync` answers at once; `async` answers `pending` until polled.
 */
export class SimulatedPayoutProvider implements PayoutProvider {
  readonly name = 'simulated';
  readonly failAccountsEndingWith = new Set(['0000']);
  private readonly key: Buffer;
  private readonly results = new Map<string, PayoutResult>();

  constructor(
    secret: string,
    private readonly mode: 'sync' | 'async',
  ) {
    this.key = createHash('sha256').update(`payout-token:${secret}`).digest();
  }

  async registerAccount(a: { bankName: string; holderName: string; accountNumber: string }) {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(a.accountNumber, 'utf8'), cipher.final()]);
    const token = `spt_${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    return { token, last4: a.accountNumber.slice(-4) };
  }

  async send(req: PayoutRequest): Promise<PayoutResult> {
    const providerRef = `simpo_${req.idempotencyKey}`;
    const final = this.results.get(providerRef) ?? this.decide(providerRef, req.account.token);
    this.results.set(providerRef, final);
    return this.mode === 'sync' ? final : { providerRef, status: 'pending' };
  }

  async poll(providerRef: string): Promise<PayoutResult> {
    // A payout this process never saw (say, sent before a restart) is still in the bank's hands.
    return this.results.get(providerRef) ?? { providerRef, status: 'pending' };
  }

  private decide(providerRef: string, token: string): PayoutResult {
    const number = this.accountNumber(token);
    if (number === null) return { providerRef, status: 'failed', failureReason: 'unknown_account' };
    for (const suffix of this.failAccountsEndingWith) {
      if (number.endsWith(suffix)) {
        return { providerRef, status: 'failed', failureReason: 'account_rejected_by_bank' };
      }
    }
    return { providerRef, status: 'succeeded' };
  }

  private accountNumber(token: string): string | null {
    try {
      const raw = Buffer.from(token.replace(/^spt_/, ''), 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}
