import type { ActiveHealthCheck, OutlierDetection } from '@switchyard/health'
import { ActiveProber, OutlierDetector, UpstreamBreaker } from '@switchyard/health/internal'
import type { Clock } from '@switchyard/strategies'
import type { Availability } from './availability.js'
import type { ResolvedOptions } from '../config/resolved.js'
import type { UpstreamRegistry } from './registry.js'
import type { DownReason, UpReason } from '../config/events.js'
import type { SharedHealth } from './share.js'
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
  /** With `share`: where this balancer's verdicts and failures go out (set by the fleet). */
  shared: SharedHealth | undefined = undefined

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
    const was = u.downBy & bit
    this.#availability.markDown(this.#registry.all, u, bit, reason)
    if (this.shared !== undefined && was === 0 && (u.downBy & bit) !== 0) this.shared.down(u, bit, reason, this.#lasts(u, bit))
  }

  #up(u: Upstream, bit: number, reason: UpReason): void {
    const was = u.downBy & bit
    this.#availability.markUp(this.#registry.all, u, bit, reason)
    if (this.shared !== undefined && was !== 0) this.shared.up(u, bit, reason)
  }

  /** How long a verdict by `bit` lasts when its mechanism knows, ms (shared with the others). */
  #lasts(u: Upstream, bit: number): number | undefined {
    if (bit === DOWN.breaker) return u.breaker?.resetTimeout
    if (bit === DOWN.outlier) return u.outlier.ejectedUntil === 0 ? undefined : u.outlier.ejectedUntil - this.#clock.now()
    return undefined
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
    this.shared?.forget(u)
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
    if (this.countFailure(u)) this.shared?.failure(u)
  }

  /**
   * Passive accounting of one failure (nginx `max_fails` within `fail_timeout`): this balancer's,
   * or another's through `share`. Returns whether it counted.
   */
  countFailure(u: Upstream): boolean {
    const all = this.#registry.all
    // With a single upstream there is nothing to fail over to; nginx ignores max_fails then too.
    if (!u.passive.isEnabled || (u.downBy & DOWN.passive) !== 0 || all.length === 1) return false
    const until = u.passive.recordFailure(this.#clock.now())
    if (until === 0) return true
    const ms = this.#options.passive.failTimeout
    this.#availability.suspend(all, u, DOWN.passive, 'max_fails', ms, 'fail_timeout')
    this.shared?.down(u, DOWN.passive, 'max_fails', ms)
    return true
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
    this.shared?.stop()
    this.#clock.clearTimeout(this.#outlierTimer)
    this.#availability.stop()
    for (const u of this.#registry.all) u.breaker?.shutdown()
    await Promise.all(this.#probers.map((p) => p.close()))
  }
}
