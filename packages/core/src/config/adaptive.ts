import { checkNumber } from '@switchyard/strategies'
import { featureOptions } from './feature.js'

/**
 * Options of the balancer's `adaptiveConcurrency` (`true` is every default), Envoy's adaptive
 * concurrency filter's names and defaults.
 */
export interface AdaptiveConcurrencyOptions {
  /**
   * How often each upstream's minimum latency is measured again, ms: for `minRttRequests`
   * requests its limit is pinned to `minConcurrency`, and the median of their latencies is the
   * latency it has without a queue. Up to 15% is added at random, so upstreams (and balancers) do
   * not measure at the same moment. @default 60_000 (Envoy min_rtt_calc_params.interval)
   */
  minRttInterval?: number
  /** Requests a measurement takes. @default 50 (Envoy min_rtt_calc_params.request_count) */
  minRttRequests?: number
  /** The lowest limit, and the limit while measuring. @default 3 (Envoy min_concurrency) */
  minConcurrency?: number
  /**
   * How much slower than its minimum an upstream may answer before its limit shrinks, as a
   * fraction of the minimum. @default 0.25 (Envoy min_rtt_calc_params.buffer, 25%)
   */
  buffer?: number
  /** The highest limit (and never above the upstream's `maxConnections`). @default 1000 (Envoy max_concurrency_limit) */
  maxLimit?: number
}

export interface ResolvedAdaptive {
  readonly minRttInterval: number
  readonly minRttRequests: number
  readonly minConcurrency: number
  readonly buffer: number
  readonly maxLimit: number
}

/** Checks `adaptiveConcurrency`; undefined when off. */
export function normalizeAdaptive(input: unknown): ResolvedAdaptive | undefined {
  const o = featureOptions(input, 'adaptiveConcurrency', ['minRttInterval', 'minRttRequests', 'minConcurrency', 'buffer', 'maxLimit'])
  if (o === undefined) return undefined
  const minConcurrency = checkNumber(o.minConcurrency, 'adaptiveConcurrency.minConcurrency', 3, { min: 1, integer: true })
  return {
    minRttInterval: checkNumber(o.minRttInterval, 'adaptiveConcurrency.minRttInterval', 60_000, { exclusiveMin: true }),
    minRttRequests: checkNumber(o.minRttRequests, 'adaptiveConcurrency.minRttRequests', 50, { min: 1, integer: true }),
    minConcurrency,
    buffer: checkNumber(o.buffer, 'adaptiveConcurrency.buffer', 0.25),
    maxLimit: checkNumber(o.maxLimit, 'adaptiveConcurrency.maxLimit', 1000, { min: minConcurrency, integer: true }),
  }
}
