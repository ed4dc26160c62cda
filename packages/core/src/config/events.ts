import type { SwitchyardError } from '@switchyard/strategies'

/**
 * Why an upstream stopped taking traffic: `'max_fails'` (passive accounting), `'health_check'`
 * (active probes), `'outlier'` (outlier ejection), `'breaker_open'`, `'removed'` (`lb.remove()`),
 * `'configured'` (listed with `down: true`, or marked down by `lb.update(id, { down: true })`).
 */
export type DownReason = 'max_fails' | 'health_check' | 'outlier' | 'breaker_open' | 'removed' | 'configured'

/**
 * Why an upstream takes traffic again: `'added'`, `'fail_timeout'` (passive), `'health_check'`,
 * `'outlier_expired'`, `'breaker_half_open'` (one trial request), `'breaker_closed'`,
 * `'configured'` (`lb.update(id, { down: false })`).
 */
export type UpReason = 'added' | 'fail_timeout' | 'health_check' | 'outlier_expired' | 'breaker_half_open' | 'breaker_closed' | 'configured'

/** Payloads of the balancer's events. */
export interface BalancerEvents {
  /** An upstream stopped taking traffic. */
  'upstream:down': { id: string; reason: DownReason }
  /** An upstream takes traffic again. */
  'upstream:up': { id: string; reason: UpReason }
  /** A failed attempt is retried on another upstream. */
  'request:retry': { method: string; path: string; upstream: string; attempt: number; error: SwitchyardError }
  /** The balancer answered a request with an error (or cut a relayed response). */
  'request:error': { method: string; path: string; error: SwitchyardError; tried: string[] }
  /**
   * A request is over (answered, failed or cut): its decision trace. Built only when someone
   * listens, or when `trace` keeps the last ones for `lb.trace()`.
   */
  'request:end': RequestTrace
  /** Panic mode began (`active: true`) or ended: see the `panicThreshold` option. */
  'balancer:panic': { active: boolean; up: number; total: number }
}

/**
 * Why an upstream was not picked for an attempt: `'down'` (out of rotation; `why` says for what),
 * `'backup'` (a backup, and a primary was eligible), `'tried'` (already tried for this request),
 * `'breaker_open'` (its breaker refuses, or is testing with its one trial request), `'full'`
 * (at `maxConnections`), `'ramping'` (slow start held it back this time).
 */
export type PassReason = 'down' | 'backup' | 'tried' | 'breaker_open' | 'full' | 'ramping'

/** An upstream passed over for an attempt, in an {@link AttemptTrace}. */
export interface PassedOver {
  upstream: string
  reason: PassReason
  /** For `'down'`: why it is down. */
  why?: DownReason
}

/** One attempt of a request, in a {@link RequestTrace}. */
export interface AttemptTrace {
  /** The upstream's id. */
  upstream: string
  /** The upstream's status, when it answered. */
  status?: number
  /** The error code, when the attempt failed (`ECONNREFUSED`, `UND_ERR_HEADERS_TIMEOUT`…). */
  error?: string
  /** Whether the attempt counted for or against the upstream (false: the client's or balancer's doing). */
  judged: boolean
  /** Time from sending to the end of the attempt, ms (balancer clock). */
  ms: number
  /** The hedged attempt, sent after `hedge.delay` while the first was still out. */
  hedge?: true
  /** Abandoned because the other hedged attempt answered first. */
  lost?: true
  /**
   * The upstreams the balancer's rules turned away for this attempt, and why (absent when none
   * was). Upstreams not listed were eligible: the strategy preferred this one.
   */
  passed?: PassedOver[]
  /** With `cache`: `'hit'` (answered from the store; the upstream was not asked), `'miss'`, or `'revalidated'` (asked with the stored validator). */
  cache?: 'hit' | 'miss' | 'revalidated'
}

/** The `request:end` payload: what happened to one request, attempt by attempt. */
export interface RequestTrace {
  method: string
  path: string
  /** The status the client got (the balancer's own on an error; 0 when the response was cut or the client left). */
  status: number
  /** The balancer's error code, when it answered with an error or cut the response. */
  error?: string
  attempts: AttemptTrace[]
  /** When no upstream could be picked (`SWY_ERR_NO_UPSTREAM`): why each was passed over. */
  passed?: PassedOver[]
  /** Time from the start to the end of the request, ms (balancer clock). */
  ms: number
  /** Time from the start until the response head was relayed, ms; absent when none was. */
  firstByteMs?: number
  /** Response body bytes relayed to the client. */
  bytes: number
}

export type Emit = <E extends keyof BalancerEvents>(event: E, payload: BalancerEvents[E]) => void
export type HasListeners = (event: keyof BalancerEvents) => boolean
