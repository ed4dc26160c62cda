import type { Balancer, BalancerEvents, RequestTrace } from '@switchyard/core'
import { type Aggregator, Counter, Gauge, type Registry } from 'prom-client'
import { LatencyHistogram } from './latency-histogram.js'

/** Options of {@link prometheus}. */
export interface PrometheusOptions {
  /** The prom-client registry to register into. Nothing is registered anywhere else. */
  registry: Registry
  /** Prefix of every metric name. @default 'switchyard_' */
  prefix?: string
  /**
   * Latency histogram buckets, seconds: finite, in increasing order (else a `TypeError`).
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] (prom-client's defaults)
   */
  buckets?: number[]
  /**
   * Record per-upstream latency histograms. They need the balancer's per-request decision trace
   * (a `request:end` listener), which costs a little per request; the other metrics are read
   * from its counters when scraped and cost nothing per request.
   * @default true
   */
  latency?: boolean
}

/** What {@link prometheus} returns. */
export interface PrometheusMetrics {
  /** Stops listening to the balancer and removes the metrics from the registry. */
  close(): void
}

const STATES = ['up', 'down', 'draining'] as const
const BREAKER = ['closed', 'open', 'half-open'] as const
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

/**
 * Prometheus metrics of a balancer through prom-client, registered into the registry you pass
 * (no global side effects: prom-client's default registry is never touched). Labels are bounded:
 * `upstream` (the configured ids), `code` (Switchyard's error codes), `state`, `class`, `reason`;
 * never a path. Gauges and totals are read from the balancer when scraped. Across cluster workers
 * (prom-client's `AggregatorRegistry`) counts, in-flight and queued requests and limits add up;
 * weights, states and panic take the largest worker's value; response-time averages are averaged.
 *
 * @example
 * const registry = new Registry()
 * prometheus(lb, { registry })
 * res.end(await registry.metrics())
 */
