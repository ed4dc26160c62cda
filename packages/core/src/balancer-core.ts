import type { Strategy } from '@switchyard/strategies'
import type { SwitchyardError } from '@switchyard/strategies'
import { DuplicateUpstreamError } from './errors.js'
import type { Exchange } from './exchange.js'
import type { ResolvedOptions, ResolvedUpstream } from './options.js'
import { Upstream } from './upstream.js'

/** Payloads of the balancer's events. */
export interface BalancerEvents {
  /** An upstream stopped taking traffic. `reason`: `'max_fails'`, `'removed'`… */
  'upstream:down': { id: string; reason: string }
  /** An upstream takes traffic again. `reason`: `'fail_timeout'`, `'added'`… */
  'upstream:up': { id: string; reason: string }
  /** A failed attempt is retried on another upstream. */
  'request:retry': { method: string; path: string; upstream: string; attempt: number; error: SwitchyardError }
  /** The balancer answered a request with an error (or cut a relayed response). */
  'request:error': { method: string; path: string; error: SwitchyardError; tried: string[] }
}

export type Emit = <E extends keyof BalancerEvents>(event: E, payload: BalancerEvents[E]) => void
export type HasListeners = (event: keyof BalancerEvents) => boolean

/** Balancer-wide counters (the per-upstream ones live on each upstream). */
export interface Totals {
  requests: number
  errors: number
  retries: number
}

/**
 * The balancer's state and the decisions every request shares: the upstream registry, the
 * eligible lists the strategy picks from, passive health, and the counters. The public `Balancer`
 * wraps it; exchanges call it.
 */
export class BalancerCore {
  readonly options: ResolvedOptions
  readonly strategy: Strategy
  readonly totals: Totals = { requests: 0, errors: 0, retries: 0 }
  isClosed = false
  /** Exchanges started and not yet settled (in flight, queued, or between attempts). */
  active = 0
  onIdle: (() => void) | undefined = undefined
  readonly #emit: Emit
  readonly #hasListeners: HasListeners
  #all: Upstream[] = []
  #primaries: Upstream[] = []
  #backups: Upstream[] = []
  #freeSlots: number[] = []
  #nextSlot = 0

  constructor(options: ResolvedOptions, emit: Emit, hasListeners: HasListeners) {
    this.options = options
    this.strategy = options.strategy
    this.#emit = emit
    this.#hasListeners = hasListeners
    for (const u of options.upstreams) this.#insert(u)
    this.#rebuild()
  }

  get all(): readonly Upstream[] {
    return this.#all
  }

  find(id: string): Upstream | undefined {
    return this.#all.find((u) => u.id === id)
  }

  /** Adds an upstream; throws on a duplicate id. */
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
    if (u.state === 'up') this.#emit('upstream:up', { id: u.id, reason: 'added' })
    return u
  }

  /** Takes an upstream out of the registry; it serves what it already has. */
  detach(u: Upstream): void {
    this.#all = this.#all.filter((x) => x !== u)
    clearTimeout(u.recoverTimer)
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

  #rebuild(): void {
    this.strategy.rebuild?.(this.#all)
    this.#refresh()
  }

  /** Recomputes the eligible lists after a state change. */
  #refresh(): void {
    this.#primaries = this.#all.filter((u) => u.state === 'up' && !u.backup)
    this.#backups = this.#all.filter((u) => u.state === 'up' && u.backup)
  }

  /**
   * Picks an upstream for the exchange's next attempt: primaries first, backups when no primary
   * is eligible (nginx `backup`). An upstream at its `maxConnections` is passed over while another
   * has room; when all are full, the first pick is returned and the request waits in its queue.
   */
  select(ex: Exchange): Upstream | undefined {
    let list = this.#primaries.length !== 0 ? this.#primaries : this.#backups
    let u = this.strategy.pick(list, ex) as Upstream | undefined
    if (u === undefined && list === this.#primaries && this.#backups.length !== 0) {
      list = this.#backups
      u = this.strategy.pick(list, ex) as Upstream | undefined
    }
    if (u?.isFull) return this.#pickWithRoom(list, u!, ex) ?? u
    return u
  }

  #pickWithRoom(list: readonly Upstream[], first: Upstream, ex: Exchange): Upstream | undefined {
    const tried = ex.tried
    const skip = new Set(tried)
    skip.add(first.id)
    ex.tried = skip
    try {
      for (let i = 0; i < list.length; i++) {
        const u = this.strategy.pick(list, ex) as Upstream | undefined
        if (u === undefined) return undefined
        if (!u.isFull) return u
        skip.add(u.id)
      }
      return undefined
    } finally {
      ex.tried = tried
    }
  }

  /** Passive health: counts a failure or a success of an attempt on `u`. */
  recordOutcome(u: Upstream, failed: boolean): void {
    if (!failed) {
      u.passive.recordSuccess()
      return
    }
    // With a single upstream there is nothing to fail over to; nginx ignores max_fails then too.
    if (!u.passive.isEnabled || u.state !== 'up' || this.#all.length === 1) return
    const until = u.passive.recordFailure(performance.now())
    if (until === 0) return
    this.setState(u, 'down', 'max_fails')
    u.recoverTimer = setTimeout(() => {
      u.recoverTimer = undefined
      if (u.state === 'down' && u.reason === 'max_fails') this.setState(u, 'up', 'fail_timeout')
    }, this.options.passive.failTimeout)
    u.recoverTimer.unref()
  }

  setState(u: Upstream, state: 'up' | 'down', reason: string): void {
    if (u.state === state || u.state === 'draining') return
    u.state = state
    u.reason = reason
    this.#refresh()
    this.#emit(state === 'up' ? 'upstream:up' : 'upstream:down', { id: u.id, reason })
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

  /** Stops the recovery timers. */
  stopTimers(): void {
    for (const u of this.#all) clearTimeout(u.recoverTimer)
  }
}
