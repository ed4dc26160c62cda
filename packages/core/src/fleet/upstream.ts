import type { BreakerState } from '@switchyard/health'
import {
  newOutlierHost,
  type OutlierHost,
  PassiveHealth,
  type ResolvedPassiveOptions,
  type UpstreamBreaker,
} from '@switchyard/health/internal'
import type { Candidate, Clock, UpstreamState } from '@switchyard/strategies'
import PQueue from 'p-queue'
import { AdaptiveLimit } from './adaptive-concurrency.js'
import { buildConnector, type Dispatcher, Pool } from 'undici'
import type { DownReason, UpReason } from '../config/events.js'
import { CACHE_MARK, type CacheMark, type CacheStatus, cachedDispatcher, cacheRequest } from './cache.js'
import { ProxyProtocolDispatcher } from './proxy-protocol.js'
import { watchingConnector } from './socket-watch.js'
import type { ResolvedOptions, ResolvedUpstream } from '../config/resolved.js'

export type { BreakerState }

/** Why an upstream is down: one bit per mechanism; it is up when no bit is set. */
export const DOWN = Object.freeze({
  configured: 1,
  passive: 2,
  active: 4,
  outlier: 8,
  breaker: 16,
  /** Another balancer sharing the `share` channel took it out (see fleet/share.ts). */
  shared: 32,
})

/** A read-only snapshot of one upstream, from `lb.upstreams`. */
export interface UpstreamSnapshot {
  readonly id: string
  readonly url: string
  readonly weight: number
  readonly backup: boolean
  /** Priority level, 0 the first (Envoy's priorities). */
  readonly priority: number
  /** The zone it runs in, if said. */
  readonly zone: string | undefined
  /** `down: true` was configured: listed, never takes traffic. */
  readonly down: boolean
  readonly maxConnections: number
  /** The cap on requests in flight now: `maxConnections`, or with `adaptiveConcurrency` the adaptive limit under it. */
  readonly limit: number
  readonly state: UpstreamState
  /** Why the upstream is in its state (`'max_fails'`, `'configured'`, `'removed'`…). */
  readonly reason: DownReason | UpReason
  readonly inFlight: number
  /** Work in flight: the costs of the requests in flight (`cost` option); equals `inFlight` without one. */
  readonly load: number
  /** Requests waiting in this upstream's queue. */
  readonly queued: number
  /** Attempts finished (answered or failed). */
  readonly requests: number
  /** Attempts that failed: connection errors, timeouts, and statuses in `passive.failOnStatus`. */
  readonly failures: number
  /** Moving average of response time (to the end of the body), ms; 0 before the first response. */
  readonly ewmaMs: number
  readonly breaker: BreakerState
  /** Share of its traffic the upstream takes while it ramps up after slow start began (1 when not ramping). */
  readonly slowStartShare: number
  /** Responses by status class. */
  readonly responses: { readonly '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number }
}

/**
 * Smoothing of `ewmaMs`: each response moves the average 10% of the way to its own latency, so
 * about the last 10 responses weigh most. Latency-aware strategies keep their own, tuned average.
 */
const EWMA_ALPHA = 0.1

/**
 * Concurrent streams per HTTP/2 connection to an upstream (undici's `pipelining` for h2), unless
 * `pool.pipelining` says otherwise: RFC 9113 6.5.2 advises servers to allow at least 100.
 */
const H2_STREAMS = 100

/** One upstream: its pool, its counters and its health. The strategy sees it as a {@link Candidate}. */
export class Upstream implements Candidate {
  readonly id: string
  readonly url: string
  readonly origin: string
  /** Changed only by `lb.update()`, followed by a strategy rebuild. */
  weight: number
  readonly backup: boolean
  readonly priority: number
  /** The PROXY protocol version sent to it, if any (its pool is then a ProxyProtocolDispatcher). */
  readonly proxyProtocol: 'v1' | 'v2' | undefined
  /** The zone it runs in (zone-aware routing), if said. */
  readonly zone: string | undefined
  readonly configuredDown: boolean
  readonly maxConnections: number
  /** The TLS server name sent with every request (https only), so the client's Host never is. */
  readonly servername: string | undefined
  /** TLS options of an https upstream, for its active health checks. */
  readonly tls: Readonly<Record<string, unknown>> | undefined
  /** The dispatcher this upstream was given instead of a URL to pool, if any. */
  readonly dispatcher: Dispatcher | undefined
  /** Its URL's own path, put in front of every request's (`''` for none). */
  readonly basePath: string
  readonly index: number
  state: UpstreamState
  reason: DownReason | UpReason
  inFlight = 0
  /** The costs of the requests in flight (see the `cost` option); equals `inFlight` without one. */
  load = 0
  ewmaMs = 0
  requests = 0
  failures = 0
  readonly byClass = [0, 0, 0, 0, 0]
  /** The upstream's undici pool, or the dispatcher it was given. */
  readonly pool: Dispatcher
  readonly passive: PassiveHealth
  readonly queue: PQueue | undefined
  /** The cap on requests in flight now: `maxConnections`, or the adaptive limit under it. */
  cap: number
  /** The pool behind the balancer's cache, with `cache` (fleet/cache.ts). */
  readonly cached: Dispatcher | undefined
  /** The adaptive concurrency limit, with `adaptiveConcurrency`. */
  readonly adaptive: AdaptiveLimit | undefined
  /** Slow start, ms (0: off). */
  readonly slowStart: number
  /** While ramping after slow start began: when the ramp began and ends (ms), else 0. */
  rampStart = 0
  rampUntil = 0
  /** Bits of {@link DOWN} for the reasons the upstream is down. */
  downBy: number
  breaker: UpstreamBreaker | undefined = undefined
  readonly outlier: OutlierHost = newOutlierHost()
  readonly #clock: Clock
  /** Set by a draining `remove()`: called when the last in-flight request ends. */
  onIdle: (() => void) | undefined

