import type { MetricValueWithName } from 'prom-client'

/** What a registry reads of a metric: the fields of prom-client's `get()` answer. */
export interface HistogramValues {
  readonly name: string
  readonly help: string
  readonly type: 'histogram'
  readonly values: MetricValueWithName<string>[]
  readonly aggregator: 'sum'
}

/**
 * The per-upstream latency histogram (`<prefix>upstream_latency_seconds`), counted in one typed
 * array per upstream: an attempt's end costs a map lookup, a walk over the bucket bounds and three
 * additions. prom-client's `Histogram.observe` builds a closure, a label object and the labels' key
 * per call (0.46 µs a request in a CPU profile of the gateway, the largest part of what its metrics
 * cost per request).
 *
 * It is registered as a metric of prom-client's kind (`name`, `help`, `type`, `aggregator`,
 * `get()`, `reset()`: what a `Registry` and an `AggregatorRegistry` read of a metric) and `get()`
 * gives the values a prom-client `Histogram` with the same buckets gives — each bucket cumulative
 * with its `le`, `+Inf`, `_sum` and `_count`, in that order, per upstream — so the exposition text,
 * the JSON and the sum across cluster workers are prom-client's own (a test compares both, value
 * for value).
 */
export class LatencyHistogram {
  readonly type = 'histogram' as const
  readonly aggregator = 'sum' as const
  /** Per upstream id: each bucket's own count (not cumulative), then the sum, then the count. */
  readonly #series = new Map<string, Float64Array>()
  /** The buckets' upper bounds, seconds: a copy of the caller's, in increasing order. */
  readonly buckets: readonly number[]

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
  ) {
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new TypeError(`prometheus(): buckets must be finite numbers in increasing order, got ${JSON.stringify(buckets)}`)
    }
    this.buckets = Object.freeze([...buckets])
  }

  /** One attempt to `upstream` took `seconds`. */
  observe(upstream: string, seconds: number): void {
    const bounds = this.buckets
    const n = bounds.length
    let s = this.#series.get(upstream)
    if (s === undefined) this.#series.set(upstream, (s = new Float64Array(n + 2)))
    let i = 0
    while (i < n && seconds > bounds[i]!) i++
    if (i < n) s[i]!++ // past the last bound only +Inf holds it: the count
    s[n]! += seconds
    s[n + 1]!++
  }

  /** The upstream's series go (it was removed: labels stay bounded under churn). */
  remove(upstream: string): void {
    this.#series.delete(upstream)
  }

  reset(): void {
    this.#series.clear()
  }

  get(): HistogramValues {
    const values: MetricValueWithName<string>[] = []
    const bounds = this.buckets
    const n = bounds.length
    for (const [upstream, s] of this.#series) {
      let total = 0
      for (let i = 0; i < n; i++) {
        total += s[i]!
        values.push({ labels: { le: bounds[i]!, upstream }, value: total, metricName: `${this.name}_bucket` })
      }
      values.push({ labels: { le: '+Inf', upstream }, value: s[n + 1]!, metricName: `${this.name}_bucket` })
      values.push({ labels: { upstream }, value: s[n]!, metricName: `${this.name}_sum` })
      values.push({ labels: { upstream }, value: s[n + 1]!, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}
