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
  /** What the keys kept now cost, in bytes, as the store counts them (see `maxBytes`). */
  readonly bytes: number
}

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Keys kept at most; past it the least recently seen key, near enough (see {@link memoryStore}),
   * is forgotten (its client starts afresh), so a flood of distinct addresses cannot grow memory
   * without bound. About 115 bytes a key: 100 000 keys is about 11.5 MB.
   * @default 100_000
   */
  max?: number
  /**
   * Bytes the keys may cost at most, each counted as {@link KEY_BYTES} plus its length; past it
   * the least recently seen keys are forgotten, as past `max`. Bounds memory whatever the keys
   * are (long ones from a `key` function), as nginx sizes `limit_req_zone` in bytes.
   * @default 16 MiB (about 145 000 address keys)
   */
  maxBytes?: number
}

/**
 * What one key costs beyond its characters, in bytes: the Map entry, the bucket object with its
 * two numbers and its mark, and the string's header, as V8 lays them out on 64-bit. Measured on
 * Node 20: 100 000 IPv4 keys of 12 characters grew the heap by 11.7 MB, 117 bytes a key; counted as
 * 104 + 12.
 */
export const KEY_BYTES = 104

/** The answer for a request within the rate (no excess), the common one: shared, so it costs no allocation. */
const PASSED: BucketState = Object.freeze({ allowed: true, excess: 0, retryMs: 0 })

/** A key's bucket: nginx's two numbers, and whether it was seen since it last came up for eviction. */
interface Bucket {
  excess: number
  last: number
  seen: boolean
}

/**
 * The in-process store: one bucket per key in a `Map`, each `{ excess, last }` as nginx keeps them
 * (ngx_http_limit_req_module). O(1) a request.
 *
 * Which key goes when the store is full: the least recently seen, near enough, by CLOCK (the
 * second-chance rule operating systems page out by). A hit marks its bucket seen and moves
 * nothing; the oldest key goes unless it was seen since it last came up, in which case it is
 * unmarked and moved to the back. Exact LRU order in a `Map` moves every key it hits (delete,
 * then set), and V8's ordered table fills with holes and rebuilds itself: measured on Node 20, a
 * hit took 100 ns with one key and 700-770 ns among 90 000, and allocated 156 bytes a request in
 * the gateway; with CLOCK 47 and 305-347 ns, and nothing.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const o = checkObject(options, 'memoryStore()')
  rejectUnknownKeys(o, ['max', 'maxBytes'], 'memoryStore()')
  const max = checkNumber(o.max, 'memoryStore().max', 100_000, { min: 1, integer: true })
  const maxBytes = checkNumber(o.maxBytes, 'memoryStore().maxBytes', 16 * 1024 * 1024, { min: KEY_BYTES, integer: true })
  const buckets = new Map<string, Bucket>()
  let bytes = 0
  /** Forgets one key: the oldest not seen since it last came up (CLOCK). Ends: each pass unmarks what it moves. */
  const evictOne = (): void => {
    for (;;) {
      const oldest = buckets.keys().next().value as string
      const b = buckets.get(oldest)!
      buckets.delete(oldest)
      if (!b.seen) {
        bytes -= KEY_BYTES + oldest.length
        return
      }
      b.seen = false
      buckets.set(oldest, b) // a second chance, at the back
    }
  }
  return {
    get size() {
      return buckets.size
    },
    get bytes() {
      return bytes
    },
    hit(key, now, rate, burst) {
      const b = buckets.get(key)
      if (b === undefined) {
        // A new key passes at once with no excess (nginx: a new node starts at excess 0).
        const cost = KEY_BYTES + key.length
        while (buckets.size !== 0 && (buckets.size >= max || bytes + cost > maxBytes)) evictOne()
        buckets.set(key, { excess: 0, last: now, seen: false })
        bytes += cost
        return PASSED
      }
      b.seen = true
      // nginx: excess = max(0, excess − rate × elapsed + 1), refused when over burst.
      const excess = Math.max(0, b.excess - ((now - b.last) * rate) / 1000 + 1)
      if (excess > burst) {
        // Refused; nginx leaves the node as it was. Allowed again once it has leaked down.
        return { allowed: false, excess: b.excess, retryMs: ((excess - burst) * 1000) / rate }
      }
      b.excess = excess
      b.last = now
      return excess === 0 ? PASSED : { allowed: true, excess, retryMs: 0 }
    },
  }
}