export function prometheus(lb: Balancer, options: PrometheusOptions): PrometheusMetrics {
  const registry = options.registry
  if (registry === undefined || typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function') {
    throw new TypeError('prometheus(lb, { registry }): registry must be a prom-client Registry')
  }
  const p = options.prefix ?? 'switchyard_'
  const registers = [registry]
  const names: string[] = []
  /** The full name of a metric, remembered for close(). */
  const named = (name: string): string => {
    names.push(`${p}${name}`)
    return `${p}${name}`
  }
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
        name: named(name),
        help,
        registers,
        collect() {
          this.reset()
          this.inc(read())
        },
      })
  const gauge = (name: string, help: string, read: () => number, aggregator: Aggregator = 'sum') =>
    new Gauge({
        name: named(name),
        help,
        registers,
        aggregator,
        collect() {
          this.set(read())
        },
      })

  total('requests_total', 'Requests taken by the balancer (handler, fetch, dispatcher and upgrades).', () => lb.stats().requests)
  total('retries_total', 'Attempts sent again to another upstream.', () => lb.stats().retries)
  total('hedges_total', 'Hedged attempts sent (the hedge option).', () => lb.stats().hedges)
  /** One counter series per label value, read from an optional part of the stats (none while it is absent). */
  const byLabel = (name: string, help: string, label: string, read: () => Record<string, number> | undefined) =>
    new Counter({
      name: named(name),
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset()
        const values = read()
        if (values !== undefined) for (const [value, n] of Object.entries(values)) this.inc({ [label]: value }, n)
      },
    })
  byLabel('cache_requests_total', 'Attempts the cache option answered from the store (hit), sent to the upstream (miss), or revalidated with it (revalidated).', 'status', () => {
    const c = lb.stats().cache
    return c === undefined ? undefined : { hit: c.hits, miss: c.misses, revalidated: c.revalidated }
  })
  byLabel('mirror_requests_total', 'Copies of requests the mirror option sent (sent), of those the ones that got no answer (failed), and requests chosen but not copied (skipped).', 'outcome', () => {
    const m = lb.stats().mirror
    return m === undefined ? undefined : { sent: m.sent, failed: m.failed, skipped: m.skipped }
  })
  gauge('requests_active', 'Requests taken and not yet finished (in flight, queued, or between attempts).', () => lb.stats().active)
  gauge('requests_in_flight', 'Requests in flight to upstreams.', () => lb.stats().inFlight)
  gauge('requests_queued', 'Requests waiting in upstream queues (maxConnections).', () => lb.stats().queued)
  gauge('panic', '1 while panic mode balances over upstreams that are down.', () => (lb.stats().panic ? 1 : 0), 'max')

  const errors = new Counter({ name: named('errors_total'), help: 'Requests the balancer answered with an error, or whose response it cut, by error code.', labelNames: ['code'], registers })
  const onError = (e: BalancerEvents['request:error']) => errors.inc({ code: e.error.code })

  const upstreamGauge = (name: string, help: string, read: (u: Balancer['upstreams'][number]) => number, aggregator: Aggregator = 'sum') =>
    new Gauge({
        name: named(`upstream_${name}`),
        help,
        labelNames: ['upstream'],
        registers,
        aggregator,
        collect() {
          this.reset()
          for (const u of lb.upstreams) this.set({ upstream: u.id }, read(u))
        },
      })
  upstreamGauge('in_flight', 'Requests in flight to the upstream.', (u) => u.inFlight)
  upstreamGauge('queued', 'Requests waiting in the upstream’s queue.', (u) => u.queued)
  upstreamGauge('weight', 'The upstream’s configured weight.', (u) => u.weight, 'max')
  upstreamGauge('limit', 'The cap on the upstream’s requests in flight now: maxConnections, or the adaptive concurrency limit under it (+Inf for none).', (u) => u.limit)
  upstreamGauge('ewma_seconds', 'Moving average of the upstream’s response time, seconds.', (u) => u.ewmaMs / 1000, 'average')
  /** An enum as gauges: 1 for the value the upstream has, 0 for the others. */
  const stateGauge = (name: string, help: string, values: readonly string[], read: (u: Balancer['upstreams'][number]) => string) =>
    new Gauge({
      name: named(name),
      help,
      labelNames: ['upstream', 'state'],
      registers,
      aggregator: 'max',
      collect() {
        this.reset()
        for (const u of lb.upstreams) {
          const current = read(u)
          for (const state of values) this.set({ upstream: u.id, state }, current === state ? 1 : 0)
        }
      },
    })
  stateGauge('upstream_state', 'The upstream’s state: 1 for the state it is in (up, down, draining), 0 for the others.', STATES, (u) => u.state)
  stateGauge('upstream_breaker_state', 'The upstream’s circuit breaker: 1 for its state (closed, open, half-open), 0 for the others.', BREAKER, (u) => u.breaker)
  new Counter({
    name: named('upstream_responses_total'),
    help: 'Responses from the upstream, by status class.',
    labelNames: ['upstream', 'class'],
    registers,
    collect() {
      this.reset()
      for (const u of lb.upstreams) for (const c of CLASSES) this.inc({ upstream: u.id, class: c }, u.responses[c])
    },
  })
  new Counter({
    name: named('upstream_failures_total'),
    help: 'Attempts to the upstream that failed: connection errors, timeouts, statuses in passive.failOnStatus.',
    labelNames: ['upstream'],
    registers,
    collect() {
      this.reset()
      for (const u of lb.upstreams) this.inc({ upstream: u.id }, u.failures)
    },
  })
  const downs = new Counter({
    name: named('upstream_down_total'),
    help: 'Times the upstream stopped taking traffic, by reason (max_fails, health_check, outlier, breaker_open, removed).',
    labelNames: ['upstream', 'reason'],
    registers,
  })

  // Latencies are counted in typed arrays as attempts end, and handed to the registry as
  // prom-client's histogram values when scraped (latency-histogram.ts).
  const hist =
    options.latency === false
      ? undefined
      : new LatencyHistogram(
          named('upstream_latency_seconds'),
          'Time of each attempt to the upstream, from sending to the end of its answer or its failure, seconds.',
          options.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        )
  if (hist !== undefined) registry.registerMetric(hist as never)
  const onEnd = (t: RequestTrace) => {
    const attempts = t.attempts
    for (let i = 0; i < attempts.length; i++) hist!.observe(attempts[i]!.upstream, attempts[i]!.ms / 1000)
  }
  const onDown = (e: BalancerEvents['upstream:down']) => {
    downs.inc({ upstream: e.id, reason: e.reason })
    // A removed upstream's series go, so labels stay bounded under churn (lb.add / lb.remove).
    if (e.reason === 'removed') hist?.remove(e.id)
  }
  lb.on('request:error', onError)
  lb.on('upstream:down', onDown)
  if (hist !== undefined) lb.on('request:end', onEnd)
  return {
    close() {
      lb.off('request:error', onError)
      lb.off('upstream:down', onDown)
      if (hist !== undefined) lb.off('request:end', onEnd)
      for (const name of names) registry.removeSingleMetric(name)
    },
  }
}
