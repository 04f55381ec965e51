import { Readable } from 'node:stream';
import { z } from 'zod';
import { requirePrincipal } from '../../platform/auth.js';
import { DAY } from '../../platform/clock.js';
import type { HttpServer } from '../../platform/http.js';
import { idOf, pageQuery, shopIdParams } from '../../platform/schemas.js';
import { creatorAccount, creatorDepositAccount, shopAccount } from './accounts.js';
import { COMMISSION_STATUSES } from './schema.js';
import type { LedgerService } from './service.js';

const operatorOnly = { access: { roles: ['operator'] } } as const;
const creatorOnly = { access: { roles: ['creator'] } } as const;
const financeRead = { access: { roles: ['merchant'], shopPermission: 'finance.read' } } as const;

const period = z
  .object({ from: z.coerce.date(), to: z.coerce.date() })
  .refine((p) => p.to > p.from, { message: 'to must be after from', path: ['to'] })
  .refine((p) => p.to.getTime() - p.from.getTime() <= 366 * DAY, {
    message: 'a statement covers at most 366 days',
    path: ['to'],
  });

const shopAccounts = (shopId: string, deposits: string[]) => [
  shopAccount(shopId, 'pending'),
  shopAccount(shopId, 'available'),
  ...deposits,
];
const creatorAccounts = (creatorId: string) => [
  creatorAccount(creatorId, 'pending'),
  creatorAccount(creatorId, 'available'),
  creatorDepositAccount(creatorId),
];

export function ledgerRoutes(app: HttpServer, ledger: LedgerService): void {
  app.post(
    '/api/operator/fee-rates',
    {
      config: operatorOnly,
      schema: {
        tags: ['ledger'],
        summary:
          'Set a category’s technical service fee (技术服务费), or a programme waiver/reduction with a window',
        body: z.object({
          categoryId: idOf('cat'),
          bps: z.number().int().min(0).max(2000),
          programme: z.string().trim().min(2).max(60).optional(),
          startsAt: z.coerce.date().optional(),
          endsAt: z.coerce.date().optional(),
        }),
      },
    },
    async (req, reply) =>
      reply.code(201).send(await ledger.setFeeRate(requirePrincipal(req).accountId, req.body)),
  );

  app.get(
    '/api/operator/fee-rates',
    {
      config: operatorOnly,
      schema: {
        tags: ['ledger'],
        summary: 'Fee rates and programmes',
        querystring: z.object({ categoryId: idOf('cat').optional() }),
      },
    },
    async (req) => ({ items: await ledger.listFeeRates(req.query.categoryId) }),
  );

  app.get(
    '/api/operator/ledger/verify',
    {
      config: operatorOnly,
      schema: {
        tags: ['ledger'],
        summary: 'Prove the books: journals balance, postings sum to zero, balances equal their sums',
      },
    },
    async () => ledger.verify(),
  );

  app.put(
    '/api/operator/creators/:creatorId/commission-freeze',
    {
      config: operatorOnly,
      schema: {
        tags: ['ledger'],
        summary: "Freeze a creator's commission: pending commission does not settle until lifted",
        params: z.object({ creatorId: idOf('acc') }),
        body: z.object({ reason: z.string().trim().min(2).max(200) }),
      },
    },
    async (req) =>
      ledger.freezeCommission(requirePrincipal(req).accountId, req.params.creatorId, req.body.reason),
  );

  app.delete(
    '/api/operator/creators/:creatorId/commission-freeze',
    {
      config: operatorOnly,
      schema: {
        tags: ['ledger'],
        summary: 'Lift a commission freeze; held commission settles on the next run',
        params: z.object({ creatorId: idOf('acc') }),
      },
    },
    async (req) => ledger.unfreezeCommission(req.params.creatorId),
  );

  app.get(
    '/api/shops/:shopId/finance/balances',
    {
      config: financeRead,
      schema: {
        tags: ['ledger'],
        summary: "The shop's pending, available and deposit balances",
        params: shopIdParams,
      },
    },
    async (req) => ledger.ownerBalances(`shop:${req.params.shopId}:`),
  );

  app.get(
    '/api/shops/:shopId/finance/statement',
    {
      config: financeRead,
      schema: {
        tags: ['ledger'],
        summary: 'Statement for a period: opening + in − out = closing per account, with entries',
        params: shopIdParams,
        querystring: period,
      },
    },
    async (req) => {
      const { shopId } = req.params;
      const accounts = shopAccounts(shopId, await ledger.depositAccountsOf(`shop:${shopId}:deposit:`));
      return ledger.statement(accounts, req.query.from, req.query.to);
    },
  );

  app.get(
    '/api/shops/:shopId/finance/statement.csv',
    {
      config: financeRead,
      schema: {
        tags: ['ledger'],
        summary: 'Statement as CSV (every entry)',
        params: shopIdParams,
        querystring: period,
      },
    },
    async (req, reply) => {
      const { shopId } = req.params;
      const accounts = shopAccounts(shopId, await ledger.depositAccountsOf(`shop:${shopId}:deposit:`));
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="statement-${shopId}.csv"`);
      return reply.send(Readable.from(ledger.statementCsv(accounts, req.query.from, req.query.to)));
    },
  );

  app.get(
    '/api/creator/commissions',
    {
      config: creatorOnly,
      schema: {
        tags: ['ledger'],
        summary: 'My commission by order: pending → settled → withdrawn, or refunded / frozen',
        querystring: pageQuery.extend({ status: z.enum(COMMISSION_STATUSES).optional() }),
      },
    },
    async (req) => ledger.listCommissions(requirePrincipal(req).accountId, req.query),
  );

  app.get(
    '/api/creator/finance/balances',
    {
      config: creatorOnly,
      schema: { tags: ['ledger'], summary: 'My pending, available and deposit balances' },
    },
    async (req) => ledger.ownerBalances(`creator:${requirePrincipal(req).accountId}:`),
  );

  app.get(
    '/api/creator/finance/statement',
    {
      config: creatorOnly,
      schema: { tags: ['ledger'], summary: 'My statement for a period', querystring: period },
    },
    async (req) =>
      ledger.statement(creatorAccounts(requirePrincipal(req).accountId), req.query.from, req.query.to),
  );

  app.get(
    '/api/creator/finance/statement.csv',
    {
      config: creatorOnly,
      schema: { tags: ['ledger'], summary: 'My statement as CSV', querystring: period },
    },
    async (req, reply) => {
      const me = requirePrincipal(req).accountId;
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="statement-${me}.csv"`);
      return reply.send(
        Readable.from(ledger.statementCsv(creatorAccounts(me), req.query.from, req.query.to)),
      );
    },
  );
}
