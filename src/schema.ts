// Every table, for drizzle-kit and the typed database handle. Each module owns its own.

export * from './modules/aftersales/schema.js';
export * from './modules/audit/schema.js';
export * from './modules/catalog/schema.js';
export * from './modules/creators/schema.js';
export * from './modules/flashsales/schema.js';
export * from './modules/identity/schema.js';
export * from './modules/ledger/schema.js';
export * from './modules/orders/schema.js';
export * from './modules/payments/schema.js';
export * from './modules/privacy/schema.js';
export * from './modules/promotions/schema.js';
export * from './modules/venues/schema.js';
export * from './platform/schema.js';