  constructor(config: ResolvedUpstream, index: number, options: ResolvedOptions, passive: ResolvedPassiveOptions) {
    this.id = config.id
    this.url = config.url
    this.origin = config.origin
    this.basePath = config.basePath
    this.weight = config.weight
    this.backup = config.backup
    this.priority = config.priority
    this.proxyProtocol = config.proxyProtocol
    this.zone = config.zone
    this.configuredDown = config.down
    this.maxConnections = config.maxConnections
    this.servername = config.servername
    this.tls = config.tls
    this.index = index
    this.state = config.down ? 'down' : 'up'
    this.downBy = config.down ? DOWN.configured : 0
    this.reason = config.down ? 'configured' : 'added'
    this.slowStart = config.slowStart ?? options.slowStart
    this.#clock = options.clock
    const { timeouts } = options
    this.dispatcher = config.dispatcher
    this.pool = config.dispatcher ?? (config.proxyProtocol !== undefined ? new ProxyProtocolDispatcher({
      version: config.proxyProtocol,
      origin: config.origin,
      tls: config.tls,
      servername: config.servername,
      connectTimeout: timeouts.connect,
      headersTimeout: timeouts.headers,
      bodyTimeout: timeouts.body,
    }) : undefined) ?? new Pool(config.origin, {
      ...options.pool,
      headersTimeout: timeouts.headers,
      bodyTimeout: timeouts.body,
      connect: connector(options, config),
      // h2 multiplexes: without pipelining undici sends one stream per connection at a time.
      ...((config.http2 ?? options.http2)
        ? { allowH2: true, useH2c: config.origin.startsWith('http:'), pipelining: options.pool.pipelining ?? H2_STREAMS }
        : {}),
      ...(Number.isFinite(config.maxConnections) && options.pool.connections === undefined
        ? { connections: config.maxConnections }
        : {}),
    })
    this.passive = new PassiveHealth(passive)
    this.cached = options.cache === undefined ? undefined : cachedDispatcher(this.pool, options.cache)
    this.adaptive = options.adaptiveConcurrency === undefined ? undefined : new AdaptiveLimit(options.adaptiveConcurrency, options.random)
    this.cap = Math.min(config.maxConnections, this.adaptive?.limit ?? Number.POSITIVE_INFINITY)
    this.queue = Number.isFinite(this.cap) ? new PQueue({ concurrency: this.cap }) : undefined
  }

