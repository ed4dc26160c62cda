import type { ResolvedRetry } from '../config/resolved.js'
import type { Side } from './blame.js'

/*
 * Every retry rule, as pure decisions over a small state (undici's retry-handler keeps its policy
 * the same way): no sockets, no timers, tested by case tables (packages/core/test/retry-rules.test.ts). The
 * exchange gathers the facts and carries the verdict out.
 */

/**
 * Free retries after a keep-alive race (see `isStaleConnection` in blame.ts), on top of
 * `retry.attempts`, as nginx gives a failed cached connection another try. Each such failure uses
 * up one reused connection, so the count is bounded by the pool's idle connections; 8 more caps a
 * pathological upstream (one that resets every second request on a connection) at 9 tries.
 */
export const STALE_RETRIES = 8

/** What a failed attempt was, as the exchange saw it. */
export interface FailureFacts {
  /** Whose failure it was (blame.ts), after the client side's own check. */
  readonly side: Side
  /** The error's code (`ECONNRESET`, `UND_ERR_HEADERS_TIMEOUT`, …). */
  readonly code: string
  /** The response head had gone to the client. */
  readonly responseStarted: boolean
  /** The request body was still going out. */
  readonly uploading: boolean
  /** The failure looks like a keep-alive race: a reused connection closed before any answer. */
  readonly staleConnection: boolean
  /** Keep-alive races retried so far for this request. */
  readonly staleRetries: number
  /** Attempts made, not counting keep-alive races. */
  readonly attempts: number
  /** Whether the request may be sent again if it reached the upstream (body replayable, method idempotent) … */
  readonly replayableIfReached: boolean
  /** … and if it never did (body replayable). */
  readonly replayableIfUnsent: boolean
  /** The balancer is closing. */
  readonly closed: boolean
}

/** What follows a failed attempt. */
export interface FailureVerdict {
  /** `fail`: answer the error; `stale`: send again as if it never went (same upstream allowed); `retry`: next upstream. */
  readonly next: 'fail' | 'stale' | 'retry'
  /** The failure counts against the upstream (health, EWMA, the strategy's `onEnd`). */
  readonly counts: boolean
  /**
   * A `retry` of a request that reached its upstream: it must fit the retry budget first, unless
   * that upstream has just left rotation (the exchange checks, once the failure is recorded).
   */
  readonly needsBudget: boolean
}

const FAIL_UNCOUNTED: FailureVerdict = Object.freeze({ next: 'fail', counts: false, needsBudget: false })

/**
 * After a failed attempt. In order:
 * - once the answer started, or the failure is the client's, the app's, or the closing
 *   balancer's, the request fails (a counted failure only when the upstream did it);
 * - a write error while the body was still going out is the upstream no longer reading (it
 *   answered early, 413 with `Connection: close`): not held against it, and final;
 * - a keep-alive race is sent again, free, when the body can be replayed;
 * - otherwise another upstream is tried while attempts are left and the request may be replayed:
 *   any request that never reached the upstream; only replayable idempotent ones that did (and
 *   those within the retry budget, `needsBudget`).
 */
export function afterFailure(f: FailureFacts, retry: ResolvedRetry): FailureVerdict {
  const upstreamSide = f.side === 'upstream'
  const earlyClose = upstreamSide && !f.responseStarted && f.uploading && (f.code === 'EPIPE' || f.code === 'ECONNRESET')
  const stale = upstreamSide && !earlyClose && !f.responseStarted && f.staleConnection && f.staleRetries < STALE_RETRIES && f.replayableIfReached
  const counts = (upstreamSide || f.side === 'unsent') && !stale && !earlyClose
  if (f.responseStarted || earlyClose || f.side === 'request' || f.side === 'app' || (f.side === 'local' && f.closed)) {
    return counts ? { next: 'fail', counts, needsBudget: false } : FAIL_UNCOUNTED
  }
  if (stale) return { next: 'stale', counts: false, needsBudget: false }
  const reached = f.side !== 'unsent' && f.side !== 'local'
  const replayable = reached ? f.replayableIfReached : f.replayableIfUnsent
  if (f.attempts >= retry.attempts || !replayable) return { next: 'fail', counts, needsBudget: false }
  return { next: 'retry', counts, needsBudget: reached }
}

/** What the exchange knows when a response head arrives. */
export interface StatusFacts {
  readonly status: number
  /** Attempts made, not counting keep-alive races. */
  readonly attempts: number
  /** Attempts made in all: the back-off's exponent. */
  readonly attempt: number
  /** The request may go again: replayable body, idempotent method. */
  readonly replayable: boolean
  /** Eligible upstreams not yet tried, besides the one that answered. */
  readonly untried: number
  /** `Retry-After` of a 429 or 503, ms from now, if it had a readable one. */
  readonly retryAfter: number | undefined
  /** The client left or stalled. */
  readonly cancelled: boolean
}

/**
 * Whether an answer is retried instead of relayed (`retry.on`), and after how long: a listed
 * status, a request with attempts left that may go again, someone else to ask, and a
 * `Retry-After` (if any) no longer than `maxRetryAfter`. The wait is the back-off, or the
 * `Retry-After` when longer. `undefined`: relay it. (The budget is checked by the caller last.)
 */
export function afterStatus(s: StatusFacts, retry: ResolvedRetry, random: () => number): number | undefined {
  if (retry.on.size === 0 || !retry.on.has(s.status) || s.cancelled) return undefined
  if (s.attempts >= retry.attempts || !s.replayable || s.untried <= 0) return undefined
  let delay = backoffDelay(s.attempt, retry.backoff, random)
  if (s.retryAfter !== undefined && (s.status === 429 || s.status === 503)) {
    if (s.retryAfter > retry.maxRetryAfter) return undefined
    delay = Math.max(delay, s.retryAfter)
  }
  return delay
}

/**
 * Envoy's retry budget: may one more request start retrying (`retrying` already do, of `active`
 * in progress)? At least `minConcurrency` may, and at most `budget` of those in progress.
 */
export function budgetAllows(retrying: number, active: number, retry: ResolvedRetry): boolean {
  return retrying < retry.minConcurrency || retrying < retry.budget * active
}

/** May a request with this method and body be sent again: any body that can be replayed; `reached`, only for `retry.methods`. */
export function mayReplay(bodyReplayable: boolean, method: string, reached: boolean, retry: ResolvedRetry): boolean {
  return bodyReplayable && (!reached || retry.methods.has(method))
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): uniform in [0, min(max, base × 2^(n-1))). */
export function backoffDelay(retry: number, backoff: ResolvedRetry['backoff'], random: () => number): number {
  const cap = Math.min(backoff.max, backoff.base * 2 ** Math.max(0, retry - 1))
  return random() * cap
}

/** A `Retry-After` header among raw response headers, in ms from `now` (epoch ms); undefined when absent or unreadable. */
export function retryAfterMs(raw: readonly Buffer[], now: number): number | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== 11 || name.toString('latin1').toLowerCase() !== 'retry-after') continue
    const value = raw[i + 1]!.toString('latin1').trim()
    if (/^\d+$/.test(value)) return Number(value) * 1000
    const date = Date.parse(value)
    return Number.isNaN(date) ? undefined : Math.max(0, date - now)
  }
  return undefined
}
