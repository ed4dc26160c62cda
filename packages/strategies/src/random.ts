import { drawAccepted, WeightedSampler } from './internal/weighted.js'
import { checkFunction, checkObject, rejectUnknownKeys } from './options-check.js'
import type { Candidate, PickContext, Strategy, StrategyDeps } from './strategy.js'

/** Options of {@link random}. */
export interface RandomOptions extends StrategyDeps {}

/**
 * Weighted random: each pick draws an upstream with probability weight / total weight (nginx
 * `random`, HAProxy `random`). Stateless, so it suits many balancer instances sharing upstreams.
 *
 * Cost: pick O(log n) (binary search over prefix sums, rebuilt only when the eligible set
 * changes); O(1) when all weights are equal. No allocation per pick.
 *
 * @example
 * createBalancer({ upstreams, strategy: random() })
 */
export function random(options: RandomOptions = {}): Strategy {
  const o = checkObject(options, 'random()')
  rejectUnknownKeys(o, ['random', 'now'], 'random()')
  const rng = checkFunction<() => number>(o.random, 'random().random', Math.random)
  const sampler = new WeightedSampler()
  return {
    name: 'random',
    rebuild() {
      sampler.clear()
    },
    pick(eligible: readonly Candidate[], ctx: PickContext) {
      return drawAccepted(sampler, eligible, ctx, rng)
    },
  }
}
