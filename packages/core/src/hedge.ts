import type { PassedOver } from './events.js'
import { UpstreamHandler } from './undici-handler.js'
import type { Upstream } from './upstream.js'

/**
 * What a race needs from its exchange: the hooks of the attempt the exchange follows (the current
 * racer forwards to them), and the race's own decisions.
 */
export interface RaceHost {
  attemptStarted(abort: (reason: Error) => void): void
  responseHead(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean
  responseData(chunk: Buffer): boolean
  responseEnd(trailers: Buffer[] | string[] | null): void
  attemptFailed(err: Error): void
  /** Whether `racer` is the attempt the exchange follows. */
  isCurrent(racer: Racer): boolean
  /** Whether the race is undecided: a hedge is pending or out. */
  readonly racing: boolean
  /** A racer's final head during the race: whether it is relayed (it won) or dropped (it lost). */
  decide(racer: Racer, statusCode: number): boolean
  /** A racer failed before any head during the race. */
  racerFailed(racer: Racer, err: Error): void
  /** A hook threw where undici cannot take it back: the request ends. */
  handlerThrew(err: unknown): void
}

/**
 * One attempt of a hedged request. The attempt the exchange follows forwards every callback to
 * it; the other is accounted by the exchange when it fails or loses, and whatever undici reports
 * of it after that is dropped. Only requests that may be hedged get racers: the common path
 * dispatches with the exchange itself as the handler.
 */
export class Racer extends UpstreamHandler {
  abort: ((reason: Error) => void) | null = null
  /** Set when the race dropped this attempt: it is aborted and already accounted. */
  out = false
  readonly #host: RaceHost
  readonly upstream: Upstream
  readonly startedAt: number
  /** The second attempt, sent after `hedge.delay`. */
  readonly hedged: boolean
  /** For a traced request: the upstreams passed over when this one was picked. */
  passed: PassedOver[] | undefined = undefined

  constructor(host: RaceHost, upstream: Upstream, startedAt: number, hedged: boolean) {
    super()
    this.#host = host
    this.upstream = upstream
    this.startedAt = startedAt
    this.hedged = hedged
  }

  /** Drops this attempt (the exchange accounted it): aborts it now or as soon as it starts. */
  drop(reason: Error): void {
    this.out = true
    if (this.abort !== null) this.abort(reason)
    else this.#dropReason = reason
  }

  #dropReason: Error | undefined = undefined

  attemptStarted(abort: (reason: Error) => void): void {
    if (this.#dropReason !== undefined) {
      abort(this.#dropReason)
      return
    }
    this.abort = abort
    if (this.#host.isCurrent(this)) this.#host.attemptStarted(abort)
  }

  responseHead(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.out) return true
    const host = this.#host
    if (host.racing) {
      if (statusCode < 200) return true // a 1xx while the race is open: the winner is not known yet
      if (!host.decide(this, statusCode)) return true
    }
    return host.responseHead(statusCode, rawHeaders, resume, statusText)
  }

  responseData(chunk: Buffer): boolean {
    return this.out || this.#host.responseData(chunk)
  }

  responseEnd(trailers: Buffer[] | string[] | null): void {
    if (!this.out) this.#host.responseEnd(trailers)
  }

  attemptFailed(err: Error): void {
    if (this.out) return
    const host = this.#host
    if (host.racing) host.racerFailed(this, err)
    else host.attemptFailed(err)
  }

  handlerThrew(err: unknown): void {
    if (!this.out) this.#host.handlerThrew(err)
  }
}
