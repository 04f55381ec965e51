import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { AppError } from '../../platform/errors.js';
import { type HttpServer, sendIdempotent } from '../../platform/http.js';
import { fenSchema, idempotencyHeaders, idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
import type { DepositService } from './deposits.js';
import type { PayoutOwner, PayoutService } from './payouts.js';
import { PAYOUT_STATUSES } from './schema.js';

const creatorOnly = { access: { roles: ['creator'] } } as const;
const operatorOnly = { access: { roles: ['operator'] } } as const;
const financeRead = { access: { roles: ['merchant'], shopPermission: 'finance.read' } } as const;
const financeWithdraw = { access: { roles: ['merchant'], shopPermission: 'finance.withdraw' } } as const;

const reason = z.string().trim().min(2).max(200);
const payoutAccountBody = z.object({
  bankName: z.string().trim().min(2).max(60).describe('e.g. 中国工商银行'),
  holderName: z.string().trim().min(1).max(60),
  accountNumber: z
    .string()
    .regex(/^\d{8,32}$/, 'must be the 8–32 digits of the bank account, without spaces')
    .describe('Kept by the payout provider; only the last 4 digits are stored and shown'),
});
const withdrawalBody = z.object({ amountFen: fenSchema, payoutAccountId: idOf('pac') });
const depositWithdrawalBody = z.object({ payoutAccountId: idOf('pac') });
const withdrawalsQuery = pageQuery.extend({ status: z.enum(PAYOUT_STATUSES).optional() });
const shopCategoryParams = shopIdParams.extend({ categoryId: idOf('cat') });
const creatorParams = z.object({ creatorId: idOf('acc') });

/**
 * Money-moving requests answer a missing or malformed Idempotency-Key before their body is
 * looked at, so a client fixing its body learns about the key in the same round.
 */
async function idempotencyKeyFirst(req: FastifyRequest): Promise<void> {
  const parsed = idempotencyHeaders.safeParse(req.headers);
  if (!parsed.success) {
    throw new AppError(
      'VALIDATION_FAILED',
      `headers.idempotency-key: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  }
}

const me = (req: FastifyRequest): PayoutOwner => ({ kind: 'creator', id: requirePrincipal(req).accountId });
const shop = (shopId: string): PayoutOwner => ({ kind: 'shop', id: shopId });

/** Deposits (保证金) and payouts (提现) for creators, shops and operators. */
export function financeRoutes(
  app: HttpServer,
  deps: { deposits: DepositService; payouts: PayoutService },
): void {
  const { deposits, payouts } = deps;

  // --- creators ------------------------------------------------------------------------------------

  app.get(
    '/api/creator/finance/deposit',
    {
      config: creatorOnly,
      schema: {
        tags: ['finance'],
        summary:
          'My deposit (保证金): balance, this month’s requirement (500 CNY + tier by last month’s GMV), sharing',
      },
    },
    async (req) => deposits.creatorDeposit(requirePrincipal(req).accountId),
  );

  app.post(
    '/api/creator/finance/deposit/lock',
    {
      config: creatorOnly,
      preValidation: idempotencyKeyFirst,
      schema: {
        tags: ['finance'],
        summary:
          'Pay into my deposit through the payment provider; sharing is granted once it covers the requirement',
        headers: idempotencyHeaders,
        body: z.object({ amountFen: fenSchema }),
      },
    },
    async (req, reply) =>
      sendIdempotent(
        reply,
        await deposits.lockCreatorDeposit(
          requirePrincipal(req).accountId,
          req.body.amountFen,
          req.headers['idempotency-key'],
        ),
      ),
  );

  app.post(
    '/api/creator/finance/deposit/withdrawal',
    {
      config: creatorOnly,
      schema: {
        tags: ['finance'],
        summary: 'Withdraw my deposit: sharing closes at once; paid back after a 7-day review',
        body: depositWithdrawalBody,
      },
    },
    async (req) =>
      deposits.requestCreatorWithdrawal(requirePrincipal(req).accountId, req.body.payoutAccountId),
  );

  app.get(
    '/api/creator/finance/payout-accounts',
    {
      config: creatorOnly,
      schema: { tags: ['finance'], summary: 'My payout accounts (last 4 digits only)' },
    },
    async (req) => payouts.listAccounts(me(req)),
  );

  app.post(
    '/api/creator/finance/payout-accounts',
    {
      config: creatorOnly,
      schema: { tags: ['finance'], summary: 'Register a bank account for payouts', body: payoutAccountBody },
    },
    async (req, reply) =>
      reply.code(201).send(await payouts.registerAccount(me(req), requirePrincipal(req).accountId, req.body)),
  );

  app.get(
    '/api/creator/finance/withdrawals',
    {
      config: creatorOnly,
      schema: { tags: ['finance'], summary: 'My withdrawals, newest first', querystring: withdrawalsQuery },
    },
    async (req) => payouts.listPayouts(me(req), req.query),
  );

  app.get(
    '/api/creator/finance/withdrawals/:payoutId',
    {
      config: creatorOnly,
      schema: {
        tags: ['finance'],
        summary: 'One of my withdrawals',
        params: z.object({ payoutId: idOf('po') }),
      },
    },
    async (req) => payouts.getPayout(me(req), req.params.payoutId),
  );

  app.post(
    '/api/creator/finance/withdrawals',
    {
      config: creatorOnly,
      preValidation: idempotencyKeyFirst,
      schema: {
        tags: ['finance'],
        summary: 'Withdraw (提现) from my available commission balance',
        headers: idempotencyHeaders,
        body: withdrawalBody,
      },
    },
    async (req, reply) =>
      sendIdempotent(
        reply,
        await payouts.requestWithdrawal(
          me(req),
          requirePrincipal(req).accountId,
          req.body,
          req.headers['idempotency-key'],
        ),
      ),
  );

  // --- shops ---------------------------------------------------------------------------------------

  app.get(
    '/api/shops/:shopId/finance/deposits',
    {
      config: financeRead,
      schema: {
        tags: ['finance'],
        summary: 'The shop’s category deposits: required, held, short',
        params: shopIdParams,
      },
    },
    async (req) => deposits.shopDeposits(req.params.shopId),
  );

  app.post(
    '/api/shops/:shopId/finance/deposits/:categoryId/lock',
    {
      config: financeWithdraw,
      preValidation: idempotencyKeyFirst,
      schema: {
        tags: ['finance'],
        summary: 'Pay into the shop’s deposit for a category through the payment provider',
        headers: idempotencyHeaders,
        params: shopCategoryParams,
        body: z.object({ amountFen: fenSchema }),
      },
    },
    async (req, reply) =>
      sendIdempotent(
        reply,
        await deposits.lockShopDeposit(
          req.params.shopId,
          requirePrincipal(req).accountId,
          req.params.categoryId,
          req.body.amountFen,
          req.headers['idempotency-key'],
        ),
      ),
  );

  app.post(
    '/api/shops/:shopId/finance/deposits/:categoryId/withdrawal',
    {
      config: financeWithdraw,
      schema: {
        tags: ['finance'],
        summary: 'Withdraw the shop’s deposit for a category; paid back after a 7-day review',
        params: shopCategoryParams,
        body: depositWithdrawalBody,
      },
    },
    async (req) =>
      deposits.requestShopWithdrawal(req.params.shopId, req.params.categoryId, req.body.payoutAccountId),
  );

  app.get(
    '/api/shops/:shopId/finance/payout-accounts',
    {
      config: financeRead,
      schema: {
        tags: ['finance'],
        summary: 'The shop’s payout accounts (last 4 digits only)',
        params: shopIdParams,
      },
    },
    async (req) => payouts.listAccounts(shop(req.params.shopId)),
  );

  app.post(
    '/api/shops/:shopId/finance/payout-accounts',
    {
      config: financeWithdraw,
      schema: {
        tags: ['finance'],
        summary: 'Register a bank account for the shop’s payouts',
        params: shopIdParams,
        body: payoutAccountBody,
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          await payouts.registerAccount(shop(req.params.shopId), requirePrincipal(req).accountId, req.body),
        ),
  );

  app.get(
    '/api/shops/:shopId/finance/withdrawals',
    {
      config: financeRead,
      schema: {
        tags: ['finance'],
        summary: 'The shop’s withdrawals, newest first',
        params: shopIdParams,
        querystring: withdrawalsQuery,
      },
    },
    async (req) => payouts.listPayouts(shop(req.params.shopId), req.query),
  );

  app.get(
    '/api/shops/:shopId/finance/withdrawals/:payoutId',
    {
      config: financeRead,
      schema: {
        tags: ['finance'],
        summary: 'One of the shop’s withdrawals',
        params: shopIdParams.extend({ payoutId: idOf('po') }),
      },
    },
    async (req) => payouts.getPayout(shop(req.params.shopId), req.params.payoutId),
  );

  app.post(
    '/api/shops/:shopId/finance/withdrawals',
    {
      config: financeWithdraw,
      preValidation: idempotencyKeyFirst,
      schema: {
        tags: ['finance'],
        summary: 'Withdraw (提现) from the shop’s available balance',
        headers: idempotencyHeaders,
        params: shopIdParams,
        body: withdrawalBody,
      },
    },
    async (req, reply) =>
      sendIdempotent(
        reply,
        await payouts.requestWithdrawal(
          shop(req.params.shopId),
          requirePrincipal(req).accountId,
          req.body,
          req.headers['idempotency-key'],
        ),
      ),
  );

  // --- operators -----------------------------------------------------------------------------------

  app.put(
    '/api/operator/categories/:categoryId/deposit-requirement',
    {
      config: operatorOnly,
      schema: {
        tags: ['finance'],
        summary: 'Set the deposit a shop must lock to sell in a category (0: none)',
        params: z.object({ categoryId: idOf('cat') }),
        body: z.object({ requiredFen: z.number().int('must be whole fen (分)').min(0).max(100_000_000) }),
      },
    },
    async (req) =>
      deposits.setCategoryRequirement(
        requirePrincipal(req).accountId,
        req.params.categoryId,
        req.body.requiredFen,
      ),
  );

  app.get(
    '/api/operator/category-deposit-requirements',
    { config: operatorOnly, schema: { tags: ['finance'], summary: 'Category deposit requirements' } },
    async () => deposits.listCategoryRequirements(),
  );

  app.get(
    '/api/operator/creators/:creatorId/deposit',
    {
      config: operatorOnly,
      schema: {
        tags: ['finance'],
        summary: "A creator's deposit and sharing permission",
        params: creatorParams,
      },
    },
    async (req) => deposits.creatorDeposit(req.params.creatorId),
  );

  app.post(
    '/api/operator/creators/:creatorId/deposit/penalties',
    {
      config: operatorOnly,
      preValidation: idempotencyKeyFirst,
      schema: {
        tags: ['finance'],
        summary: "Deduct a penalty from a creator's deposit (never more than it holds)",
        headers: idempotencyHeaders,
        params: creatorParams,
        body: z.object({ amountFen: fenSchema, reason }),
      },
    },
    async (req, reply) =>
      sendIdempotent(
        reply,
        await deposits.penalizeCreator(
          requirePrincipal(req).accountId,
          req.params.creatorId,
          req.body.amountFen,
          req.body.reason,
          req.headers['idempotency-key'],
        ),
      ),
  );

  app.post(
    '/api/operator/creators/:creatorId/ban',
    {
      config: operatorOnly,
      schema: {
        tags: ['finance'],
        summary: 'Ban a creator for good: the deposit is forfeited and sharing revoked permanently',
        params: creatorParams,
        body: z.object({ reason }),
      },
    },
    async (req) =>
      deposits.banCreator(requirePrincipal(req).accountId, req.params.creatorId, req.body.reason),
  );

  app.put(
    '/api/operator/creators/:creatorId/deposit/freeze',
    {
      config: operatorOnly,
      schema: {
        tags: ['finance'],
        summary: "Freeze a creator's deposit: a withdrawal is not paid back until the freeze lifts",
        params: creatorParams,
        body: z.object({ reason }),
      },
    },
    async (req) =>
      deposits.setCreatorFreeze(requirePrincipal(req).accountId, req.params.creatorId, req.body.reason),
  );

  app.delete(
    '/api/operator/creators/:creatorId/deposit/freeze',
    {
      config: operatorOnly,
      schema: { tags: ['finance'], summary: "Lift a creator's deposit freeze", params: creatorParams },
    },
    async (req) => deposits.setCreatorFreeze(requirePrincipal(req).accountId, req.params.creatorId, null),
  );

  app.get(
    '/api/operator/shops/:shopId/deposits',
    {
      config: operatorOnly,
      schema: { tags: ['finance'], summary: "A shop's category deposits", params: shopIdParams },
    },
    async (req) => deposits.shopDeposits(req.params.shopId),
  );

  app.post(
    '/api/operator/shops/:shopId/deposits/:categoryId/penalties',
    {
      config: operatorOnly,
      preValidation: idempotencyKeyFirst,
      schema: {
        tags: ['finance'],
        summary: "Deduct a penalty from a shop's category deposit (never more than it holds)",
        headers: idempotencyHeaders,
        params: shopCategoryParams,
        body: z.object({ amountFen: fenSchema, reason }),
      },
    },
    async (req, reply) =>
      sendIdempotent(
        reply,
        await deposits.penalizeShop(
          requirePrincipal(req).accountId,
          req.params.shopId,
          req.params.categoryId,
          req.body.amountFen,
          req.body.reason,
          req.headers['idempotency-key'],
        ),
      ),
  );

  app.post(
    '/api/operator/shops/:shopId/deposits/:categoryId/forfeit',
    {
      config: operatorOnly,
      schema: {
        tags: ['finance'],
        summary: "Forfeit a shop's whole deposit for a category",
        params: shopCategoryParams,
        body: z.object({ reason }),
      },
    },
    async (req) =>
      deposits.forfeitShopDeposit(
        requirePrincipal(req).accountId,
        req.params.shopId,
        req.params.categoryId,
        req.body.reason,
      ),
  );

  app.put(
    '/api/operator/shops/:shopId/deposits/:categoryId/freeze',
    {
      config: operatorOnly,
      schema: {
        tags: ['finance'],
        summary: "Freeze a shop's category deposit: a withdrawal is not paid back until the freeze lifts",
        params: shopCategoryParams,
        body: z.object({ reason }),
      },
    },
    async (req) =>
      deposits.setShopFreeze(
        requirePrincipal(req).accountId,
        req.params.shopId,
        req.params.categoryId,
        req.body.reason,
      ),
  );

  app.delete(
    '/api/operator/shops/:shopId/deposits/:categoryId/freeze',
    {
      config: operatorOnly,
      schema: { tags: ['finance'], summary: "Lift a shop's deposit freeze", params: shopCategoryParams },
    },
    async (req) =>
      deposits.setShopFreeze(requirePrincipal(req).accountId, req.params.shopId, req.params.categoryId, null),
  );
}
