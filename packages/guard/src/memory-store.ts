import { checkNumber, checkObject, rejectUnknownKeys } from '@switchyard/strategies'

/** A key's bucket after a request, as nginx's `limit_req` keeps it (in requests, not milli-requests). */
export interface BucketState {
  /** Whether this request was counted (false: refused, it would go over `burst`). */
  readonly allowed: boolean
  /** Requests in excess of the rate after this one: an allowed request waits excess / rate s (unless nodelay). */
  readonly excess: number
  /** For a refused request, ms until one would be allowed. */
  readonly retryMs: number
}

/** Where `rateLimit` keeps its buckets: in memory (`memoryStore`) or shared (a Redis store). */
export interface RateLimitStore {
  /** Counts one request for `key` at `now` (ms), leaking at `rate` per second, refusing past `burst`. */
  hit(key: string, now: number, rate: number, burst: number): BucketState | Promise<BucketState>
}

/** The in-process store: answers at once. */
export interface MemoryStore extends RateLimitStore {
  hit(key: string, now: number, rate: number, burst: number): BucketState
  /** Keys kept now. */
  readonly size: number
}

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Keys kept at most; past it the least recently seen key is forgotten (its client starts
   * afresh), so a flood of distinct addresses cannot grow memory without bound. About 100 bytes
   * a key: 100 000 keys is about 10 MB (nginx's `limit_req_zone` sizes its zone the same way).
   * @default 100_000
   */
  max?: number
}

/**
 * The in-process store: one bucket per key in a `Map` kept in least-recently-seen order, each
 * `{ excess, last }` as nginx keeps them (ngx_http_limit_req_module). O(1) a request.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const o = checkObject(options, 'memoryStore()')
  rejectUnknownKeys(o, ['max'], 'memoryStore()')
  const max = checkNumber(o.max, 'memoryStore().max', 100_000, { min: 1, integer: true })
  const buckets = new Map<string, { excess: number; last: number }>()
  return {
    get size() {
      return buckets.size
    },
    hit(key, now, rate, burst) {
      const b = buckets.get(key)
      if (b === undefined) {
        // A new key passes at once with no excess (nginx: a new node starts at excess 0).
        if (buckets.size >= max) buckets.delete(buckets.keys().next().value as string)
        buckets.set(key, { excess: 0, last: now })
        return { allowed: true, excess: 0, retryMs: 0 }
      }
      buckets.delete(key) // re-inserted below: most recently seen last
      buckets.set(key, b)
      // nginx: excess = max(0, excess − rate × elapsed + 1), refused when over burst.
      const excess = Math.max(0, b.excess - ((now - b.last) * rate) / 1000 + 1)
      if (excess > burst) {
        // Refused; nginx leaves the node as it was. Allowed again once it has leaked down.
        return { allowed: false, excess: b.excess, retryMs: ((excess - burst) * 1000) / rate }
      }
      b.excess = excess
      b.last = now
      return { allowed: true, excess, retryMs: 0 }
    },
  }
}
