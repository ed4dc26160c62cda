import type { Candidate } from '../strategy.js'

/**
 * Bounded loads for the hash strategies (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing
 * with Bounded Loads", 2018; HAProxy `hash-balance-factor`, Envoy `hash_balance_factor`): an
 * upstream may carry at most `factor` × its weight's share of the load in flight, the request
 * being placed included — HAProxy's rule, `ceil(ceil(factor × (total + 1)) × weight / total
 * weight)` — and a key whose owner is full goes on along the ring (the table) to the next owner
 * with room. Loads are the balancer's (`load`, or `inFlight`); the total is kept up to date from
 * `onStart` / `onEnd` in O(1), and the eligible list's weight is summed once per list.
 */
export class BoundedLoad {
  #total = 0
  /** Each slot's load as last counted into `#total`. */
  #counted = new Float64Array(8)
  #list: readonly Candidate[] | undefined
  #weight = 1

  constructor(readonly factor: number) {}

  /** Counts every upstream's load afresh (the set changed). */
  reset(all: readonly Candidate[]): void {
    this.#counted.fill(0)
    this.#total = 0
    this.#list = undefined
    for (const c of all) this.track(c)
  }

  /** An upstream's load changed (a request started or ended). */
  track(c: Candidate): void {
    if (c.index >= this.#counted.length) {
      const grown = new Float64Array(Math.max(c.index + 1, this.#counted.length * 2))
      grown.set(this.#counted)
      this.#counted = grown
    }
    const load = loadOf(c)
    this.#total += load - this.#counted[c.index]!
    this.#counted[c.index] = load
  }

  /** Whether `c` has room for one more request, among `eligible`. */
  hasRoom(c: Candidate, eligible: readonly Candidate[]): boolean {
    if (eligible !== this.#list) {
      let w = 0
      for (const e of eligible) w += e.weight
      this.#weight = Math.max(1, w)
      this.#list = eligible
    }
    const slots = Math.ceil(this.factor * (Math.max(0, this.#total) + 1))
    return loadOf(c) < Math.ceil((slots * c.weight) / this.#weight)
  }
}

function loadOf(c: Candidate): number {
  return c.load ?? c.inFlight
}
