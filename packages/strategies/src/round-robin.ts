import { EligibleMarks, isPickable } from './internal/eligible.js'
import { checkFunction, checkObject, rejectUnknownKeys } from './options-check.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link roundRobin}. */
export interface RoundRobinOptions extends StrategyDeps {}

/**
 * How far into nginx's cycle a new round robin starts, at most, in picks. A random start keeps a
 * fleet of processes from moving in lock step (Envoy seeds its round robin the same way); the
 * bound keeps `rebuild` cheap when weights are large.
 */
const MAX_START_OFFSET = 64

/**
 * Longest precomputed cycle (entries, one per unit of total weight). Over it, picks run nginx's
 * O(n) loop instead of walking the cycle.
 */
const MAX_CYCLE = 1 << 20

/**
 * Smooth weighted round robin, exactly as nginx's `upstream` does it (ngx_http_upstream_round_robin.c,
 * "smooth weighted round-robin balancing"): on each pick every candidate's current weight grows by
 * its weight, the largest wins (the first one on ties), and the winner gives back the total.
 * Weights 5, 1, 1 give a a b a c a a. The default strategy.
 *
 * Cost: pick O(1) amortized: `rebuild` precomputes nginx's whole cycle (one entry per unit of total
 * weight, up to 2^20) and a pick walks it, skipping upstreams that are not eligible or already
 * refused by the core (their share goes to the others in proportion to weight). Without a rebuild, or with a
 * larger total weight, a pick is nginx's O(n) loop. rebuild O(W × n) for total weight W. No
 * allocation per pick.
 *
 * @example
 * createBalancer({ upstreams: ['http://127.0.0.1:5000', { url: 'http://127.0.0.1:5001', weight: 2 }], strategy: roundRobin() })
 */
export function roundRobin(options: RoundRobinOptions = {}): Strategy {
  const input = checkObject(options, 'roundRobin()')
  rejectUnknownKeys(input, ['random', 'now'], 'roundRobin()')
  const random = checkFunction<() => number>(input.random, 'roundRobin().random', Math.random)
  return new RoundRobin(random)
}

class RoundRobin implements Strategy {
  readonly name = 'round-robin'
  readonly #random: () => number
  /** Current weight per candidate slot (nginx `current_weight`). */
  #current = new Float64Array(8)
  /** True when every upstream has the same weight: plain rotation gives the same sequence. */
  #uniform = false
  #cursor = 0
  /** nginx's sequence over all upstreams, one full cycle, as positions in #all. */
  #cycle: Int32Array | undefined
  #all: readonly Candidate[] = []
  readonly #marks = new EligibleMarks()

  constructor(random: () => number) {
    this.#random = random
  }

  rebuild(all: readonly Candidate[]): void {
    let maxIndex = 0
    let uniform = true
    for (const c of all) {
      if (c.index > maxIndex) maxIndex = c.index
      if (c.weight !== all[0]!.weight) uniform = false
    }
    this.#current = new Float64Array(Math.max(8, maxIndex + 1))
    this.#uniform = uniform
    const offset = Math.floor(this.#random() * Math.min(MAX_START_OFFSET, all.length === 0 ? 0 : totalWeight(all)))
    this.#cursor = all.length === 0 ? 0 : offset % all.length
    this.#cycle = undefined
    this.#marks.clear()
    const total = totalWeight(all)
    if (!uniform && total <= MAX_CYCLE) {
      // One full cycle of nginx's sequence from a fresh state; it repeats after `total` picks.
      this.#all = all
      const position = new Map(all.map((c, i) => [c, i]))
      const cycle = new Int32Array(total)
      for (let i = 0; i < total; i++) cycle[i] = position.get(this.#smooth(all, acceptAll)!)!
      this.#cycle = cycle
      this.#cursor = offset % total
    } else if (!uniform) {
      for (let i = 0; i < offset; i++) this.#smooth(all, acceptAll)
    }
  }

  pick(eligible: readonly Candidate[], ctx: PickContext): Candidate | undefined {
    const n = eligible.length
    if (n === 0) return undefined
    if (this.#uniform) {
      for (let k = 0; k < n; k++) {
        const i = (this.#cursor + k) % n
        const c = eligible[i]!
        if (!ctx.accept(c)) continue
        this.#cursor = (i + 1) % n
        return c
      }
      return undefined
    }
    const cycle = this.#cycle
    if (cycle === undefined) return this.#smooth(eligible, ctx.accept)
    const marks = this.#marks.of(eligible)
    const all = this.#all
    for (let k = 0; k < cycle.length; k++) {
      const c = all[cycle[this.#cursor]!]!
      this.#cursor = this.#cursor + 1 === cycle.length ? 0 : this.#cursor + 1
      if (isPickable(c, marks, ctx)) return c
    }
    return undefined
  }

  #smooth(eligible: readonly Candidate[], accept: (c: Candidate) => boolean): Candidate | undefined {
    let best: Candidate | undefined
    let bestWeight = 0
    let total = 0
    for (let i = 0; i < eligible.length; i++) {
      const c = eligible[i]!
      if (!accept(c)) continue
      if (c.index >= this.#current.length) this.#grow(c.index)
      const w = (this.#current[c.index]! += c.weight)
      total += c.weight
      if (best === undefined || w > bestWeight) {
        best = c
        bestWeight = w
      }
    }
    if (best !== undefined) this.#current[best.index]! -= total
    return best
  }

  #grow(index: number): void {
    const next = new Float64Array(Math.max(index + 1, this.#current.length * 2))
    next.set(this.#current)
    this.#current = next
  }
}

const acceptAll = (): boolean => true

function totalWeight(all: readonly Candidate[]): number {
  let total = 0
  for (const c of all) total += c.weight
  return total
}
