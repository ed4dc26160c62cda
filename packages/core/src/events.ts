import type { SwitchyardError } from '@switchyard/strategies'
import type { ExchangeView } from './exchange-view.js'

/**
 * Why an upstream stopped taking traffic: `'max_fails'` (passive accounting), `'health_check'`
 * (active probes), `'outlier'` (outlier ejection), `'breaker_open'`, `'removed'` (`lb.remove()`),
 * `'configured'` (listed with `down: true`; a state, never an event).
 */
export type DownReason = 'max_fails' | 'health_check' | 'outlier' | 'breaker_open' | 'removed' | 'configured'

/**
 * Why an upstream takes traffic again: `'added'`, `'fail_timeout'` (passive), `'health_check'`,
 * `'outlier_expired'`, `'breaker_half_open'` (one trial request), `'breaker_closed'`.
 */
export type UpReason = 'added' | 'fail_timeout' | 'health_check' | 'outlier_expired' | 'breaker_half_open' | 'breaker_closed'

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
  /** Panic mode began (`active: true`) or ended: see the `panicThreshold` option. */
  'balancer:panic': { active: boolean; up: number; total: number }
}

export type Emit = <E extends keyof BalancerEvents>(event: E, payload: BalancerEvents[E]) => void
export type HasListeners = (event: keyof BalancerEvents) => boolean

/**
 * The balancer-wide counters and the request events. Request events are built only when someone
 * listens; the counters always move (the per-upstream ones live on each upstream).
 */
export class Counters {
  requests = 0
  errors = 0
  retries = 0
  /** Exchanges started and not yet settled (in flight, queued, or between attempts). */
  active = 0
  /** Of those, the ones retrying after reaching an upstream: what the retry budget bounds. */
  retrying = 0
  /** Called when `active` falls to 0 (set by a closing balancer). */
  onIdle: (() => void) | undefined = undefined
  readonly #emit: Emit
  readonly #hasListeners: HasListeners

  constructor(emit: Emit, hasListeners: HasListeners) {
    this.#emit = emit
    this.#hasListeners = hasListeners
  }

  started(): void {
    this.active++
    this.requests++
  }

  ended(): void {
    this.active--
    if (this.active === 0 && this.onIdle !== undefined) this.onIdle()
  }

  /** An attempt is sent again after `error` on `upstream`. */
  retried(ex: ExchangeView, upstream: string, error: SwitchyardError): void {
    this.retries++
    if (!this.#hasListeners('request:retry')) return
    this.#emit('request:retry', { method: ex.method, path: ex.path, upstream, attempt: ex.attempt, error })
  }

  /** The balancer answered with `error`, or cut a relayed response. */
  failed(ex: ExchangeView, error: SwitchyardError): void {
    this.errors++
    if (!this.#hasListeners('request:error')) return
    this.#emit('request:error', { method: ex.method, path: ex.path, error, tried: ex.triedIds() })
  }
}
