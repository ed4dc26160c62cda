import type { Dispatcher } from 'undici'
import type { Counters } from './counters.js'
import type { PassReason } from '../config/events.js'
import type { ResolvedOptions } from '../config/resolved.js'
import { UpstreamError } from '../config/errors.js'
import type { Fleet } from '../fleet/fleet.js'
import type { Upstream } from '../fleet/upstream.js'
import { Attempt, type AttemptHost, FAILED, OK, UNJUDGED, type Verdict } from './attempt.js'
import { blameOf, errorCode } from './blame.js'
import type { Tracer } from './trace.js'

/** What a hedge needs of its exchange (which is also its attempts' host). */
export interface HedgeHost extends AttemptHost {
  readonly host: { readonly fleet: Fleet; readonly options: ResolvedOptions; readonly counters: Counters; readonly clock: Fleet['clock'] }
  current: Attempt | undefined
  attempt: number
  tried: ReadonlySet<string>
  readonly cost: number
  readonly isFinal: boolean
  readonly tracer: Tracer | undefined
  select(refused: Map<string, PassReason> | undefined, readyOnly: boolean): Upstream | undefined
  attemptOptions(u: Upstream, hedge: boolean): Dispatcher.DispatchOptions
  endRacer(a: Attempt, verdict: Verdict, code: string | undefined, lost: boolean): void
  hedgeAllowed(): boolean
}

/**
 * `hedge: { delay }` for one request: when the first attempt has no response head after `delay`,
 * a second attempt goes to another upstream that can take it at once; the first final head wins,
 * and the other attempt is aborted and not held against its upstream. Both are plain attempts;
 * the hedge only decides which one the exchange follows.
 */
export class Hedge {
  readonly #ex: HedgeHost
  readonly #delay: number
  #timer: unknown = undefined
  #rival: Attempt | undefined = undefined

  constructor(ex: HedgeHost, delay: number) {
    this.#ex = ex
    this.#delay = delay
  }

  /** The race is undecided: a hedge is pending or out. */
  get racing(): boolean {
    return this.#timer !== undefined || this.#rival !== undefined
  }

  isRival(a: Attempt): boolean {
    return a === this.#rival
  }

  /** The first attempt went out: the hedge goes after the delay unless a head comes first. */
  arm(): void {
    this.#timer = this.#ex.host.clock.setTimeout(this.#launch, this.#delay)
  }

  readonly #launch = (): void => {
    try {
      this.#go()
    } catch (err) {
      this.#ex.handlerThrew(err)
    }
  }

  #go(): void {
    this.#timer = undefined
    const ex = this.#ex
    const first = ex.current
    if (ex.isFinal || first === undefined) return
    const tried = ex.tried
    ex.tried = new Set(tried).add(first.upstream.id)
    const tracer = ex.tracer
    const refused = tracer?.refusals()
    const u = ex.select(refused, true)
    if (u === undefined || !ex.hedgeAllowed()) {
      ex.tried = tried
      return
    }
    const { fleet, counters, clock } = ex.host
    ex.attempt++
    counters.hedges++
    const rival = new Attempt(ex, u, clock.now(), ex.cost, true)
    if (refused !== undefined) rival.passed = tracer!.passedOver(refused, u, ex.tried)
    rival.begin(fleet)
    this.#rival = rival
    u.dispatch(ex.attemptOptions(u, true), rival)
  }

  /** A final head during the race: whether it is relayed (its attempt won) or dropped (it lost, and the other goes on). */
  decide(a: Attempt, status: number): boolean {
    this.#stopTimer()
    const rival = this.#rival
    if (rival === undefined) return true // the hedge never went: this is the only attempt
    const ex = this.#ex
    if (ex.host.options.retry.on.has(status)) {
      // A retryable answer while the other attempt is still out: that one may do better.
      a.status = status
      this.#drop(a, a.upstream.passive.isFailureStatus(status) ? FAILED : OK, undefined, false)
      return false
    }
    const loser = a === ex.current ? rival : ex.current!
    loser.status = 0
    this.#drop(loser, UNJUDGED, undefined, true)
    return true
  }

  /** An attempt failed before any final head during the race. */
  failed(a: Attempt, err: Error): void {
    this.#stopTimer()
    const ex = this.#ex
    if (this.#rival === undefined) {
      ex.failed(a, err) // the hedge never went: the ordinary path (retries)
      return
    }
    const code = errorCode(err)
    const side = blameOf(code).side
    if (side === 'app') {
      ex.handlerThrew(err) // ends the request, and both attempts with it
      return
    }
    this.#drop(a, side === 'upstream' || side === 'unsent' ? FAILED : UNJUDGED, code, false)
  }

  /** Ends one attempt of the race while the other goes on; the exchange follows the one left. */
  #drop(a: Attempt, verdict: Verdict, code: string | undefined, lost: boolean): void {
    const ex = this.#ex
    const rival = this.#rival!
    this.#rival = undefined
    ex.endRacer(a, verdict, code, lost)
    if (a === ex.current) ex.current = rival
    a.drop(new UpstreamError(lost ? 'the other hedged attempt answered first' : `attempt to upstream ${a.upstream.id} dropped`))
  }

  /** The request is over or cancelled: no hedge goes, and one that is out is dropped. */
  end(reason: Error): void {
    this.#stopTimer()
    const rival = this.#rival
    if (rival === undefined) return
    this.#rival = undefined
    rival.end(this.#ex.host.fleet, UNJUDGED, false, errorCode(reason), this.#ex.tracer)
    rival.drop(reason)
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return
    this.#ex.host.clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
