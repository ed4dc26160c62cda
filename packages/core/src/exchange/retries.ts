import type { SwitchyardError } from '@switchyard/strategies'
import { UpstreamError } from '../config/errors.js'
import type { Upstream } from '../fleet/upstream.js'
import type { Side } from './blame.js'
import type { ExchangeHost } from './context.js'
import { afterFailure, afterStatus, budgetAllows, type FailureVerdict, mayReplay, retryAfterMs } from './retry.js'

const EMPTY: ReadonlySet<string> = new Set()

/**
 * One request's retry state: attempts, keep-alive races, the upstreams tried, the last error, its
 * place in the retry budget, and the back-off before a retry on a status. The decisions are
 * retry.ts's pure functions; this holds what they are asked about and what they leave behind.
 */
export class Retries {
  /** Attempts begun: 0 while the first is being picked. */
  attempt = 0
  tried: ReadonlySet<string> = EMPTY
  /** The failure the client hears of when no next attempt can go. */
  lastError: SwitchyardError | undefined = undefined
  lastUpstream: Upstream | undefined = undefined
  #stale = 0
  /** Counted in `counters.retrying` (the budget) since its first retry after reaching an upstream. */
  #inBudget = false
  #delay = 0
  #backoff: unknown = undefined
  readonly #host: ExchangeHost
  readonly #method: string

  constructor(host: ExchangeHost, method: string) {
    this.#host = host
    this.#method = method
  }

  /** Attempts made, not counting keep-alive races. */
  get attempts(): number {
    return this.attempt - this.#stale
  }

  /** What follows a failed attempt (retry.ts `afterFailure`), from the facts the exchange gathered. */
  afterFailure(side: Side, code: string, responseStarted: boolean, uploading: boolean, staleConnection: boolean, bodyReplayable: boolean): FailureVerdict {
    const retry = this.#host.options.retry
    return afterFailure(
      {
        side,
        code,
        responseStarted,
        uploading,
        staleConnection,
        staleRetries: this.#stale,
        attempts: this.attempts,
        replayableIfReached: mayReplay(bodyReplayable, this.#method, true, retry),
        replayableIfUnsent: mayReplay(bodyReplayable, this.#method, false, retry),
        closed: this.#host.isClosed,
      },
      retry,
    )
  }

  /** A keep-alive race: sent again, free, as if it never went. */
  stale(error: SwitchyardError, u: Upstream): void {
    this.#stale++
    this.#last(error, u)
  }

  /**
   * A retry on another upstream after `error` on `u`, if it may go: within the retry budget, unless
   * `u` is out of rotation now (this failure marked it down, or opened its breaker) — such a retry
   * adds no load to a sick fleet, it moves the request off a dead upstream, as nginx's
   * `proxy_next_upstream` does.
   */
  retry(error: SwitchyardError, u: Upstream, needsBudget: boolean): boolean {
    const leaving = u.state !== 'up' || (u.breaker !== undefined && !u.breaker.isAdmitting)
    if (needsBudget && !leaving && !this.budgetAllows()) return false
    this.markTried(u)
    this.#last(error, u)
    return true
  }

  /** Whether an answer with this status is dropped for a retry (`retry.on`); if so, the back-off is set. */
  retriesStatus(status: number, raw: Buffer[], bodyReplayable: boolean, cancelled: boolean): boolean {
    const { retry, random } = this.#host.options
    if (retry.on.size === 0 || !retry.on.has(status)) return false
    const { primaries, backups } = this.#host.fleet.availability
    const delay = afterStatus(
      {
        status,
        attempts: this.attempts,
        attempt: this.attempt,
        replayable: mayReplay(bodyReplayable, this.#method, true, retry),
        untried: (primaries.length !== 0 ? primaries : backups).length - this.tried.size - 1,
        retryAfter: status === 429 || status === 503 ? retryAfterMs(raw, Date.now()) : undefined,
        cancelled,
      },
      retry,
      random,
    )
    if (delay === undefined || !this.budgetAllows()) return false
    this.#delay = delay
    return true
  }

  /** The dropped answer of `u` ended: the next attempt goes after the back-off (`go`). */
  afterStatus(u: Upstream, status: number, go: () => void): void {
    this.markTried(u)
    this.#last(new UpstreamError(`upstream ${u.id} answered ${status}`), u)
    if (this.#delay <= 0) {
      go()
      return
    }
    this.#backoff = this.#host.clock.setTimeout(() => {
      this.#backoff = undefined
      go()
    }, this.#delay)
  }

  /** Cancels a back-off under way; true when there was one. */
  cancelBackoff(): boolean {
    if (this.#backoff === undefined) return false
    this.#host.clock.clearTimeout(this.#backoff)
    this.#backoff = undefined
    return true
  }

  /** Envoy's retry budget: may this request start a retry that loads the fleet again? */
  budgetAllows(): boolean {
    if (this.#inBudget) return true
    const counters = this.#host.counters
    if (!budgetAllows(counters.retrying, counters.active, this.#host.options.retry)) return false
    this.#inBudget = true
    counters.retrying++
    return true
  }

  markTried(u: Upstream): void {
    this.tried = this.tried === EMPTY ? new Set([u.id]) : (this.tried as Set<string>).add(u.id)
  }

  /** The request is over: it leaves the budget. */
  settle(): void {
    if (this.#inBudget) this.#host.counters.retrying--
  }

  #last(error: SwitchyardError, u: Upstream): void {
    this.lastError = error
    this.lastUpstream = u
  }
}
