import { BoundedLoad } from './internal/bounded-load.js'
import { EligibleMarks, isPickable } from './internal/eligible.js'
import { hash32 } from './internal/hash.js'
import { addressKey } from './keys.js'
import { checkFunction, checkNumber, checkObject, rejectUnknownKeys } from './options-check.js'
import { roundRobin } from './round-robin.js'
import type { Affinity, Candidate, KeyFunction, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link consistentHash}. */
export interface ConsistentHashOptions extends StrategyDeps {
  /**
   * The request's key.
   * @default the client address (`addressKey`)
   */
  key?: KeyFunction
  /**
   * Ring points of an upstream of average weight; an upstream's share scales with its weight.
   * 160 is ketama's (libketama: 40 hashes × 4 points per server).
   * @default 160
   */
  points?: number
  /**
   * Bounded loads: an upstream takes at most this many times its weight's share of the requests
   * in flight, and a key whose owner is full goes to the next owner on the ring with room (Google's
   * consistent hashing with bounded loads; HAProxy `hash-balance-factor`, Envoy
   * `hash_balance_factor`, both in percent: 125 there is 1.25 here). A hot key then spills over
   * instead of piling up on one upstream, while every other key keeps its owner. Above 1; 1.25 is
   * the paper's and HAProxy's usual choice. Off when not given.
   * @default none (plain ketama)
   */
  balanceFactor?: number
}

/** Bits of the owner's position packed under the point hash in one float64 (2^20 upstreams). */
const OWNER_BITS = 2 ** 20

/**
 * Consistent hashing on a ketama ring: each upstream owns `points × weight / mean weight` points
 * on a 32-bit ring, and a request goes to the owner of the first point at or after its key's hash.
 * Adding or removing one of n upstreams moves about 1/n of the keys, and only keys of that
 * upstream. An upstream that is down or refused (already tried, at its cap) passes its keys to
 * the next owner on the ring, and gets them back when it returns. Requests without a key go
 * round robin.
 *
 * With `balanceFactor`, loads are bounded: a key whose owner carries more than its share × the
 * factor goes on along the ring to the first owner with room.
 *
 * Cost: pick O(log p) for p ring points (binary search), plus a walk past ineligible (or, bounded,
 * full) owners; rebuild O(p log p). No allocation per pick.
 *
 * @example
 * createBalancer({ upstreams, strategy: consistentHash({ key: headerKey('x-user-id') }) })
 */
export function consistentHash(options: ConsistentHashOptions = {}): Strategy {
  const o = checkObject(options, 'consistentHash()')
  rejectUnknownKeys(o, ['key', 'points', 'balanceFactor', 'random', 'now'], 'consistentHash()')
  return new Ring('consistent-hash', checkFunction(o.key, 'consistentHash().key', addressKey), {
    points: checkNumber(o.points, 'consistentHash().points', 160, { min: 1, max: 10_000, integer: true }),
    random: checkFunction<() => number>(o.random, 'consistentHash().random', Math.random),
    balanceFactor: balanceFactorOf(o.balanceFactor, 'consistentHash().balanceFactor'),
  })
}

/** A `balanceFactor` option: a number above 1, or undefined (off). */
export function balanceFactorOf(value: unknown, field: string): number | undefined {
  return value === undefined ? undefined : checkNumber(value, field, 0, { min: 1, exclusiveMin: true })
}

export class Ring implements Strategy {
  readonly name: string
  readonly affinity: Affinity
  readonly #points: number
  readonly #fallback: Strategy
  readonly #marks = new EligibleMarks()
  readonly #bound: BoundedLoad | undefined
  readonly onStart: ((c: Candidate) => void) | undefined
  readonly onEnd: ((c: Candidate) => void) | undefined
  #hashes = new Float64Array(0)
  #owners: Candidate[] = []
  #ownerOf = new Int32Array(0)

  constructor(name: string, key: KeyFunction, options: { points: number; random: () => number; balanceFactor?: number | undefined }) {
    this.name = name
    this.affinity = { key }
    this.#points = options.points
    this.#fallback = roundRobin({ random: options.random })
    const bound = options.balanceFactor === undefined ? undefined : new BoundedLoad(options.balanceFactor)
    this.#bound = bound
    // Only a bounded ring follows loads: plain ketama costs nothing per request start and end.
    this.onStart = bound === undefined ? undefined : (c) => bound.track(c)
    this.onEnd = this.onStart
  }

  rebuild(all: readonly Candidate[]): void {
    this.#fallback.rebuild?.(all)
    this.#marks.clear()
    this.#bound?.reset(all)
    this.#owners = [...all]
    let totalWeight = 0
    for (const c of all) totalWeight += c.weight
    const mean = totalWeight / Math.max(1, all.length)
    const counts = all.map((c) => Math.max(1, Math.round((this.#points * c.weight) / mean)))
    const total = counts.reduce((a, b) => a + b, 0)
    const packed = new Float64Array(total)
    let at = 0
    for (let i = 0; i < all.length; i++) {
      const id = all[i]!.id
      for (let j = 0; j < counts[i]!; j++) packed[at++] = hash32(`${id}-${j}`) * OWNER_BITS + i
    }
    packed.sort()
    this.#hashes = new Float64Array(total)
    this.#ownerOf = new Int32Array(total)
    for (let k = 0; k < total; k++) {
      const owner = packed[k]! % OWNER_BITS
      this.#ownerOf[k] = owner
      this.#hashes[k] = (packed[k]! - owner) / OWNER_BITS
    }
  }

  pick(eligible: readonly Candidate[], ctx: PickContext): Candidate | undefined {
    const key = ctx.key
    const total = this.#hashes.length
    if (key === undefined || total === 0 || eligible.length === 0) return this.#fallback.pick(eligible, ctx)
    const h = hash32(key)
    let lo = 0
    let hi = total
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#hashes[mid]! < h) lo = mid + 1
      else hi = mid
    }
    const marks = this.#marks.of(eligible)
    const bound = this.#bound
    let full: Candidate | undefined // the first owner that could take it but is full
    for (let k = 0; k < total; k++) {
      const c = this.#owners[this.#ownerOf[(lo + k) % total]!]!
      if (!isPickable(c, marks, ctx)) continue
      if (bound === undefined || bound.hasRoom(c, eligible)) return c
      full ??= c
    }
    return full ?? this.#fallback.pick(eligible, ctx)
  }
}
