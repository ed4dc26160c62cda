import { slowStartShare } from '@switchyard/health/internal'
import type { Clock, PickContext, Strategy } from '@switchyard/strategies'
import type { Availability } from './availability.js'
import type { PassReason } from '../config/events.js'
import type { ExchangeView } from './exchange-view.js'
import type { ZoneSplit } from './locality.js'
import type { Upstream } from './upstream.js'

/**
 * Picks the upstream for an attempt, and admits it. The selector owns the rules, the strategy
 * only the order (Pingora's `select_with`): the strategy picks from the primaries — from one
 * priority level, drawn by the levels' shares, when several share the traffic — or from the
 * backups when no primary is eligible (nginx `backup`), among the candidates `accept` approves.
 *
 * Two passes. The first accepts an upstream not yet tried for the request that can take it now:
 * under its `maxConnections`, its breaker not testing, not held back by its slow-start ramp. When
 * it finds none, the second also accepts one that is full (the request waits in its queue) or
 * ramping; never one whose breaker is testing.
 */
export class Selector {
  readonly #strategy: Strategy
  readonly #availability: Availability
  readonly #clock: Clock
  readonly #random: () => number
  /** One context for every pick: `pick` is synchronous, so no request sees another's. */
  readonly #ctx: PickContext & { key: string | undefined }
  #tried: ReadonlySet<string> = new Set()
  #strict = true
  /** While a traced request picks: why `accept` refused each upstream it refused. */
  #refused: Map<string, PassReason> | undefined = undefined

  constructor(strategy: Strategy, availability: Availability, clock: Clock, random: () => number) {
    this.#strategy = strategy
    this.#availability = availability
    this.#clock = clock
    this.#random = random
    this.#ctx = { key: undefined, attempt: 1, accept: (c) => this.#accept(c as Upstream) }
  }

  /**
   * Picks the upstream for the next attempt of `ex`. `refused`, for a traced request only, gets
   * why each upstream the rules turned away was refused (the picked one is not in it). `readyOnly`
   * keeps to the first pass: an upstream that can take the request now (a hedged attempt never waits).
   */
  select(ex: ExchangeView, refused?: Map<string, PassReason>, readyOnly = false): Upstream | undefined {
    this.#refused = refused
    const availability = this.#availability
    const { primaries, backups, levels } = availability
    const ctx = this.#ctx
    ctx.key = ex.key
    ctx.attempt = ex.attempt + 1 // the attempt being picked for
    this.#tried = ex.tried
    let u: Upstream | undefined
    if (levels !== undefined) {
      // Priority levels sharing the traffic: the drawn level first, then the others in order.
      const drawn = availability.levelOf(this.#random())
      u = this.#zoned(levels[drawn]!, availability.levelZones[drawn], readyOnly)
      for (let i = 0; u === undefined && i < levels.length; i++) if (i !== drawn) u = this.#pick(levels[i]!, readyOnly)
      if (u === undefined && backups.length !== 0) u = this.#pick(backups, readyOnly)
    } else {
      const list = primaries.length !== 0 ? primaries : backups
      u = list === primaries ? this.#zoned(list, availability.zones, readyOnly) : this.#pick(list, readyOnly)
      if (u === undefined && list === primaries && backups.length !== 0) u = this.#pick(backups, readyOnly)
    }
    ctx.key = undefined
    if (refused !== undefined) {
      this.#refused = undefined
      if (u !== undefined) refused.delete(u.id)
    }
    return u
  }

  /** With zone-aware routing: the local zone's share of requests first there, the rest to the other zones; then the whole list. */
  #zoned(list: readonly Upstream[], split: ZoneSplit | undefined, readyOnly: boolean): Upstream | undefined {
    if (split === undefined) return this.#pick(list, readyOnly)
    const local = split.localShare >= 1 || this.#random() < split.localShare
    return this.#pick(local ? split.local : split.others, readyOnly) ?? this.#pick(list, readyOnly)
  }

  #pick(list: readonly Upstream[], readyOnly: boolean): Upstream | undefined {
    this.#strict = true
    const u = this.#strategy.pick(list, this.#ctx) as Upstream | undefined
    if (u !== undefined || readyOnly) return u
    this.#strict = false
    return this.#strategy.pick(list, this.#ctx) as Upstream | undefined
  }

  #accept(u: Upstream): boolean {
    const tried = this.#tried
    if (tried.size !== 0 && tried.has(u.id)) return this.#refuse(u, 'tried')
    if (u.breaker !== undefined && !u.breaker.isAdmitting) return this.#refuse(u, 'breaker_open')
    return !this.#strict || this.#admits(u)
  }

  /** Cheap checks first: nothing is computed for an upstream with no cap or ramp. */
  #admits(u: Upstream): boolean {
    if (u.isFull) return this.#refuse(u, 'full')
    if (u.rampUntil === 0) return true
    const t = this.#clock.now()
    if (t >= u.rampUntil) {
      this.#availability.endRamp(u)
      return true
    }
    return this.#random() < slowStartShare(t, u.rampStart, u.slowStart) || this.#refuse(u, 'ramping')
  }

  /** Notes why `u` was refused, when a traced request picks; always false. */
  #refuse(u: Upstream, reason: PassReason): false {
    if (this.#refused !== undefined) this.#refused.set(u.id, reason)
    return false
  }
}
