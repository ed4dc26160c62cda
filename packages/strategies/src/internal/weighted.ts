import type { Candidate, PickContext } from '../strategy.js'

/**
 * Weighted random sampling in O(log n): prefix sums of the weights of an eligible list, cached by
 * the list's identity (the core keeps handing the same array until health changes).
 */
export class WeightedSampler {
  #list: readonly Candidate[] | undefined
  #prefix = new Float64Array(0)
  #total = 0
  #uniform = true

  #prepare(list: readonly Candidate[]): void {
    if (list === this.#list) return
    this.#list = list
    const prefix = new Float64Array(list.length)
    let total = 0
    let uniform = true
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!.weight
      if (w !== list[0]!.weight) uniform = false
      total += w
      prefix[i] = total
    }
    this.#prefix = prefix
    this.#total = total
    this.#uniform = uniform
  }

  /** Returns the position in `list` of a weighted random draw from `r` in [0, 1). */
  sample(list: readonly Candidate[], r: number): number {
    this.#prepare(list)
    if (this.#uniform) return Math.min(list.length - 1, Math.floor(r * list.length))
    const target = r * this.#total
    let lo = 0
    let hi = list.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#prefix[mid]! > target) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  clear(): void {
    this.#list = undefined
  }
}

/**
 * Draws a weighted random candidate the core accepts: a few draws, then a linear scan so that a
 * request with most upstreams refused still finds the rest. Returns undefined when none is left.
 */
export function drawAccepted(
  sampler: WeightedSampler,
  list: readonly Candidate[],
  ctx: PickContext,
  random: () => number,
  skip?: Candidate,
): Candidate | undefined {
  const n = list.length
  if (n === 0) return undefined
  for (let attempt = 0; attempt < 4; attempt++) {
    const c = list[sampler.sample(list, random())]!
    if (c !== skip && ctx.accept(c)) return c
  }
  const start = Math.floor(random() * n)
  for (let k = 0; k < n; k++) {
    const c = list[(start + k) % n]!
    if (c !== skip && ctx.accept(c)) return c
  }
  return undefined
}
