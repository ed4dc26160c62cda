import type { ResolvedAdaptive } from '../config/adaptive.js'

/** How often the limit is reconsidered, ms (Envoy's concurrency_update_interval default). */
export const UPDATE_INTERVAL = 100
/** Latencies kept per window for its median; a busier window's later answers are not needed. */
const WINDOW_SAMPLES = 256
/** Jitter added to each measurement's interval, at most (Envoy min_rtt_calc_params.jitter default, 15%). */
const JITTER = 0.15

/**
 * One upstream's adaptive concurrency limit, as Envoy's adaptive concurrency filter computes it
 * (its gradient controller): the upstream's minimum latency is measured at the start and every
 * `minRttInterval` by pinning its limit to `minConcurrency` for `minRttRequests` requests (their
 * median); then every 100 ms the median latency of the window's answers is compared with it:
 *
 *   gradient = clamp(minRtt × (1 + buffer) / windowRtt, 0.5, 2)
 *   limit    = clamp(limit × gradient + √(limit × gradient), minConcurrency, maxLimit)
 *
 * An upstream answering near its minimum gets a growing limit (about doubling per window at
 * first); one slowing down by its own queue gets fewer requests before it fails. Past the limit
 * the balancer sends requests to other upstreams, or queues them and answers 503 past
 * `queue.size` or `queue.timeout`: shedding instead of piling on. O(1) an answer, a sort of at
 * most 256 latencies per 100 ms window.
 */
export class AdaptiveLimit {
  limit: number
  /** The latency without a queue, ms; 0 until first measured. */
  minRtt = 0
  #measuring = true
  /** The limit to go back to after a measurement. */
  #resume: number
  #next = 0
  #start = Number.NEGATIVE_INFINITY
  #samples: number[] = []
  readonly #o: ResolvedAdaptive
  readonly #random: () => number

  constructor(options: ResolvedAdaptive, random: () => number) {
    this.#o = options
    this.#random = random
    this.limit = options.minConcurrency
    this.#resume = options.minConcurrency
  }

  /** One answer's latency, and the time; returns the limit (a whole number). */
  sample(latencyMs: number, now: number): number {
    const o = this.#o
    const samples = this.#samples
    if (this.#measuring) {
      samples.push(latencyMs)
      if (samples.length < o.minRttRequests) return this.limit
      this.minRtt = Math.max(median(samples), 0.001)
      this.#samples = []
      this.#measuring = false
      this.limit = this.#resume
      this.#start = now
      this.#next = now + o.minRttInterval * (1 + JITTER * this.#random())
      return this.limit
    }
    if (samples.length < WINDOW_SAMPLES) samples.push(latencyMs)
    if (now - this.#start < UPDATE_INTERVAL) return this.limit
    const rtt = Math.max(median(samples), 0.001)
    this.#samples = []
    this.#start = now
    const gradient = Math.max(0.5, Math.min(2, (this.minRtt * (1 + o.buffer)) / rtt))
    const scaled = this.limit * gradient
    this.limit = Math.max(o.minConcurrency, Math.min(o.maxLimit, Math.floor(scaled + Math.sqrt(scaled))))
    if (now >= this.#next) {
      // Measure the minimum again: pinned low, the upstream's own queue drains.
      this.#resume = this.limit
      this.#measuring = true
      this.limit = o.minConcurrency
    }
    return this.limit
  }
}

function median(values: number[]): number {
  values.sort((a, b) => a - b)
  const mid = values.length >> 1
  return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2
}
