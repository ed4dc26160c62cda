import type { StatusSample, UpstreamStatus } from './status.js'

/** One worker in the fleet's status sample. */
export interface WorkerStatus {
  /** The cluster worker's id. */
  worker: number
  pid: number
  requests: number
  errors: number
  active: number
  /** Requests per second over the worker's last interval. */
  rate: number
}

/** Worse states first: when workers disagree for a moment, the page shows the worse one. */
const STATE_ORDER = ['down', 'draining', 'up']
const BREAKER_ORDER = ['open', 'half-open', 'closed']
const worse = (order: readonly string[], a: string, b: string): string => (order.indexOf(a) <= order.indexOf(b) ? a : b)

/**
 * The whole gateway's status sample from each worker's latest: counts, rates, in-flight and
 * queued requests add up; an upstream's state and breaker are the worst any worker reports (they
 * share health, so they differ only while a verdict crosses the primary); its error rate is the
 * rate-weighted mean; p50 is the rate-weighted mean of the workers' p50s (an estimate) and p99 the
 * largest worker p99 (an upper bound). `workers` keeps each worker's own totals.
 */
export function mergeSamples(parts: readonly { worker: number; pid: number; sample: StatusSample }[]): StatusSample {
  const first = parts[0]!.sample
  const upstreams = new Map<string, UpstreamStatus & { p50Weight: number; errorWeight: number }>()
  let requests = 0
  let errors = 0
  let active = 0
  let rate = 0
  let panic = false
  let at = 0
  for (const { sample } of parts) {
    requests += sample.requests
    errors += sample.errors
    active += sample.active
    rate += sample.rate
    panic ||= sample.panic
    at = Math.max(at, sample.at)
    for (const u of sample.upstreams) {
      const m = upstreams.get(u.id)
      if (m === undefined) {
        upstreams.set(u.id, { ...u, p50: u.p50 * u.rate, errorRate: u.errorRate * u.rate, p50Weight: u.rate, errorWeight: u.rate })
        continue
      }
      const state = worse(STATE_ORDER, m.state, u.state)
      if (state !== m.state) m.reason = u.reason
      m.state = state
      m.breaker = worse(BREAKER_ORDER, m.breaker, u.breaker)
      m.inFlight += u.inFlight
      m.queued += u.queued
      m.rate += u.rate
      m.p50 += u.p50 * u.rate
      m.p50Weight += u.rate
      m.errorRate += u.errorRate * u.rate
      m.errorWeight += u.rate
      m.p99 = Math.max(m.p99, u.p99)
    }
  }
  return {
    at,
    strategy: first.strategy,
    actions: first.actions,
    requests,
    errors,
    active,
    panic,
    rate,
    upstreams: [...upstreams.values()].map(({ p50Weight, errorWeight, ...u }) => ({
      ...u,
      p50: p50Weight === 0 ? 0 : u.p50 / p50Weight,
      errorRate: errorWeight === 0 ? 0 : u.errorRate / errorWeight,
    })),
    workers: parts.map(({ worker, pid, sample }) => ({ worker, pid, requests: sample.requests, errors: sample.errors, active: sample.active, rate: sample.rate })),
  }
}
