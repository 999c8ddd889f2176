/**
 * `fn` remembered per argument object: for values derived from a row that is never changed in
 * place (cached rows are replaced by new objects, never mutated), computed once per row and
 * dropped with it (WeakMap: no bound needed, nothing outlives the row).
 */
export function memoizeByObject<K extends object, V> (fn: (key: K) => V): (key: K) => V {
  const values = new WeakMap<K, V>()
  return (key: K): V => {
    let value = values.get(key)
    if (value === undefined) {
      value = fn(key)
      values.set(key, value)
    }
    return value
  }
}

/**
 * Sets `key` in a map that is kept to at most `max` entries: the oldest entry goes first (Maps
 * iterate in insertion order). For caches of values that are cheap to recompute when dropped.
 */
export function setBounded<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max && !map.has(key)) map.delete(map.keys().next().value!)
  map.set(key, value)
}
