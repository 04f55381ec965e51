import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { liveRoutes } from './live/gateway.js';
import { relayRoomEvents } from './live/relay.js';
import { RoomHub } from './live/room-hub.js';
import { afterSalesRoutes } from './modules/aftersales/routes.js';
import { AfterSalesService } from './modules/aftersales/service.js';
import { auditRoutes } from './modules/audit/routes.js';
import { AuditLog, actorFrom, SYSTEM_ACTOR } from './modules/audit/service.js';
import { catalogRoutes } from './modules/catalog/routes.js';
import { CatalogService, countSoldUnits } from './modules/catalog/service.js';
import { creatorRoutes } from './modules/creators/routes.js';
import { CreatorService } from './modules/creators/service.js';
import { flashSaleRoutes } from './modules/flashsales/routes.js';
import { FlashSaleService } from './modules/flashsales/service.js';
import { identityRoutes } from './modules/identity/routes.js';
import { IdentityService } from './modules/identity/service.js';
import { DepositService } from './modules/ledger/deposits.js';
import { financeRoutes } from './modules/ledger/finance-routes.js';
import { SimulatedPayoutProvider } from './modules/ledger/payout-provider.js';
import { PayoutService } from './modules/ledger/payouts.js';
import { ledgerRoutes } from './modules/ledger/routes.js';
import { LedgerService } from './modules/ledger/service.js';
import { orderRoutes } from './modules/orders/routes.js';
import { OrderService } from './modules/orders/service.js';
import { SimulatedPaymentProvider } from './modules/payments/provider.js';
import { PAYMENT_WEBHOOK_URL, paymentRoutes } from './modules/payments/routes.js';
import { PaymentService } from './modules/payments/service.js';
import { DecryptService } from './modules/privacy/decrypt.js';
import { BuyerErasure } from './modules/privacy/erasure.js';
import { privacyLogisticsRoutes } from './modules/privacy/logistics-routes.js';
import { privacyRoutes } from './modules/privacy/routes.js';
import { PrivacyVault } from './modules/privacy/service.js';
import { VirtualNumbers } from './modules/privacy/virtual-numbers.js';
import { Waybills } from './modules/privacy/waybills.js';
import { RoomPromotionService } from './modules/promotions/room-promotions.js';
import { promotionRoutes, roomPromotionRoutes } from './modules/promotions/routes.js';
import { PromotionService } from './modules/promotions/service.js';
import { venueRoutes } from './modules/venues/routes.js';
import { VenueService } from './modules/venues/service.js';
import { type Bus, openBus } from './platform/bus.js';
import { type Clock, DAY, systemClock } from './platform/clock.js';
import type { Config } from './platform/config.js';
import type { Platform } from './platform/context.js';
import { type Database, openDatabase } from './platform/db.js';
import { createHttpServer, type HttpServer } from './platform/http.js';
import { JobScheduler } from './platform/jobs.js';
import { localMasterKey, type MasterKeyProvider } from './platform/keys.js';
import { createLogger } from './platform/logger.js';
import { OutboxDispatcher } from './platform/outbox.js';
import { SIGNATURE_HEADER } from './platform/webhooks.js';

export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../web/dist');

export interface AppOptions {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  masterKey?: MasterKeyProvider;
  /** Reuse an open database (tests share one); otherwise one is opened from the config. */
  database?: Database;
  /** The fan-out between nodes; by default NATS when NATS_URL is set, else in-process. */
  bus?: Bus;
  /** Start the outbox poller and job timers (off in tests, which drive them by hand). */
  background?: boolean;
}

export interface App {
  http: HttpServer;
  platform: Platform;
  database: Database;
  services: {
    identity: IdentityService;
    catalog: CatalogService;
    creators: CreatorService;
    venues: VenueService;
    orders: OrderService;
    promotions: PromotionService;
    roomPromotions: RoomPromotionService;
    payments: PaymentService;
    vault: PrivacyVault;
    audit: AuditLog;
    numbers: VirtualNumbers;
    waybills: Waybills;
    decrypt: DecryptService;
    erasure: BuyerErasure;
    ledger: LedgerService;
    deposits: DepositService;
    payouts: PayoutService;
    aftersales: AfterSalesService;
    flashSales: FlashSaleService;
  };
  paymentProvider: SimulatedPaymentProvider;
  payoutProvider: SimulatedPayoutProvider;
  bus: Bus;
  hub: RoomHub;
  close(): Promise<void>;
}

