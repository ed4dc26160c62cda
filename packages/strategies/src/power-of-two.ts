import { checkFunction, checkNumber, checkObject, rejectUnknownKeys } from './options-check.js'
import { drawAccepted, WeightedSampler } from './internal/weighted.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link powerOfTwo}. */
export interface PowerOfTwoOptions extends StrategyDeps {
  /**
   * How many upstreams to draw before taking the least loaded. 2 gets nearly all of the benefit
   * (Mitzenmacher 2001, "The Power of Two Choices in Randomized Load Balancing"); Envoy's
   * `choice_count` default is 2 as well.
   * @default 2
   */
  choices?: number
}

/**
 * Power of two choices, as Envoy's least-request balancer: draw `choices` upstreams at random,
 * weighted by weight, and take the one with the fewest in-flight requests per unit of weight
 * (in-flight / weight). Ties go to the higher weight, then to the first drawn. Each draw skips
 * the best so far, so two different upstreams are compared (Envoy's draws may repeat one): an
 * upstream with a standing queue loses every comparison it is in.
 *
 * Cost: pick O(choices × log n); no allocation. Keeps no state of its own: load is the core's
 * in-flight count.
 *
 * @example
 * createBalancer({ upstreams, strategy: powerOfTwo() })
 */
export function powerOfTwo(options: PowerOfTwoOptions = {}): Strategy {
  const o = checkObject(options, 'powerOfTwo()')
  rejectUnknownKeys(o, ['choices', 'random', 'now'], 'powerOfTwo()')
  const rng = checkFunction<() => number>(o.random, 'powerOfTwo().random', Math.random)
  const choices = checkNumber(o.choices, 'powerOfTwo().choices', 2, { min: 1, max: 64, integer: true })
  const sampler = new WeightedSampler()
  return {
    name: 'power-of-two',
    rebuild() {
      sampler.clear()
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      let best = drawAccepted(sampler, eligible, ctx, rng)
      if (best === undefined) return undefined
      for (let i = 1; i < choices; i++) {
        const c = drawAccepted(sampler, eligible, ctx, rng, best)
        if (c === undefined) break
        const a = (c.load ?? c.inFlight) / c.weight
        const b = (best.load ?? best.inFlight) / best.weight
        if (a < b || (a === b && c.weight > best.weight)) best = c
      }
      return best
    },
  }
}
