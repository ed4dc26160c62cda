import {
  ActiveProber,
  type ActiveHealthCheck,
  type OutlierDetection,
  OutlierDetector,
  slowStartShare,
  UpstreamBreaker,
} from '@switchyard/health'
import type { Strategy, SwitchyardError } from '@switchyard/strategies'
import { DuplicateUpstreamError } from './errors.js'
import type { Exchange } from './exchange.js'
import type { ResolvedOptions, ResolvedUpstream } from './options.js'
import { DOWN, Upstream } from './upstream.js'

/** Payloads of the balancer's events. */
export interface BalancerEvents {
  /**
   * An upstream stopped taking traffic. `reason`: `'max_fails'` (passive), `'health_check'`
   * (active), `'outlier'`, `'breaker_open'`, `'removed'`.
   */
  'upstream:down': { id: string; reason: string }
  /**
   * An upstream takes traffic again. `reason`: `'added'`, `'fail_timeout'`, `'health_check'`,
   * `'outlier_expired'`, `'breaker_half_open'`.
   */
  'upstream:up': { id: string; reason: string }
  /** A failed attempt is retried on another upstream. */
  'request:retry': { method: string; path: string; upstream: string; attempt: number; error: SwitchyardError }
  /** The balancer answered a request with an error (or cut a relayed response). */
  'request:error': { method: string; path: string; error: SwitchyardError; tried: string[] }
  /** Panic mode began (`active: true`) or ended: see the `panicThreshold` option. */
  'balancer:panic': { active: boolean; up: number; total: number }
}

export type Emit = <E extends keyof BalancerEvents>(event: E, payload: BalancerEvents[E]) => void
export type HasListeners = (event: keyof BalancerEvents) => boolean

/** Balancer-wide counters (the per-upstream ones live on each upstream). */
export interface Totals {
  requests: number
  errors: number
  retries: number
}

const now = performance.now.bind(performance)

/**
 * The balancer's state and the decisions every request shares: the upstream registry, the
 * eligible lists the strategy picks from, health (passive, active, outlier, breaker, slow start,
 * panic), and the counters. The public `Balancer` wraps it; exchanges call it.
 *
 * Health has one mechanism: each upstream keeps a bitmask of the reasons it is down, each
 * mechanism sets and clears only its own bit, and the upstream is up when no bit is set.
 */
export class BalancerCore {
  readonly options: ResolvedOptions
  readonly strategy: Strategy
  readonly totals: Totals = { requests: 0, errors: 0, retries: 0 }
  isClosed = false
  /** Exchanges started and not yet settled (in flight, queued, or between attempts). */
  active = 0
  onIdle: (() => void) | undefined = undefined
  /** True while panic mode balances over upstreams that are down. */
  panic = false
  readonly #emit: Emit
  readonly #hasListeners: HasListeners
  #all: Upstream[] = []
  #primaries: Upstream[] = []
  #backups: Upstream[] = []
  #freeSlots: number[] = []
  #nextSlot = 0
  readonly #probers: ActiveProber[]
  readonly #outlier: OutlierDetector | undefined
  readonly #outlierTimer: NodeJS.Timeout | undefined

  constructor(options: ResolvedOptions, emit: Emit, hasListeners: HasListeners) {
    this.options = options
    this.strategy = options.strategy
    this.#emit = emit
    this.#hasListeners = hasListeners
    const active = options.health.filter((h): h is ActiveHealthCheck => h.kind === 'active')
    const outlier = options.health.find((h): h is OutlierDetection => h.kind === 'outlier')
    this.#probers = active.map((check) => new ActiveProber(check))
    if (outlier !== undefined) {
      this.#outlier = new OutlierDetector(outlier)
      this.#outlierTimer = setInterval(() => this.#reviewOutliers(), outlier.options.interval)
      this.#outlierTimer.unref()
    }
    for (const u of options.upstreams) this.#insert(u)
    this.#rebuild()
    for (const u of this.#all) this.#watch(u)
  }

  get all(): readonly Upstream[] {
    return this.#all
  }

  find(id: string): Upstream | undefined {
    return this.#all.find((u) => u.id === id)
  }

  /** Adds an upstream; throws on a duplicate id, or when the strategy refuses the new set. */
  add(config: ResolvedUpstream): Upstream {
    const u = this.#insert(config)
    try {
      this.#rebuild()
    } catch (err) {
      // The strategy refused the new set (a Maglev table too small, say): undo the add.
      this.#all = this.#all.filter((x) => x !== u)
      this.#freeSlots.push(u.index)
      void u.pool.destroy()
      this.#rebuild()
      throw err
    }
    this.#startRamp(u)
    this.#watch(u)
    if (u.state === 'up') this.#emit('upstream:up', { id: u.id, reason: 'added' })
    return u
  }

  /** Takes an upstream out of the registry; it serves what it already has. */
  detach(u: Upstream): void {
    this.#all = this.#all.filter((x) => x !== u)
    this.#unwatch(u)
    const wasUp = u.state === 'up'
    u.state = 'draining'
    u.reason = 'removed'
    this.#rebuild()
    if (wasUp) this.#emit('upstream:down', { id: u.id, reason: 'removed' })
  }

  /** Returns a removed upstream's slot for reuse, once nothing refers to it. */
  releaseSlot(u: Upstream): void {
    this.#freeSlots.push(u.index)
  }

  #insert(config: ResolvedUpstream): Upstream {
    if (this.#all.some((u) => u.id === config.id)) {
      throw new DuplicateUpstreamError(
        `upstream id ${JSON.stringify(config.id)} is already in use; give one of them another id`,
        { field: 'id' },
      )
    }
    const slot = this.#freeSlots.pop() ?? this.#nextSlot++
    const u = new Upstream(config, slot, this.options, this.options.passive)
    this.#all.push(u)
    return u
  }