  /**
   * Sends one attempt: on the pool, or with `cache` through the cache, keyed by the request's Host
   * (a dispatcher upstream keeps its origin), the attempt marked with what the cache did.
   */
  dispatch(options: Dispatcher.DispatchOptions, attempt: Dispatcher.DispatchHandler & CacheMark): void {
    const cached = this.cached
    if (cached === undefined || (options.method !== 'GET' && options.method !== 'HEAD')) {
      this.pool.dispatch(options, attempt)
      return
    }
    attempt.cacheStatus = 'hit' // until the cache sends it on
    const request = cacheRequest(options.headers)
    const mark = { conditional: request.conditional, set cacheStatus(s: CacheStatus) { attempt.cacheStatus = s } }
    const origin = this.dispatcher === undefined ? request.origin : options.origin
    cached.dispatch({ ...options, origin, [CACHE_MARK]: mark } as Dispatcher.DispatchOptions, attempt)
  }

  /**
   * True when a new request would exceed `maxConnections` (or the adaptive limit), or would wait
   * behind requests already queued. Read from the queue's own count of the slots taken, not from
   * `inFlight`: a slot is handed to the next queued request a moment after an attempt ends, and a
   * request picked in that moment would otherwise be queued behind it while counted as room.
   */
  get isFull(): boolean {
    const q = this.queue
    return q !== undefined && (q.pending >= q.concurrency || q.size !== 0)
  }

  /** Records a finished attempt: latency and status class. */
  record(latencyMs: number, status: number, failed: boolean): void {
    this.requests++
    if (failed) this.failures++
    if (status >= 100) this.byClass[Math.min(4, Math.floor(status / 100) - 1)]!++
    this.ewmaMs = this.ewmaMs === 0 ? latencyMs : this.ewmaMs + (latencyMs - this.ewmaMs) * EWMA_ALPHA
    if (this.adaptive !== undefined) {
      const cap = Math.min(this.maxConnections, this.adaptive.sample(latencyMs, this.#clock.now()))
      if (cap !== this.cap) {
        this.cap = cap
        this.queue!.concurrency = cap // a larger limit starts queued requests at once
      }
    }
  }

  snapshot(): UpstreamSnapshot {
    const c = this.byClass
    return Object.freeze({
      id: this.id,
      url: this.url,
      weight: this.weight,
      backup: this.backup,
      priority: this.priority,
      zone: this.zone,
      down: this.configuredDown,
      maxConnections: this.maxConnections,
      limit: this.cap,
      state: this.state,
      reason: this.reason,
      inFlight: this.inFlight,
      load: this.load,
      queued: this.queue?.size ?? 0,
      requests: this.requests,
      failures: this.failures,
      ewmaMs: Math.round(this.ewmaMs * 1000) / 1000,
      breaker: this.breaker?.state ?? 'closed',
      slowStartShare: this.rampUntil === 0 ? 1 : Math.max(0.1, Math.min(1, (this.#clock.now() - this.rampStart) / this.slowStart)),
      responses: Object.freeze({ '1xx': c[0]!, '2xx': c[1]!, '3xx': c[2]!, '4xx': c[3]!, '5xx': c[4]! }),
    })
  }
}

/**
 * The connector undici's Pool would build from these options (lib/dispatcher/pool.js), with the
 * connect timeout from `timeouts`, wrapped so that every socket is watched for resets.
 */
function connector(options: ResolvedOptions, upstream: ResolvedUpstream): buildConnector.connector {
  const { connect, tls, maxCachedSessions, allowH2, socketPath, autoSelectFamily, autoSelectFamilyAttemptTimeout } =
    options.pool as Pool.Options & { tls?: object }
  if (typeof connect === 'function') return watchingConnector(connect)
  return watchingConnector(
    buildConnector({
      ...(tls as object | undefined),
      maxCachedSessions,
      allowH2: (upstream.http2 ?? options.http2) || allowH2, // offers h2 by ALPN
      useH2c: (upstream.http2 ?? options.http2) && upstream.origin.startsWith('http:'), // h2 with prior knowledge
      socketPath,
      ...(typeof autoSelectFamily === 'boolean' ? { autoSelectFamily, autoSelectFamilyAttemptTimeout } : undefined),
      ...connect,
      ...upstream.tls,
      timeout: options.timeouts.connect,
    } as unknown as buildConnector.BuildOptions), // useH2c is in undici 7's connector, not yet in its types
  )
}
