import { slowStartShare } from '@switchyard/health'
import type { Clock, Strategy } from '@switchyard/strategies'
import type { Availability } from './availability.js'
import type { ExchangeView } from './exchange-view.js'
import type { Upstream } from './upstream.js'

/**
 * Picks the upstream for an attempt, and admits it: the strategy picks from the primaries, from
 * the backups when no primary is eligible (nginx `backup`); a pick that cannot take the request
 * now (at `maxConnections`, a half-open breaker with its trial under way, refused by its
 * slow-start ramp) is passed over for another; when only full ones remain, the first is returned
 * and the request waits in its queue.
 */
export class Selector {
  readonly #strategy: Strategy
  readonly #availability: Availability
  readonly #clock: Clock
  readonly #random: () => number

  constructor(strategy: Strategy, availability: Availability, clock: Clock, random: () => number) {
    this.#strategy = strategy
    this.#availability = availability
    this.#clock = clock
    this.#random = random
  }

  select(ex: ExchangeView): Upstream | undefined {
    const { primaries, backups } = this.#availability
    let list = primaries.length !== 0 ? primaries : backups
    let u = this.#strategy.pick(list, ex) as Upstream | undefined
    if (u === undefined && list === primaries && backups.length !== 0) {
      list = backups
      u = this.#strategy.pick(list, ex) as Upstream | undefined
    }
    if (u === undefined || this.#admits(u)) return u
    return this.#repick(list, u, ex)
  }

  /** Cheap checks first: nothing is computed for an upstream with no cap, breaker or ramp. */
  #admits(u: Upstream): boolean {
    if (u.isFull) return false
    if (u.breaker !== undefined && !u.breaker.isAdmitting) return false
    if (u.rampUntil === 0) return true
    const t = this.#clock.now()
    if (t >= u.rampUntil) {
      u.rampUntil = 0
      return true
    }
    return this.#random() < slowStartShare(t, u.rampStart, u.slowStart)
  }

  #repick(list: readonly Upstream[], first: Upstream, ex: ExchangeView): Upstream | undefined {
    const tried = ex.tried
    const skip = new Set(tried)
    // An upstream that is only full can still take the request through its queue; one whose
    // breaker is testing cannot; one refused by its ramp can when nothing else is left.
    let fallback = first.breaker !== undefined && !first.breaker.isAdmitting ? undefined : first
    skip.add(first.id)
    ex.tried = skip
    try {
      for (let i = 0; i < list.length; i++) {
        const u = this.#strategy.pick(list, ex) as Upstream | undefined
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
}
