import { monotonicFactory } from 'ulid';

const ulid = monotonicFactory();

/** Prefixes tell what an id names in logs and URLs. */
export const ID_PREFIX = {
  account: 'acc',
  session: 'ses',
  shop: 'shp',
  category: 'cat',
  product: 'prd',
  sku: 'sku',
  liveRoom: 'lr',
  cartItem: 'lri',
  video: 'vid',
  order: 'ord',
  orderLine: 'oln',
  payment: 'pay',
  recipient: 'rcp',
  dataKey: 'dk',
  event: 'evt',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

/** Time-sortable (ULID) id with a readable prefix, e.g. `ord_01JD…`. */
export function newId(kind: IdKind): string {
  return `${ID_PREFIX[kind]}_${ulid().toLowerCase()}`;
}
