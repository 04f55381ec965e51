import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, sql } from 'drizzle-orm';
import {
  type AuthResolver,
  type Principal,
  type Role,
  SHOP_PERMISSIONS,
  type ShopPermission,
} from '../../platform/auth.js';
import { HOUR } from '../../platform/clock.js';
import type { Platform } from '../../platform/context.js';
import type { Executor } from '../../platform/db.js';
import { AppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { isUniqueViolation } from '../../platform/tx.js';
import { hashPassword, verifyPassword } from './password.js';
import { accounts, sessions, shopMembers } from './schema.js';

const tokenHash = (token: string) => createHash('sha256').update(token).digest('base64url');

/** Cached sessions trade up to this much revocation delay on other nodes for one query less per request. */
const SESSION_CACHE_MS = 15_000;
// A fixed hash to verify against when the login is unknown, so timing does not reveal which logins exist.
const DUMMY_HASH = hashPassword('not-a-real-password');

export interface AccountView {
  id: string;
  login: string;
  displayName: string;
  roles: Role[];
}

export class IdentityService implements AuthResolver {
  private readonly sessionCache = new Map<
    string,
    { principal: Principal; expiresAt: number; cachedAt: number }
  >();

  constructor(private readonly p: Platform) {}

  async registerAccount(
    input: { login: string; password: string; displayName: string; roles: Role[] },
    ex: Executor = this.p.db,
  ): Promise<AccountView> {
    const { password, ...rest } = input;
    return this.createAccount({ ...rest, passwordHash: await hashPassword(password) }, ex);
  }

  /** Creates an account from an existing hash (demo seeding and tests create many with one hash). */
  async createAccount(
    input: { login: string; passwordHash: string; displayName: string; roles: Role[] },
    ex: Executor = this.p.db,
  ): Promise<AccountView> {
    const id = newId('account');
    const { passwordHash } = input;
    try {
      await ex.insert(accounts).values({
        id,
        login: input.login,
        passwordHash,
        displayName: input.displayName,
        roles: input.roles,
        createdAt: this.p.clock.now(),
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError('LOGIN_TAKEN', `The login "${input.login}" is already taken.`);
      throw err;
    }
    return { id, login: input.login, displayName: input.displayName, roles: input.roles };
  }

  async login(
    login: string,
    password: string,
  ): Promise<{ token: string; expiresAt: Date; account: AccountView }> {
    const [acc] = await this.p.db.select().from(accounts).where(eq(accounts.login, login));
    const ok = await verifyPassword(password, acc?.passwordHash ?? (await DUMMY_HASH));
    if (!acc || !ok) throw new AppError('INVALID_CREDENTIALS', 'The login or password is wrong.');
    return { ...(await this.issueSession(acc.id)), account: toView(acc) };
  }

  async issueSession(accountId: string): Promise<{ token: string; expiresAt: Date }> {
    const token = `lc_${randomBytes(32).toString('base64url')}`;
    const now = this.p.clock.now();
    const expiresAt = new Date(now.getTime() + this.p.config.SESSION_TTL_HOURS * HOUR);
    await this.p.db
      .insert(sessions)
      .values({ tokenHash: tokenHash(token), accountId, createdAt: now, expiresAt });
    return { token, expiresAt };
  }

  async logout(token: string): Promise<void> {
    const h = tokenHash(token);
    this.sessionCache.delete(h);
    await this.p.db.delete(sessions).where(eq(sessions.tokenHash, h));
  }

  async principalForToken(token: string): Promise<Principal | null> {
    const h = tokenHash(token);
    const now = this.p.clock.now().getTime();
    const cached = this.sessionCache.get(h);
    if (cached && cached.expiresAt > now && Date.now() - cached.cachedAt < SESSION_CACHE_MS)
      return cached.principal;
    const [row] = await this.p.db
      .select({ accountId: accounts.id, roles: accounts.roles, expiresAt: sessions.expiresAt })
      .from(sessions)
      .innerJoin(accounts, eq(accounts.id, sessions.accountId))
      .where(and(eq(sessions.tokenHash, h), gt(sessions.expiresAt, new Date(now))));
    if (!row) {
      this.sessionCache.delete(h);
      return null;
    }
    const principal = { accountId: row.accountId, roles: row.roles as Role[] };
    if (this.sessionCache.size > 50_000) this.sessionCache.clear();
    this.sessionCache.set(h, { principal, expiresAt: row.expiresAt.getTime(), cachedAt: Date.now() });
    return principal;
  }

  /** Account deletion: the login is freed, the password disabled, roles and sessions removed. */
  async anonymiseAccount(tx: Executor, accountId: string): Promise<void> {
    await tx
      .update(accounts)
      .set({ login: `deleted_${accountId}`, displayName: '已注销用户', passwordHash: 'disabled', roles: [] })
      .where(eq(accounts.id, accountId));
    await tx.delete(sessions).where(eq(sessions.accountId, accountId));
    this.sessionCache.clear();
  }

  async shopPermissions(accountId: string, shopId: string): Promise<ShopPermission[] | null> {
    const [m] = await this.p.db
      .select({ permissions: shopMembers.permissions })
      .from(shopMembers)
      .where(and(eq(shopMembers.shopId, shopId), eq(shopMembers.accountId, accountId)));
    return m ? (m.permissions as ShopPermission[]) : null;
  }

  async getAccount(id: string): Promise<AccountView & { shops: { shopId: string; role: string }[] }> {
    const [acc] = await this.p.db.select().from(accounts).where(eq(accounts.id, id));
    if (!acc) throw new AppError('ACCOUNT_NOT_FOUND', `Account ${id} was not found`, { id });
    const shops = await this.p.db
      .select({ shopId: shopMembers.shopId, role: shopMembers.role })
      .from(shopMembers)
      .where(eq(shopMembers.accountId, id));
    return { ...toView(acc), shops };
  }

  async findByLogin(login: string, ex: Executor = this.p.db): Promise<AccountView | null> {
    const [acc] = await ex.select().from(accounts).where(eq(accounts.login, login));
    return acc ? toView(acc) : null;
  }

  async addRole(ex: Executor, accountId: string, role: Role): Promise<void> {
    await ex
      .update(accounts)
      .set({ roles: sql`array_append(${accounts.roles}, ${role})` })
      .where(and(eq(accounts.id, accountId), sql`not (${role} = any(${accounts.roles}))`));
  }

  async addShopOwner(ex: Executor, shopId: string, accountId: string): Promise<void> {
    await ex
      .insert(shopMembers)
      .values({
        shopId,
        accountId,
        role: 'owner',
        permissions: [...SHOP_PERMISSIONS],
        createdAt: this.p.clock.now(),
      })
      .onConflictDoNothing();
  }

  /** Adds (or updates) a staff member of a shop; the account must already exist. */
  async setShopStaff(shopId: string, login: string, permissions: ShopPermission[]) {
    const acc = await this.findByLogin(login);
    if (!acc) throw new AppError('ACCOUNT_NOT_FOUND', `No account has the login "${login}".`, { login });
    const [existing] = await this.p.db
      .select()
      .from(shopMembers)
      .where(and(eq(shopMembers.shopId, shopId), eq(shopMembers.accountId, acc.id)));
    if (existing?.role === 'owner')
      throw new AppError('INVALID_STATE', "The shop owner's permissions cannot be changed.");
    await this.p.db.transaction(async (tx) => {
      await tx
        .insert(shopMembers)
        .values({ shopId, accountId: acc.id, role: 'staff', permissions, createdAt: this.p.clock.now() })
        .onConflictDoUpdate({ target: [shopMembers.shopId, shopMembers.accountId], set: { permissions } });
      await this.addRole(tx, acc.id, 'merchant');
    });
    this.sessionCache.clear(); // roles changed: drop cached principals on this node
    return { accountId: acc.id, login: acc.login, role: 'staff' as const, permissions };
  }
}

function toView(acc: typeof accounts.$inferSelect): AccountView {
  return { id: acc.id, login: acc.login, displayName: acc.displayName, roles: acc.roles as Role[] };
}
