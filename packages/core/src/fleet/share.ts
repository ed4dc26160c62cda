import type { Clock } from '@switchyard/strategies'
import type { DownReason, UpReason } from '../config/events.js'
import type { ShareChannel, ShareNews, ShareSource } from '../config/share-types.js'
import type { Availability } from './availability.js'
import type { UpstreamRegistry } from './registry.js'
import { DOWN, type Upstream } from './upstream.js'

/** The DOWN bit of each shared mechanism, and back. */
const SOURCE: Readonly<Record<number, ShareSource>> = { [DOWN.passive]: 'passive', [DOWN.active]: 'active', [DOWN.outlier]: 'outlier', [DOWN.breaker]: 'breaker' }
/** Why an upstream comes back when another balancer's timed verdict runs out here. */
const EXPIRED: Readonly<Record<ShareSource, UpReason>> = { passive: 'fail_timeout', active: 'health_check', outlier: 'outlier_expired', breaker: 'breaker_half_open' }

/**
 * The `share` option: this balancer's health verdicts and passive failures go out on the channel,
 * and the other balancers' come in. Another balancer's `down` sets the upstream's `DOWN.shared`
 * bit here, kept per sender and mechanism (one sender's `up` never clears another's `down`), for
 * the `ms` the verdict carries (then it runs out on this balancer's clock, so a sender that dies
 * never leaves an upstream out for good) or until the sender says `up`. Their failures count in
 * this balancer's passive accounting. Nothing here runs per request: only on a verdict or a
 * failure.
 */
export class SharedHealth {
  readonly #channel: ShareChannel
  readonly #registry: UpstreamRegistry
  readonly #availability: Availability
  readonly #clock: Clock
  readonly #countFailure: (u: Upstream) => void
  /** Per upstream: `sender/source` → the timer that ends the verdict (null: until `up`). */
  readonly #marks = new Map<Upstream, Map<string, unknown>>()
  readonly #unsubscribe: () => void

  constructor(channel: ShareChannel, registry: UpstreamRegistry, availability: Availability, clock: Clock, countFailure: (u: Upstream) => void) {
    this.#channel = channel
    this.#registry = registry
    this.#availability = availability
    this.#clock = clock
    this.#countFailure = countFailure
    this.#unsubscribe = channel.subscribe((news) => this.#receive(news))
  }

  /** This balancer took `u` out by `bit` (for `ms` when known). */
  down(u: Upstream, bit: number, reason: DownReason, ms?: number): void {
    const by = SOURCE[bit]
    if (by !== undefined) this.#send({ type: 'down', upstream: u.id, by, reason, ...(ms === undefined ? {} : { ms: Math.max(0, ms) }) })
  }

  /** This balancer's verdict by `bit` on `u` is over. */
  up(u: Upstream, bit: number, reason: UpReason): void {
    const by = SOURCE[bit]
    if (by !== undefined) this.#send({ type: 'up', upstream: u.id, by, reason })
  }

  /** This balancer's passive accounting counted a failure of `u`. */
  failure(u: Upstream): void {
    this.#send({ type: 'failure', upstream: u.id })
  }

  /** `u` left the balancer: its marks' timers go. */
  forget(u: Upstream): void {
    const marks = this.#marks.get(u)
    if (marks === undefined) return
    for (const timer of marks.values()) if (timer !== null) this.#clock.clearTimeout(timer)
    this.#marks.delete(u)
  }

  stop(): void {
    this.#unsubscribe()
    for (const u of [...this.#marks.keys()]) this.forget(u)
  }

  #send(news: ShareNews): void {
    try {
      this.#channel.send(news)
    } catch {
      // A closed channel (the primary went away) must not fail a request: this balancer decides alone.
    }
  }

  /**
   * Another balancer's news. Malformed news (an unknown type or mechanism, a reason or sender that
   * is not a string, an `ms` that is not a finite number) is ignored whole: the channel is trusted,
   * but not to be well-formed.
   */
  #receive(news: ShareNews): void {
    if (news === null || typeof news !== 'object' || typeof news.upstream !== 'string') return
    const u = this.#registry.find(news.upstream)
    if (u === undefined) return
    if (news.type === 'failure') {
      this.#countFailure(u)
      return
    }
    if (!Object.hasOwn(EXPIRED, news.by) || typeof news.reason !== 'string' || (news.from !== undefined && typeof news.from !== 'string')) return
    const key = `${news.from ?? 'peer'}/${news.by}`
    if (news.type === 'up') {
      this.#end(u, key, news.reason)
      return
    }
    if (news.type !== 'down') return
    const ms = news.ms
    if (ms !== undefined && (typeof ms !== 'number' || !Number.isFinite(ms))) return
    let marks = this.#marks.get(u)
    if (marks === undefined) this.#marks.set(u, (marks = new Map()))
    const old = marks.get(key)
    if (old !== undefined && old !== null) this.#clock.clearTimeout(old)
    const by = news.by
    marks.set(key, ms === undefined ? null : this.#clock.setTimeout(() => this.#end(u, key, EXPIRED[by], true), Math.max(0, ms)))
    this.#availability.markDown(this.#registry.all, u, DOWN.shared, news.reason)
  }

  #end(u: Upstream, key: string, reason: UpReason, expired = false): void {
    const marks = this.#marks.get(u)
    if (marks === undefined || !marks.has(key)) return
    const timer = marks.get(key)
    if (!expired && timer !== null) this.#clock.clearTimeout(timer)
    marks.delete(key)
    if (marks.size !== 0) return
    this.#marks.delete(u)
    this.#availability.markUp(this.#registry.all, u, DOWN.shared, reason)
  }
}
