import type { ActiveHealthCheck, OutlierDetection } from '@switchyard/health'
import { ActiveProber, OutlierDetector, UpstreamBreaker } from '@switchyard/health/internal'
import type { Clock } from '@switchyard/strategies'
import type { Availability } from './availability.js'
import type { ResolvedOptions } from '../config/resolved.js'
import type { UpstreamRegistry } from './registry.js'
import type { DownReason, UpReason } from '../config/events.js'
import { DOWN, type Upstream } from './upstream.js'

/**
 * Decides whether upstreams are fit: passive accounting (nginx `max_fails`/`fail_timeout`), active
 * probes, outlier ejection, and breakers. It only decides; `Availability` applies the verdicts.
 * Every timestamp and timer comes from the balancer's clock, the breakers' included (opossum
 * counts; its window turns and its reset timeout runs on the clock).
 */
export class HealthMonitor {
  readonly #options: ResolvedOptions
  readonly #registry: UpstreamRegistry
  readonly #availability: Availability
  readonly #clock: Clock
  readonly #probers: ActiveProber[]
  readonly #outlier: OutlierDetector | undefined
  #outlierTimer: unknown = undefined
  #stopped = false

  constructor(options: ResolvedOptions, registry: UpstreamRegistry, availability: Availability) {
    this.#options = options
    this.#registry = registry
    this.#availability = availability
    this.#clock = options.clock
    const active = options.health.filter((h): h is ActiveHealthCheck => h.kind === 'active')
    const outlier = options.health.find((h): h is OutlierDetection => h.kind === 'outlier')
    this.#probers = active.map((check) => new ActiveProber(check, options.random, options.clock))
    if (outlier !== undefined) {
      this.#outlier = new OutlierDetector(outlier)
      this.#scheduleReview()
    }
  }

  #down(u: Upstream, bit: number, reason: DownReason): void {
    this.#availability.markDown(this.#registry.all, u, bit, reason)
  }

  #up(u: Upstream, bit: number, reason: UpReason): void {
    this.#availability.markUp(this.#registry.all, u, bit, reason)
  }

  /** Starts the mechanisms that watch one upstream. */
  watch(u: Upstream): void {
    if (this.#options.breaker !== undefined) {
      u.breaker = new UpstreamBreaker(u.id, this.#options.breaker, {
        onOpen: () => this.#down(u, DOWN.breaker, 'breaker_open'),
        onHalfOpen: () => this.#up(u, DOWN.breaker, 'breaker_half_open'),
        onClose: () => this.#up(u, DOWN.breaker, 'breaker_closed'),
      }, this.#clock)
    }
    if (u.configuredDown) return
    for (const prober of this.#probers) {
      prober.add({
        id: u.id,
        origin: u.origin,
        tls: u.tls,
        servername: u.servername,
        dispatcher: u.dispatcher,
        onVerdict: (healthy) => (healthy ? this.#up(u, DOWN.active, 'health_check') : this.#down(u, DOWN.active, 'health_check')),
      })
    }
  }

  /** Stops watching one upstream (it was removed). */
  unwatch(u: Upstream): void {
    u.breaker?.shutdown()
    for (const prober of this.#probers) void prober.remove(u.id)
  }

  /** An attempt is sent: the breaker's half-open trial starts. */
  noteStart(u: Upstream): void {
    u.breaker?.noteStart()
  }

  /** An attempt ended unjudged: a half-open breaker's trial is not used up by it. */
  noteUnjudged(u: Upstream): void {
    u.breaker?.abandonTrial()
  }

  /**
   * Records a finished attempt: `status` is the upstream's answer (0 for a connection error or
   * timeout); `failed` says whether passive accounting counts it.
   */
  record(u: Upstream, failed: boolean, status: number): void {
    u.breaker?.record(!failed)
    const detector = this.#outlier
    const all = this.#registry.all
    if (detector !== undefined && u.state !== 'draining') {
      if (detector.record(u.outlier, status, this.#clock.now(), this.#countEjected, all.length)) {
        this.#down(u, DOWN.outlier, 'outlier')
      }
    }
    if (!failed) {
      u.passive.recordSuccess()
      return
    }
    // With a single upstream there is nothing to fail over to; nginx ignores max_fails then too.
    if (!u.passive.isEnabled || (u.downBy & DOWN.passive) !== 0 || all.length === 1) return
    const until = u.passive.recordFailure(this.#clock.now())
    if (until === 0) return
    this.#availability.suspend(all, u, DOWN.passive, 'max_fails', this.#options.passive.failTimeout, 'fail_timeout')
  }

  /** Upstreams ejected as outliers now; called only when an ejection rule trips. */
  readonly #countEjected = (): number => {
    let n = 0
    for (const u of this.#registry.all) if (u.outlier.ejectedUntil !== 0) n++
    return n
  }

  #scheduleReview(): void {
    if (this.#stopped) return
    this.#outlierTimer = this.#clock.setTimeout(() => {
      this.#reviewOutliers()
      this.#scheduleReview()
    }, this.#outlier!.options.interval)
  }

  #reviewOutliers(): void {
    const t = this.#clock.now()
    const detector = this.#outlier!
    const all = this.#registry.all // removed (draining) upstreams are no longer in it
    for (const u of all) {
      if (detector.review(u.outlier, t)) this.#up(u, DOWN.outlier, 'outlier_expired')
    }
    for (const i of detector.reviewRates(all.map((u) => u.outlier), t)) this.#down(all[i]!, DOWN.outlier, 'outlier')
  }

  /** Stops every timer, probe and breaker. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#clock.clearTimeout(this.#outlierTimer)
    this.#availability.stop()
    for (const u of this.#registry.all) u.breaker?.shutdown()
    await Promise.all(this.#probers.map((p) => p.close()))
  }
}
