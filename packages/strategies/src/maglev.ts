import { balanceFactorOf } from './consistent-hash.js'
import { BoundedLoad } from './internal/bounded-load.js'
import { EligibleMarks, isPickable } from './internal/eligible.js'
import { hash32 } from './internal/hash.js'
import { addressKey } from './keys.js'
import { InvalidOptionError } from './errors.js'
import { checkFunction, checkNumber, checkObject, rejectUnknownKeys } from './options-check.js'
import { roundRobin } from './round-robin.js'
import type { Candidate, KeyFunction, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link maglev}. */
export interface MaglevOptions extends StrategyDeps {
  /**
   * The request's key.
   * @default the client address (`addressKey`)
   */
  key?: KeyFunction
  /**
   * Lookup table size, a prime larger than the number of upstreams (the Maglev paper advises at
   * least 100 × n for evenness within 1%). Envoy's default is 65 537.
   * @default 65_537
   */
  tableSize?: number
  /**
   * Bounded loads, as {@link ConsistentHashOptions.balanceFactor}: an upstream takes at most this
   * many times its weight's share of the requests in flight; a key whose entry's owner is full
   * goes to the next entry's owner with room (Envoy's `hash_balance_factor` applies to Maglev too).
   * @default none
   */
  balanceFactor?: number
}

function isPrime(n: number): boolean {
  if (n < 2 || n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016), as Envoy's `MAGLEV`: a lookup table of `tableSize`
 * entries filled by each upstream's pseudo-random permutation, in turns proportional to weight, so
 * shares are near-perfectly even and adding or removing one of n upstreams moves about 1/n of
 * the keys. A key whose entry is down or refused (already tried, at its cap) goes to the next
 * entry's owner. Requests without a key go round robin.
 *
 * With `balanceFactor`, loads are bounded: a key whose owner carries more than its share × the
 * factor goes to the next entry's owner with room.
 *
 * Cost: pick O(1) (one hash, one table read; a short probe past ineligible or full owners); rebuild
 * O(M log M) for table size M. No allocation per pick.
 *
 * @example
 * createBalancer({ upstreams, strategy: maglev({ key: cookieKey('session') }) })
 */
export function maglev(options: MaglevOptions = {}): Strategy {
  const o = checkObject(options, 'maglev()')
  rejectUnknownKeys(o, ['key', 'tableSize', 'balanceFactor', 'random', 'now'], 'maglev()')
  const size = checkNumber(o.tableSize, 'maglev().tableSize', 65_537, { min: 3, max: 5_000_011, integer: true })
  if (!isPrime(size)) {
    throw new InvalidOptionError(`maglev().tableSize must be a prime, got ${size}`, { field: 'maglev().tableSize' })
  }
  const key = checkFunction<KeyFunction>(o.key, 'maglev().key', addressKey)
  const fallback = roundRobin({ random: checkFunction<() => number>(o.random, 'maglev().random', Math.random) })
  const marks = new EligibleMarks()
  const factor = balanceFactorOf(o.balanceFactor, 'maglev().balanceFactor')
  const bound = factor === undefined ? undefined : new BoundedLoad(factor)
  let owners: Candidate[] = []
  let table = new Int32Array(0)

  const strategy: Strategy = {
    name: 'maglev',
    affinity: { key },
    rebuild(all: readonly Candidate[]) {
      fallback.rebuild?.(all)
      marks.clear()
      bound?.reset(all)
      owners = [...all]
      const n = all.length
      table = new Int32Array(n === 0 ? 0 : size).fill(-1)
      if (n === 0) return
      if (n >= size) {
        throw new InvalidOptionError(`maglev().tableSize (${size}) must be larger than the number of upstreams (${n})`, {
          field: 'maglev().tableSize',
        })
      }
      const offset = new Float64Array(n)
      const skip = new Float64Array(n)
      const next = new Float64Array(n)
      const credit = new Float64Array(n)
      let maxWeight = 0
      for (let i = 0; i < n; i++) {
        const id = all[i]!.id
        offset[i] = hash32(id, 0x9747b28c) % size
        skip[i] = (hash32(id, 0x5bd1e995) % (size - 1)) + 1
        maxWeight = Math.max(maxWeight, all[i]!.weight)
      }
      let filled = 0
      while (filled < size) {
        for (let i = 0; i < n && filled < size; i++) {
          credit[i]! += all[i]!.weight / maxWeight
          while (credit[i]! >= 1 && filled < size) {
            credit[i]! -= 1
            let slot: number
            do {
              slot = (offset[i]! + next[i]! * skip[i]!) % size
              next[i]!++
            } while (table[slot] !== -1)
            table[slot] = i
            filled++
          }
        }
      }
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      const k = ctx.key
      if (k === undefined || table.length === 0 || eligible.length === 0) return fallback.pick(eligible, ctx)
      const m = marks.of(eligible)
      const start = hash32(k) % size
      let full: Candidate | undefined // the first owner that could take it but is full
      for (let probe = 0; probe < size; probe++) {
        const c = owners[table[(start + probe) % size]!]!
        if (!isPickable(c, m, ctx)) continue
        if (bound === undefined || bound.hasRoom(c, eligible)) return c
        full ??= c
      }
      return full ?? fallback.pick(eligible, ctx)
    },
  }
  // Only a bounded table follows loads: plain Maglev costs nothing per request start and end.
  if (bound !== undefined) {
    strategy.onStart = (c) => bound.track(c)
    strategy.onEnd = (c) => bound.track(c)
  }
  return strategy
}
