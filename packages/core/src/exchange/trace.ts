import type { RequestInfo } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import { CallbackError } from '../config/errors.js'
import type { AttemptTrace, DownReason, PassedOver, PassReason, RequestTrace } from '../config/events.js'
import type { Fleet } from '../fleet/fleet.js'
import type { Upstream } from '../fleet/upstream.js'
import { attemptStartChannel, requestEndChannel, requestStartChannel, withHeader } from './channels.js'
import type { Counters } from './counters.js'

/** A header name (RFC 9110 5.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * The map a traced pick fills with why upstreams were refused, shared: a pick and the reading of
 * its reasons run in one synchronous stretch, so one map serves every request instead of a new
 * one per traced request.
 */
const REFUSED = new Map<string, PassReason>()

/**
 * What one request tells those who watch: its decision trace (for `request:end` listeners and
 * `lb.trace()`), and its messages on the `switchyard:*` diagnostics channels. An exchange makes a
 * tracer only when someone watches (see {@link Tracer.watching}); otherwise a request pays one
 * check per channel and nothing else.
 */
export class Tracer {
  /** The decision trace, when traces are wanted. */
  readonly trace: RequestTrace | undefined
  /** This request's identity in the channels' messages, while they have subscribers. */
  readonly #key: object | undefined
  readonly #startedAt: number
  readonly #fleet: Fleet

  /** Whether anyone watches requests now: traces kept or listened to, or a channel subscribed. */
  static watching(counters: Counters): boolean {
    return counters.tracing || requestStartChannel.hasSubscribers || attemptStartChannel.hasSubscribers || requestEndChannel.hasSubscribers
  }

  constructor(fleet: Fleet, counters: Counters, method: string, path: string) {
    this.#fleet = fleet
    this.#startedAt = fleet.clock.now()
    this.trace = counters.tracing || requestEndChannel.hasSubscribers ? { method, path, status: 0, attempts: [], ms: 0, bytes: 0 } : undefined
    const channels = requestStartChannel.hasSubscribers || attemptStartChannel.hasSubscribers || requestEndChannel.hasSubscribers
    this.#key = channels ? {} : undefined
  }

  /**
   * An attempt's trace, added in order. The first makes an array of one: a push onto the empty
   * one would give it room for 16 (V8's first growth), 128 bytes a request for a slot or two.
   */
  attempted(t: AttemptTrace): void {
    const trace = this.trace!
    if (trace.attempts.length === 0) trace.attempts = [t]
    else trace.attempts.push(t)
  }

  /** `switchyard:request:start`. */
  publishStart(method: string, path: string, info: () => RequestInfo): void {
    if (this.#key === undefined || !requestStartChannel.hasSubscribers) return
    let headers: RequestInfo['headers'] | undefined
    requestStartChannel.publish({
      request: this.#key,
      method,
      path,
      header: (name: string) => {
        headers ??= info().headers
        const v = headers[name.toLowerCase()]
        return Array.isArray(v) ? v[0] : v
      },
    })
  }

  /**
   * The dispatch options of an attempt after `switchyard:attempt:start` subscribers set their
   * headers. A subscriber's invalid header fails the request (`SWY_ERR_CALLBACK`) once all have
   * run: `setHeader` never throws, since Node rethrows what a subscriber throws as uncaught.
   */
  attemptOptions(options: Dispatcher.DispatchOptions, u: Upstream, attempt: number, hedge: boolean): Dispatcher.DispatchOptions {
    if (this.#key === undefined || !attemptStartChannel.hasSubscribers) return options
    const box: { options: Dispatcher.DispatchOptions; error?: CallbackError } = { options }
    attemptStartChannel.publish({
      request: this.#key,
      upstream: u.id,
      attempt,
      hedge,
      setHeader: (name: string, value: string) => {
        if (typeof name !== 'string' || !TOKEN.test(name) || typeof value !== 'string' || /[\r\n\0]/.test(value)) {
          box.error ??= new CallbackError(`a switchyard:attempt:start subscriber set an invalid header ${JSON.stringify(String(name)).slice(0, 100)}`)
          return
        }
        box.options = withHeader(box.options, name, value)
      },
    })
    if (box.error !== undefined) throw box.error
    return box.options
  }

  /** The shared map a pick fills with its refusals, when this request is traced. */
  refusals(): Map<string, PassReason> | undefined {
    if (this.trace === undefined) return undefined
    if (REFUSED.size !== 0) REFUSED.clear() // clear() makes a new table even when empty
    return REFUSED
  }

  /**
   * For the trace: every upstream but `picked` that could not have been picked, with the reason:
   * not eligible (down, or a backup while a primary was), or turned away by the rules (as the
   * selector refused it, or as its state says when the strategy skipped it itself).
   */
  passedOver(refused: ReadonlyMap<string, PassReason>, picked: Upstream | undefined, tried: ReadonlySet<string>): PassedOver[] | undefined {
    const { primaries, panic, allOpen } = this.#fleet.availability
    // The common case, in O(1): every upstream could have been picked (none down, backup, tried,
    // full or behind a breaker) and the strategy refused none, so none was passed over.
    if (allOpen && refused.size === 0 && tried.size === 0 && this.#fleet.options.breaker === undefined) return undefined
    const onPrimaries = picked !== undefined && !picked.backup
    let out: PassedOver[] | undefined
    for (const u of this.#fleet.registry.all) {
      if (u === picked) continue
      if (u.state !== 'up' && !(panic && primaries.includes(u))) {
        ;(out ??= []).push({ upstream: u.id, reason: 'down', why: u.reason as DownReason })
        continue
      }
      const reason: PassReason | undefined = u.backup && onPrimaries ? 'backup' : (refused.get(u.id) ?? ruleRefusing(u, tried))
      if (reason !== undefined) (out ??= []).push({ upstream: u.id, reason })
    }
    return out
  }

  /** The request is over: the trace is finished and handed on; `switchyard:request:end`. */
  end(counters: Counters, path: string): void {
    const trace = this.trace
    if (trace === undefined) return
    trace.path = path
    trace.ms = this.#fleet.clock.now() - this.#startedAt
    counters.traced(trace)
    if (this.#key !== undefined && requestEndChannel.hasSubscribers) requestEndChannel.publish({ request: this.#key, trace })
  }

  /** Milliseconds since the request started (for the trace's `firstByteMs`). */
  elapsed(): number {
    return this.#fleet.clock.now() - this.#startedAt
  }
}

/** The rule that keeps `u` from this attempt now, if any (tried, breaker, full). */
function ruleRefusing(u: Upstream, tried: ReadonlySet<string>): PassReason | undefined {
  if (tried.has(u.id)) return 'tried'
  if (u.breaker !== undefined && !u.breaker.isAdmitting) return 'breaker_open'
  if (u.isFull) return 'full'
  return undefined
}
