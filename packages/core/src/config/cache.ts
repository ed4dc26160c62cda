import { checkNumber, describeValue, InvalidOptionError } from '@switchyard/strategies'
import { cacheStores, type interceptors } from 'undici'
import { featureOptions } from './feature.js'

/** An undici cache store (undici's `CacheStore` type). */
export type CacheStore = NonNullable<NonNullable<Parameters<typeof interceptors.cache>[0]>['store']>

/** Options of the balancer's `cache` (`true` is every default): nginx `proxy_cache`, on undici's cache interceptor. */
export interface CacheOptions {
  /**
   * Where responses are kept: an undici cache store (`new cacheStores.SqliteCacheStore({ location })`
   * where `node:sqlite` exists, or a store of your own).
   * @default a MemoryCacheStore of `maxSize` bytes
   */
  store?: CacheStore
  /** Bytes the default memory store holds at most; the oldest responses go first past it. @default 67_108_864 (64 MiB) */
  maxSize?: number
  /** The largest response the default memory store keeps, bytes. @default 5_242_880 (undici's) */
  maxEntrySize?: number
}

export interface ResolvedCache {
  readonly store: CacheStore
}

/** Checks `cache`; undefined when off. */
export function normalizeCache(input: unknown): ResolvedCache | undefined {
  const o = featureOptions(input, 'cache', ['store', 'maxSize', 'maxEntrySize'])
  if (o === undefined) return undefined
  if (o.store !== undefined) {
    const s = o.store as Partial<CacheStore> | null
    if (s === null || typeof s !== 'object' || typeof s.get !== 'function' || typeof s.createWriteStream !== 'function' || typeof s.delete !== 'function') {
      throw new InvalidOptionError(`cache.store must be an undici cache store (get, createWriteStream, delete), got ${describeValue(o.store)}`, { field: 'cache.store' })
    }
    if (o.maxSize !== undefined || o.maxEntrySize !== undefined) {
      throw new InvalidOptionError('cache.maxSize and cache.maxEntrySize size the default store: set them on your own store', { field: 'cache.store' })
    }
    return { store: o.store as CacheStore }
  }
  const maxSize = checkNumber(o.maxSize, 'cache.maxSize', 64 * 1024 * 1024, { integer: true, min: 1 })
  const maxEntrySize = checkNumber(o.maxEntrySize, 'cache.maxEntrySize', 5 * 1024 * 1024, { integer: true, min: 1 })
  return { store: new cacheStores.MemoryCacheStore({ maxSize, maxEntrySize, maxCount: Number.MAX_SAFE_INTEGER }) }
}