  /** Starts the health mechanisms that watch one upstream. */
  #watch(u: Upstream): void {
    if (this.options.breaker !== undefined) {
      u.breaker = new UpstreamBreaker(u.id, this.options.breaker, {
        onOpen: () => this.markDown(u, DOWN.breaker, 'breaker_open'),
        onHalfOpen: () => this.markUp(u, DOWN.breaker, 'breaker_half_open'),
        onClose: () => this.markUp(u, DOWN.breaker, 'breaker_closed'),
      })
    }
    if (u.configuredDown) return
    for (const prober of this.#probers) {
      prober.add({
        id: u.id,
        origin: u.origin,
        tls: u.tls,
        servername: u.servername,
        onVerdict: (healthy) =>
          healthy ? this.markUp(u, DOWN.active, 'health_check') : this.markDown(u, DOWN.active, 'health_check'),
      })
    }
  }

  #unwatch(u: Upstream): void {
    clearTimeout(u.recoverTimer)
    u.breaker?.shutdown()
    for (const prober of this.#probers) void prober.remove(u.id)
  }

  #rebuild(): void {
    this.strategy.rebuild?.(this.#all)
    this.#refresh()
  }

  /**
   * Recomputes the eligible lists after a state change: the up primaries; below the panic
   * threshold, all primaries (Envoy's panic mode); with no primary up, the up backups (nginx
   * `backup`); with nothing up at all, all primaries again when panic mode is on.
   */
  #refresh(): void {
    const candidates: Upstream[] = []
    const up: Upstream[] = []
    const backups: Upstream[] = []
    for (const u of this.#all) {
      if (u.configuredDown || u.state === 'draining') continue
      if (u.backup) {
        if (u.state === 'up') backups.push(u)
        continue
      }
      candidates.push(u)
      if (u.state === 'up') up.push(u)
    }
    const threshold = this.options.panicThreshold
    const belowThreshold = threshold > 0 && up.length * 100 < threshold * candidates.length
    let panic = false
    if (!belowThreshold) {
      this.#primaries = up
    } else if (up.length > 0 || backups.length === 0) {
      this.#primaries = candidates
      panic = candidates.length > 0
    } else {
      this.#primaries = []
    }
    this.#backups = backups
    if (panic !== this.panic) {
      this.panic = panic
      this.#emit('balancer:panic', { active: panic, up: up.length, total: candidates.length })
    }
  }

  /**
   * Picks an upstream for the exchange's next attempt: primaries first, backups when no primary
   * is eligible (nginx `backup`). A pick the upstream cannot admit now (at `maxConnections`, a
   * half-open breaker with its trial under way, or refused by the slow-start ramp) is passed over
   * for another; when only full ones remain, the first is returned and the request queues there.
   */
  select(ex: Exchange): Upstream | undefined {
    let list = this.#primaries.length !== 0 ? this.#primaries : this.#backups
    let u = this.strategy.pick(list, ex) as Upstream | undefined
    if (u === undefined && list === this.#primaries && this.#backups.length !== 0) {
      list = this.#backups
      u = this.strategy.pick(list, ex) as Upstream | undefined
    }
    if (u === undefined || this.#admits(u)) return u
    return this.#repick(list, u, ex)
  }

  /** Cheap checks first: nothing is computed for an upstream with no cap, breaker or ramp. */
  #admits(u: Upstream): boolean {
    if (u.isFull) return false
    if (u.breaker !== undefined && !u.breaker.isAdmitting) return false
    if (u.rampUntil === 0) return true
    const t = now()
    if (t >= u.rampUntil) {
      u.rampUntil = 0
      return true
    }
    return Math.random() < slowStartShare(t, u.rampStart, u.slowStart)
  }

  #repick(list: readonly Upstream[], first: Upstream, ex: Exchange): Upstream | undefined {
    const tried = ex.tried
    const skip = new Set(tried)
    // An upstream that is only full can still take the request through its queue; one whose
    // breaker is testing cannot; one refused by its ramp can when nothing else is left.
    let fallback = first.breaker !== undefined && !first.breaker.isAdmitting ? undefined : first
    skip.add(first.id)
    ex.tried = skip
    try {
      for (let i = 0; i < list.length; i++) {
        const u = this.strategy.pick(list, ex) as Upstream | undefined
        if (u === undefined) break
        if (this.#admits(u)) return u
        if (fallback === undefined && (u.breaker === undefined || u.breaker.isAdmitting)) fallback = u
        skip.add(u.id)
      }
      return fallback
    } finally {
      ex.tried = tried
    }
  }

  /** Called when an attempt is sent: the breaker's half-open trial starts. */
  noteStart(u: Upstream): void {
    u.breaker?.noteStart()
  }

  /** Called when an attempt ends unjudged: a half-open breaker's trial is not used up by it. */
  noteUnjudged(u: Upstream): void {
    u.breaker?.abandonTrial()
  }

  /**
   * Records a finished attempt for the health mechanisms: `status` is the upstream's answer (0 for
   * a connection error or timeout); `failed` says whether passive accounting counts it.
   */
  recordOutcome(u: Upstream, failed: boolean, status: number): void {
    u.breaker?.record(!failed)
    const detector = this.#outlier
    if (detector !== undefined && u.state !== 'draining') {
      if (detector.record(u.outlier, status, now(), this.#countEjected, this.#all.length)) {
        this.markDown(u, DOWN.outlier, 'outlier')
      }
    }
    if (!failed) {
      u.passive.recordSuccess()
      return
    }
    // With a single upstream there is nothing to fail over to; nginx ignores max_fails then too.
    if (!u.passive.isEnabled || (u.downBy & DOWN.passive) !== 0 || this.#all.length === 1) return
    const until = u.passive.recordFailure(now())
    if (until === 0) return
    this.markDown(u, DOWN.passive, 'max_fails')
    clearTimeout(u.recoverTimer)
    u.recoverTimer = setTimeout(() => {
      u.recoverTimer = undefined
      this.markUp(u, DOWN.passive, 'fail_timeout')
    }, this.options.passive.failTimeout)
    u.recoverTimer.unref()
  }

  /** Upstreams ejected as outliers now; called only when an ejection rule trips. */
  readonly #countEjected = (): number => {
    let n = 0
    for (const u of this.#all) if (u.outlier.ejectedUntil !== 0) n++
    return n
  }

  #reviewOutliers(): void {
    const t = now()
    const detector = this.#outlier!
    for (const u of this.#all) {
      if (detector.review(u.outlier, t)) this.markUp(u, DOWN.outlier, 'outlier_expired')
    }
    const all = this.#all // removed (draining) upstreams are no longer in it
    for (const i of detector.reviewSuccessRate(all.map((u) => u.outlier), t)) this.markDown(all[i]!, DOWN.outlier, 'outlier')
  }

  /** Sets a down reason; the upstream goes down (and the event fires) when it was up. */
  markDown(u: Upstream, bit: number, reason: string): void {
    if (u.state === 'draining') return
    const was = u.downBy
    u.downBy |= bit
    if (was !== 0) return
    u.state = 'down'
    u.reason = reason
    this.#refresh()
    this.#emit('upstream:down', { id: u.id, reason })
  }

  /** Clears a down reason; the upstream comes back (and ramps up) when no reason is left. */
  markUp(u: Upstream, bit: number, reason: string): void {
    if (u.state === 'draining' || (u.downBy & bit) === 0) return
    u.downBy &= ~bit
    if (u.downBy !== 0) return
    u.state = 'up'
    u.reason = reason
    this.#startRamp(u)
    this.#refresh()
    this.#emit('upstream:up', { id: u.id, reason })
  }

  #startRamp(u: Upstream): void {
    if (u.slowStart <= 0) return
    u.rampStart = now()
    u.rampUntil = u.rampStart + u.slowStart
  }

  exchangeStarted(): void {
    this.active++
    this.totals.requests++
  }

  exchangeEnded(): void {
    this.active--
    if (this.active === 0 && this.onIdle !== undefined) this.onIdle()
  }

  emitRetry(ex: Exchange, u: Upstream, error: SwitchyardError): void {
    this.totals.retries++
    if (!this.#hasListeners('request:retry')) return
    this.#emit('request:retry', { method: ex.method, path: ex.path, upstream: u.id, attempt: ex.attempt, error })
  }

  emitError(ex: Exchange, error: SwitchyardError): void {
    this.totals.errors++
    if (!this.#hasListeners('request:error')) return
    this.#emit('request:error', { method: ex.method, path: ex.path, error, tried: ex.triedIds() })
  }

  /** Stops every timer, probe and breaker. */
  async stop(): Promise<void> {
    clearInterval(this.#outlierTimer)
    for (const u of this.#all) {
      clearTimeout(u.recoverTimer)
      u.breaker?.shutdown()
    }
    await Promise.all(this.#probers.map((p) => p.close()))
  }
}
