import type { Clock, Strategy } from '@switchyard/strategies'
import type { DownReason, Emit, UpReason } from '../config/events.js'
import { primariesInUse } from './panic.js'
import { priorityLoads } from './priority.js'
import type { ResolvedOptions } from '../config/resolved.js'
import { type ZoneSplit, zoneSplit } from './locality.js'
import type { Upstream } from './upstream.js'

/**
 * Which upstreams may take traffic: it applies what the health mechanisms decide (YARP keeps
 * "decide" apart from "apply" the same way, `DestinationHealthUpdater`). Each upstream keeps one
 * bit per reason it is down; a mechanism sets and clears only its own bit, and the upstream is up
 * when no bit is set. After every change the eligible lists the strategy picks from are rebuilt:
 * the up primaries (or all of them in panic mode, see `panic.ts`), split by priority level when
 * several levels share the traffic (`priority.ts`), and the up backups.
 */
export class Availability {
  /** The primaries the strategy picks from (may be empty): every up one, or in panic mode all of them. */
  primaries: Upstream[] = []
  /**
   * With priority levels that share traffic now (a level above is not healthy enough to take it
   * all): each level's up primaries, and `shares` the cumulative percent each takes (priority.ts).
   * Undefined in the common case: one level takes everything (`primaries`).
   */
  levels: Upstream[][] | undefined = undefined
  shares: number[] = []
  /** With `locality`: how the primaries' (or each level's) traffic is split by zone (locality.ts). */
  zones: ZoneSplit | undefined = undefined
  levelZones: (ZoneSplit | undefined)[] = []
  /** The up backups, picked from when no primary is eligible. */
  backups: Upstream[] = []
  /** True while panic mode balances over upstreams that are down. */
  panic = false
  /**
   * Every upstream is an up primary without a connection limit (as of the last change): a pick
   * then passes none over unless the strategy refused it, a retry tried it or its breaker held it
   * back, so a traced request need not look at each upstream to say so (tracing stays O(1) per
   * request in a large fleet).
   */
  allOpen = false
  readonly #strategy: Strategy
  readonly #threshold: number
  readonly #emit: Emit
  readonly #clock: Clock
  /** Upstreams taken out for a while (passive `fail_timeout`), and the timers that bring them back. */
  readonly #recover = new Map<Upstream, unknown>()

  readonly #locality: ResolvedOptions['locality']

  constructor(strategy: Strategy, panicThreshold: number, emit: Emit, clock: Clock, locality?: ResolvedOptions['locality']) {
    this.#locality = locality
    this.#strategy = strategy
    this.#threshold = panicThreshold
    this.#emit = emit
    this.#clock = clock
  }

  /** The upstream set or weights changed: the strategy rebuilds its tables, then the lists. */
  rebuild(all: readonly Upstream[]): void {
    this.#strategy.rebuild?.(all)
    this.refresh(all)
  }

  /** Recomputes the eligible lists after a state change. */
  refresh(all: readonly Upstream[]): void {
    const candidates: Upstream[] = []
    const up: Upstream[] = []
    const backups: Upstream[] = []
    for (const u of all) {
      if (u.configuredDown || u.state === 'draining') continue
      if (u.backup) {
        if (u.state === 'up') backups.push(u)
        continue
      }
      candidates.push(u)
      if (u.state === 'up') up.push(u)
    }
    const use = primariesInUse(up.length, candidates.length, backups.length, this.#threshold)
    this.primaries = use === 'up' ? up : use === 'all' ? candidates : []
    this.backups = backups
    this.#level(use === 'up' ? candidates : [], up)
    this.#zone(use === 'up' ? candidates : [])
    const panic = use === 'all' && candidates.length > 0
    this.allOpen = !panic && use === 'up' && up.length === all.length && all.every((u) => u.queue === undefined)
    if (panic !== this.panic) {
      this.panic = panic
      this.#emit('balancer:panic', { active: panic, up: up.length, total: candidates.length })
    }
  }

  /**
   * Splits the up primaries into their priority levels when more than one of them takes traffic.
   * In panic mode, or with one level (or the first healthy enough for all), nothing is split.
   */
  #level(candidates: readonly Upstream[], up: Upstream[]): void {
    this.levels = undefined
    if (candidates.length === 0 || candidates.every((u) => u.priority === candidates[0]!.priority)) return
    const order = [...new Set(candidates.map((u) => u.priority))].sort((a, b) => a - b)
    const total = order.map((p) => candidates.filter((u) => u.priority === p).length)
    const lists = order.map((p) => up.filter((u) => u.priority === p))
    const loads = priorityLoads(lists.map((l) => l.length), total)
    const taking = loads.flatMap((load, i) => (load > 0 ? [i] : []))
    if (taking.length === 1) {
      this.primaries = lists[taking[0]!]!
      return
    }
    if (taking.length === 0) return
    let sum = 0
    this.levels = taking.map((i) => lists[i]!)
    this.shares = taking.map((i) => (sum += loads[i]!))
  }

