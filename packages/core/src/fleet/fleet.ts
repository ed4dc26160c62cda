import type { Clock, Strategy } from '@switchyard/strategies'
import type { Emit } from '../config/events.js'
import type { ResolvedOptions, ResolvedUpstream } from '../config/resolved.js'
import { Availability } from './availability.js'
import { HealthMonitor } from './health-monitor.js'
import { UpstreamRegistry } from './registry.js'
import { Selector } from './selection.js'
import { SharedHealth } from './share.js'
import { DOWN, type Upstream } from './upstream.js'

/**
 * The upstreams and everything that decides about them, one part per job (see ../README.md for
 * the life of a request through them):
 *
 * - `registry`: the upstreams, their slots, and their retirement (drain, close);
 * - `availability`: which upstreams are eligible (health bits, backups, panic, slow-start ramps,
 *   suspensions), applied — the one writer of an upstream's state;
 * - `health`: the mechanisms that decide health (passive, active, outlier, breaker);
 * - `selector`: picking and admitting the upstream for an attempt.
 *
 * The request side (exchanges) reads it and reports outcomes to `health`; the public `Balancer`
 * drives it (add, remove, update, stop).
 */
export class Fleet {
  readonly options: ResolvedOptions
  readonly strategy: Strategy
  readonly clock: Clock
  readonly registry: UpstreamRegistry
  readonly availability: Availability
  readonly health: HealthMonitor
  readonly selector: Selector
  /** With `cache`: the attempts the cache answered, by how (lb.stats().cache). */
  readonly cacheCounts = { hit: 0, miss: 0, revalidated: 0 }
  readonly #emit: Emit

  constructor(options: ResolvedOptions, emit: Emit) {
    this.options = options
    this.strategy = options.strategy
    this.clock = options.clock
    this.#emit = emit
    this.registry = new UpstreamRegistry(options)
    this.availability = new Availability(options.strategy, options.panicThreshold, emit, options.clock, options.locality)
    this.health = new HealthMonitor(options, this.registry, this.availability)
    this.selector = new Selector(options.strategy, this.availability, options.clock, options.random)
    if (options.share !== undefined) {
      this.health.shared = new SharedHealth(options.share, this.registry, this.availability, options.clock, (u) => this.health.countFailure(u))
    }
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
    const wasUp = this.availability.retire(u)
    this.availability.rebuild(this.registry.all)
    if (wasUp) this.#emit('upstream:down', { id: u.id, reason: 'removed' })
    await this.registry.retire(u, drain)
  }

  /**
   * An operator's change to a live upstream: its weight (the strategy rebuilds its tables) and
   * whether it is marked down (as `down: true`; it comes back, ramping up, when unmarked).
   */
  update(u: Upstream, change: { weight?: number | undefined; down?: boolean | undefined }): void {
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