/** Builds the server from the modules: the composition root. */
export async function buildApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const log = opts.logger ?? createLogger(config.LOG_LEVEL);
  const clock = opts.clock ?? systemClock;
  const ownsDatabase = !opts.database;
  const database =
    opts.database ??
    (await openDatabase({
      databaseUrl: config.DATABASE_URL,
      pgliteDir: config.PGLITE_DIR,
      poolMax: config.DB_POOL_MAX,
    }));
  const db = database.db;
  const outbox = new OutboxDispatcher(db, clock, log, config.OUTBOX_WINDOW_MS);
  const jobs = new JobScheduler(log);
  const platform: Platform = { config, db, dbKind: database.kind, clock, log, outbox, jobs };

  const masterKey =
    opts.masterKey ?? localMasterKey({ keyDir: config.KEY_DIR, envKey: config.LIVECART_MASTER_KEY });
  const identity = new IdentityService(platform);
  const vault = new PrivacyVault(db, masterKey, clock, config.PLATFORM_UTC_OFFSET_MINUTES);
  const catalog = new CatalogService(platform, identity);
  const creators = new CreatorService(platform);
  const venues = new VenueService(platform, catalog, creators);
  const numbers = new VirtualNumbers(platform, vault);
  const waybills = new Waybills(platform, vault, numbers, masterKey);
  const promotions = new PromotionService(platform, catalog);
  const orders = new OrderService(platform, venues, vault, waybills, promotions);
  const roomPromotions = new RoomPromotionService(platform, venues, (accountId, shopId) =>
    identity.shopPermissions(accountId, shopId),
  );
  const paymentProvider = new SimulatedPaymentProvider(
    config.PAYMENT_WEBHOOK_SECRET,
    config.PAYMENT_SIM_MODE,
    log,
    config.PAYMENT_SIM_WEBHOOK_DELAY_MS,
  );
  const ledger = new LedgerService(platform);
  const bus = opts.bus ?? (await openBus(config.NATS_URL, log));
  const flashSales = new FlashSaleService(platform, {
    catalog,
    orders,
    unitsChanged: (roomId) => bus.publishSignal('stock', { roomId }),
  });
  orders.registerStockHolder(flashSales);
  const hub = new RoomHub({
    bus,
    log,
    nodeId: config.NODE_ID ?? `${hostname()}:${process.pid}`,
    tickMs: config.LIVE_TICK_MS,
    loadSnapshot: (roomId) => venues.liveSnapshot(roomId),
    readStock: (skuIds) => catalog.stockOf(skuIds),
    readFlash: (roomId) => flashSales.readFlashCounters(roomId),
    persistLikes: (roomId, delta) => venues.addLikes(roomId, delta),
  });
  relayRoomEvents(outbox, bus, venues);
  const payoutProvider = new SimulatedPayoutProvider(config.PAYOUT_PROVIDER_SECRET, config.PAYOUT_SIM_MODE);
  const payouts = new PayoutService(platform, ledger, payoutProvider);
  const payments = new PaymentService(platform, orders, paymentProvider, ledger);
  const aftersales = new AfterSalesService(platform, orders, payments, ledger);
  const deposits = new DepositService(platform, ledger, creators, paymentProvider, payouts);
  payments.registerChargeOwner((event) => deposits.applyChargeWebhook(event));
  const audit = new AuditLog(platform);
  const decrypt = new DecryptService(platform, vault, numbers, audit, {
    orderFacts: (shopId, ids) => orders.decryptFacts(shopId, ids),
    paidOrdersByDay: (shopId, from, to) => orders.paidOrdersByDay(shopId, from, to),
  });
  const erasure = new BuyerErasure(platform, vault, audit, {
    recipientsForErasure: (buyerId) => orders.recipientsForErasure(buyerId),
    anonymiseAccount: (tx, accountId) => identity.anonymiseAccount(tx, accountId),
  });

  outbox.subscribeBatch('venues.room-sales', 'order.paid', (es, tx) => venues.onOrdersPaid(es, tx));
  outbox.subscribeBatch('catalog.sold-units', 'order.paid', (es, tx) => countSoldUnits(es, tx));
  outbox.subscribe('privacy.virtual-number-expiry', 'order.delivered', (e, tx) =>
    numbers.expireWithAfterSales(
      tx,
      e.aggregateId,
      new Date(e.createdAt.getTime() + config.AFTER_SALES_DAYS * DAY),
    ),
  );
  outbox.subscribeBatch('ledger.book-payment', 'order.paid', (es, tx) =>
    ledger.bookOrderPayments(
      tx,
      es.map((e) => e.payload),
    ),
  );
  outbox.subscribe('payments.refund-unclaimed', 'payment.refund_required', (e, tx) =>
    payments.refundUnclaimedCharge(tx, e.payload),
  );
  outbox.subscribe('ledger.note-delivery', 'order.delivered', (e, tx) =>
    ledger.noteOrderProgress(tx, e, 'delivered'),
  );
  outbox.subscribe('ledger.note-completion', 'order.completed', (e, tx) =>
    ledger.noteOrderProgress(tx, e, 'completed'),
  );
  jobs.register({ name: 'orders.cancel-unpaid', run: () => orders.sweepUnpaid() });
  jobs.register({ name: 'orders.auto-confirm', run: () => orders.sweepAutoConfirm() });
  jobs.register({ name: 'flashsales.open-due', run: () => flashSales.openDue() });
  jobs.register({ name: 'flashsales.release-expired', run: () => flashSales.releaseExpired() });
  jobs.register({ name: 'flashsales.end-due', run: () => flashSales.endDue() });
  jobs.register({ name: 'aftersales.deadlines', run: () => aftersales.sweepDeadlines() });
  jobs.register({
    name: 'privacy.shred-expired',
    run: () =>
      vault.shredExpired({ retentionDays: config.RETENTION_DAYS, afterSalesDays: config.AFTER_SALES_DAYS }),
  });
  jobs.register({ name: 'ledger.settle', run: () => ledger.settleDue() });
  jobs.register({ name: 'promotions.rain-clock', run: () => roomPromotions.sweepRains() });
  outbox.subscribe('ledger.send-payout', 'payout.requested', (e, tx) => payouts.sendPayout(tx, e));
  jobs.register({ name: 'ledger.poll-payouts', run: () => payouts.pollPending() });
  jobs.register({ name: 'ledger.deposit-requirements', run: () => deposits.refreshCreatorRequirements() });
  jobs.register({ name: 'ledger.deposit-reviews', run: () => deposits.finishReviews() });
  jobs.register({ name: 'privacy.release-virtual-numbers', run: () => numbers.releaseExpired() });
  jobs.register({ name: 'privacy.purge-waybill-payloads', run: () => waybills.purgeShreddedPayloads() });

  const http = await createHttpServer({
    logger: log,
    auth: identity,
    webRoot: existsSync(WEB_DIST) ? WEB_DIST : undefined,
    trustedProxies: config.TRUSTED_PROXIES.split(',')
      .map((p) => p.trim())
      .filter(Boolean),
    // A refused look at order data (another shop, a missing permission) is itself a security event.
    onAccessDenied: async (req, err) => {
      const params = req.params as { shopId: string; orderId?: string };
      const body = req.body as { orderIds?: unknown } | undefined;
      const orderIds = Array.isArray(body?.orderIds)
        ? body.orderIds.filter((x) => typeof x === 'string')
        : [];
      await audit.record(db, {
        operation: 'denied',
        actor: await audit.actorForShop(req, params.shopId),
        shopId: params.shopId,
        orderIds: params.orderId ? [params.orderId] : orderIds.slice(0, 50),
        details: { code: err.code, route: `${req.method} ${req.routeOptions.url}` },
      });
    },
  });
  identityRoutes(http, identity, (ids) => catalog.shopSummaries(ids));
  catalogRoutes(http, catalog);
  creatorRoutes(http, creators);
  venueRoutes(http, venues);
  orderRoutes(http, orders, { logisticsSecret: config.LOGISTICS_WEBHOOK_SECRET, vault, audit, db });
  promotionRoutes(http, promotions);
  roomPromotionRoutes(http, roomPromotions);
  privacyRoutes(http, { decrypt, erasure, audit });
  privacyLogisticsRoutes(http, {
    waybills,
    numbers,
    telephonySecret: config.TELEPHONY_WEBHOOK_SECRET,
    getAccount: (id) => identity.getAccount(id),
    audit: (req, e) =>
      audit.record(db, {
        operation: e.operation,
        actor: req ? actorFrom(req, 'carrier') : { ...SYSTEM_ACTOR, accountType: 'telephony' },
        shopId: e.shopId,
        orderIds: e.orderIds,
        details: e.details,
      }),
  });
  auditRoutes(http, audit);
  liveRoutes(http, { hub, bus, identity });
  ledgerRoutes(http, ledger);
  financeRoutes(http, { deposits, payouts });
  paymentRoutes(http, payments, config.PAYMENT_WEBHOOK_SECRET);
  afterSalesRoutes(http, aftersales);
  flashSaleRoutes(http, flashSales);
  http.get('/health', { schema: { hide: true } }, async () => ({ ok: true, db: database.kind }));

  // The simulated provider calls our webhook through the HTTP stack, as a real provider would.
  paymentProvider.sender = async (body, signature) => {
    const res = await http.inject({
      method: 'POST',
      url: PAYMENT_WEBHOOK_URL,
      payload: body,
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
    });
    return res.statusCode;
  };

  await http.ready();
  hub.start();
  if (opts.background !== false) {
    outbox.start();
    jobs.start(config.JOB_INTERVAL_MS);
  }

  return {
    http,
    platform,
    database,
    services: {
      identity,
      catalog,
      creators,
      venues,
      orders,
      promotions,
      roomPromotions,
      payments,
      vault,
      audit,
      numbers,
      waybills,
      decrypt,
      erasure,
      ledger,
      deposits,
      payouts,
      aftersales,
      flashSales,
    },
    paymentProvider,
    payoutProvider,
    bus,
    hub,
    async close() {
      jobs.stop();
      hub.stop();
      await flashSales.settle();
      await paymentProvider.settle();
      await outbox.stop();
      await http.close();
      if (!opts.bus) await bus.close();
      if (ownsDatabase) await database.close();
    },
  };
}
