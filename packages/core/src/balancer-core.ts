import type { Clock, Strategy } from '@switchyard/strategies'
import { Availability } from './availability.js'
import { Counters, type Emit, type HasListeners } from './events.js'
import { HealthMonitor } from './health-monitor.js'
import type { ResolvedOptions, ResolvedUpstream } from './options.js'
import { UpstreamRegistry } from './registry.js'
import { Selector } from './selection.js'
import { DOWN, type Upstream } from './upstream.js'

export type { BalancerEvents, Emit, HasListeners } from './events.js'

/**
 * The balancer's shared state, one part per job (see README.md in this folder for the life of a
 * request through them):
 *
 * - `registry`: the upstreams, their slots, and their retirement (drain, close);
 * - `availability`: which upstreams are eligible (health bits, backups, panic), applied;
 * - `health`: the mechanisms that decide health (passive, active, outlier, breaker);
 * - `selector`: picking and admitting the upstream for an attempt;
 * - `counters`: the totals and the request events.
 *
 * The public `Balancer` wraps it; exchanges call its parts.
 */
export class BalancerCore {
  readonly options: ResolvedOptions
  readonly strategy: Strategy
  readonly clock: Clock
  readonly registry: UpstreamRegistry
  readonly availability: Availability
  readonly health: HealthMonitor
  readonly selector: Selector
  readonly counters: Counters
  isClosed = false
  /** Open upgrade tunnels (WebSocket): `close()` tears down those still open after its grace period. */
  readonly tunnels = new Set<{ destroy(): void }>()
  readonly #emit: Emit

  constructor(options: ResolvedOptions, emit: Emit, hasListeners: HasListeners) {
    this.options = options
    this.strategy = options.strategy
    this.clock = options.clock
    this.#emit = emit
    this.counters = new Counters(emit, hasListeners)
    this.counters.traceSize = options.trace
    this.registry = new UpstreamRegistry(options)
    this.availability = new Availability(options.strategy, options.panicThreshold, emit, options.clock.now)
    this.health = new HealthMonitor(options, this.registry, this.availability)
    this.selector = new Selector(options.strategy, this.availability, options.clock, options.random)
    for (const u of options.upstreams) this.registry.insert(u)
    this.availability.rebuild(this.registry.all)
    for (const u of this.registry.all) this.health.watch(u)
  }

  /** Adds an upstream; throws on a duplicate id, or when the strategy refuses the new set. */
  add(config: ResolvedUpstream): Upstream {
    const u = this.registry.insert(config)
    try {
      this.availability.rebuild(this.registry.all)
    } catch (err) {
      // The strategy refused the new set (a Maglev table too small, say): undo the add.
      this.registry.discard(u)
      this.availability.rebuild(this.registry.all)
      throw err
    }
    this.availability.startRamp(u)
    this.health.watch(u)
    if (u.state === 'up') this.#emit('upstream:up', { id: u.id, reason: 'added' })
    return u
  }

  /**
   * Removes an upstream: it takes no new request at once; with `drain`, the promise resolves once
   * its in-flight and queued requests are done and its pool is closed; without, the pool is
   * destroyed at once.
   */
  async remove(u: Upstream, drain: boolean): Promise<void> {
    this.registry.detach(u)
    this.health.unwatch(u)
    const wasUp = u.state === 'up'
    u.state = 'draining'
    u.reason = 'removed'
    this.availability.rebuild(this.registry.all)
    if (wasUp) this.#emit('upstream:down', { id: u.id, reason: 'removed' })
    await this.registry.retire(u, drain)
  }

  /**
   * An operator's change to a live upstream: its weight (the strategy rebuilds its tables) and
   * whether it is marked down (as `down: true`; it comes back, ramping up, when unmarked).
   */
  update(u: Upstream, change: { weight?: number; down?: boolean }): void {
    if (change.weight !== undefined && change.weight !== u.weight) {
      const was = u.weight
      u.weight = change.weight
      try {
        this.availability.rebuild(this.registry.all)
      } catch (err) {
        u.weight = was
        this.availability.rebuild(this.registry.all)
        throw err
      }
    }
    if (change.down === true) this.availability.markDown(this.registry.all, u, DOWN.configured, 'configured')
    else if (change.down === false) this.availability.markUp(this.registry.all, u, DOWN.configured, 'configured')
  }

  /** Stops every timer, probe and breaker. */
  stop(): Promise<void> {
    return this.health.stop()
  }
}