  /** Zone-aware routing over the list(s) just made, each against its own level's upstreams. */
  #zone(candidates: readonly Upstream[]): void {
    const l = this.#locality
    this.zones = undefined
    this.levelZones = []
    if (l === undefined || candidates.length === 0) return
    const levelOf = (list: readonly Upstream[]) => candidates.filter((u) => u.priority === list[0]?.priority)
    if (this.levels === undefined) this.zones = zoneSplit(l.zone, l.minUpstreams, levelOf(this.primaries), this.primaries)
    else this.levelZones = this.levels.map((list) => zoneSplit(l.zone, l.minUpstreams, levelOf(list), list))
  }

  /** The level a draw in [0, 1) falls in (with `levels`): Envoy's priority load. */
  levelOf(draw: number): number {
    const x = draw * 100
    const shares = this.shares
    for (let i = 0; i < shares.length - 1; i++) if (x < shares[i]!) return i
    return shares.length - 1
  }

  /** Sets a down reason; the upstream goes down (and the event fires) when it was up. */
  markDown(all: readonly Upstream[], u: Upstream, bit: number, reason: DownReason): void {
    if (u.state === 'draining') return
    const was = u.downBy
    u.downBy |= bit
    if (was !== 0) return
    u.state = 'down'
    u.reason = reason
    this.refresh(all)
    this.#emit('upstream:down', { id: u.id, reason })
  }

  /** Clears a down reason; the upstream comes back (and ramps up) when no reason is left. */
  markUp(all: readonly Upstream[], u: Upstream, bit: number, reason: UpReason): void {
    if (u.state === 'draining' || (u.downBy & bit) === 0) return
    u.downBy &= ~bit
    if (u.downBy !== 0) return
    u.state = 'up'
    u.reason = reason
    this.startRamp(u)
    this.refresh(all)
    this.#emit('upstream:up', { id: u.id, reason })
  }

  /** Slow start: the upstream's share ramps up from now, when it has a slow start. */
  startRamp(u: Upstream): void {
    if (u.slowStart <= 0) return
    u.rampStart = this.#clock.now()
    u.rampUntil = u.rampStart + u.slowStart
  }

  /** The ramp is over (the selector noticed): `u` is admitted at full share from now on, with no clock read. */
  endRamp(u: Upstream): void {
    u.rampUntil = 0
  }

  /**
   * Takes `u` out for `ms` (nginx `fail_timeout` after `max_fails`), then brings it back with
   * `upReason`, on the balancer's clock. A second suspension while one runs starts the wait over.
   */
  suspend(all: readonly Upstream[], u: Upstream, bit: number, reason: DownReason, ms: number, upReason: UpReason): void {
    this.markDown(all, u, bit, reason)
    this.#clock.clearTimeout(this.#recover.get(u))
    this.#recover.set(
      u,
      this.#clock.setTimeout(() => {
        this.#recover.delete(u)
        this.markUp(all, u, bit, upReason)
      }, ms),
    )
  }

  /**
   * `u` leaves the balancer (`lb.remove()`): it takes no new request, and its suspension (if any)
   * ends with it. Returns whether it was up.
   */
  retire(u: Upstream): boolean {
    this.#clock.clearTimeout(this.#recover.get(u))
    this.#recover.delete(u)
    const wasUp = u.state === 'up'
    u.state = 'draining'
    u.reason = 'removed'
    return wasUp
  }

  /** Stops the recovery timers (the balancer closes). */
  stop(): void {
    for (const timer of this.#recover.values()) this.#clock.clearTimeout(timer)
    this.#recover.clear()
  }
}
