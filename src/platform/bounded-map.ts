/**
 * Sets `key` in an insertion-ordered Map that holds at most `max` entries: the oldest entry is
 * forgotten first. For a node's in-memory memos (settled charges, opened data keys, the
 * simulated provider's books), which must not grow with the traffic of a long-running server.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max && !map.has(key)) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
