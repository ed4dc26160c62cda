import type { SwitchyardError } from '@switchyard/strategies'
import type { Emit, HasListeners, RequestTrace } from '../config/events.js'
import type { ExchangeView } from '../fleet/exchange-view.js'

/**
 * The balancer-wide counters and the request events. Request events are built only when someone
 * listens; the counters always move (the per-upstream ones live on each upstream).
 */
export class Counters {
  requests = 0
  errors = 0
  retries = 0
  /** Hedged attempts sent (`hedge`). */
  hedges = 0
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

  /** Whether request traces are wanted: a `request:end` listener, or `trace` keeping some. */
  get tracing(): boolean {
    return this.traceSize !== 0 || this.#hasListeners('request:end')
  }

  /** How many traces `lb.trace()` keeps (the `trace` option). */
  traceSize = 0
  readonly #traces: RequestTrace[] = []

  /** A request is over: keeps its trace and tells `request:end` listeners. */
  traced(trace: RequestTrace): void {
    if (this.traceSize !== 0) {
      this.#traces.push(trace)
      if (this.#traces.length > this.traceSize) this.#traces.shift()
    }
    if (this.#hasListeners('request:end')) this.#emit('request:end', trace)
  }

  /** The last traces kept, oldest first. */
  traces(): RequestTrace[] {
    return [...this.#traces]
  }

  /** The balancer answered with `error`, or cut a relayed response. */
  failed(ex: ExchangeView, error: SwitchyardError): void {
    this.errors++
    if (!this.#hasListeners('request:error')) return
    this.#emit('request:error', { method: ex.method, path: ex.path, error, tried: ex.triedIds() })
  }
}
