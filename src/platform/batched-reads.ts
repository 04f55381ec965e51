import DataLoader from 'dataloader';

/**
 * Reads of one kind asked for in the same turn of the event loop (concurrent requests) go to
 * the database as ONE query: `load(keys)` gets the distinct keys and answers in their order.
 * dataloader without its cache (every read sees what is committed when its batch runs), the
 * batch cut at setImmediate so every request that arrived in this turn joins.
 */
export function batchedReads<K, V>(load: (keys: readonly K[]) => Promise<V[]>): DataLoader<K, V> {
  return new DataLoader<K, V>(load, {
    cache: false,
    maxBatchSize: 500,
    batchScheduleFn: (run) => setImmediate(run),
  });
}

/** Loads several keys of one loader; the first failure is thrown (dataloader returns it). */
export async function loadAll<K, V>(loader: DataLoader<K, V>, keys: readonly K[]): Promise<V[]> {
  const out = await loader.loadMany(keys);
  for (const v of out) if (v instanceof Error) throw v;
  return out as V[];
}
