import type { Duplex } from 'node:stream'
import type { AttemptTrace, PassedOver } from '../config/events.js'
import type { Fleet } from '../fleet/fleet.js'
import type { CacheStatus } from '../fleet/cache.js'
import type { Upstream } from '../fleet/upstream.js'
import type { Tracer } from './trace.js'
import { UpstreamHandler } from './undici-handler.js'

/** How an ended attempt is judged by the health mechanisms, the EWMA and the strategy. */
export const OK = 0
export const FAILED = 1
/** The attempt says nothing about the upstream (the client's or the balancer's doing). */
export const UNJUDGED = 2
export type Verdict = typeof OK | typeof FAILED | typeof UNJUDGED

/** What an attempt reports to its exchange: undici's news of it, with the attempt itself. */
export interface AttemptHost {
  attemptStarted(a: Attempt, abort: (reason: Error) => void): void
  head(a: Attempt, statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean
  data(a: Attempt, chunk: Buffer): boolean
  end(a: Attempt, trailers: Buffer[] | string[] | null): void
  failed(a: Attempt, err: Error): void
  upgraded(a: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void
  handlerThrew(err: unknown): void
  /** What a hook threw, sorted: the client's own error stays as it is, anything else is the balancer's. */
  thrown(err: unknown, what: string): Error
}

/**
 * One try of a request on one upstream: the undici dispatch handler of that try, and its
 * accounting. An attempt counts in its upstream's `inFlight` (and `load`) from `begin()` to
 * `end()`, the one place each happens, so retries and a hedge's two racing tries are the same
 * thing more than once. After `drop()`, whatever undici still reports of it is ignored.
 */
export class Attempt extends UpstreamHandler {
  readonly upstream: Upstream
  /** The second try of a hedged request (see `hedge`). */
  readonly hedged: boolean
  readonly startedAt: number
  /** The request's cost (the `cost` option), counted in the upstream's `load` while in flight. */
  readonly cost: number
  /** The final status of the answer, once its head came (0 before). */
  status = 0
  rawHeaders: Buffer[] | null = null
  /** Cancels the try, once undici has started it, until the try ends. */
  abort: ((reason: Error) => void) | null = null
  /** undici's abort handle, kept after the end for `drop()`. */
  #abortHandle: ((reason: Error) => void) | null = null
  /** A `retry.on` answer whose body is read and dropped before the next try. */
  discarding = false
  /** A 204 or 304 was relayed whole at its head; what undici reports after it is only accounting. */
  finishedEarly = false
  /** For a traced request: the upstreams passed over when this one was picked. */
  passed: PassedOver[] | undefined = undefined
  /** With `cache`: how the cache answered (a hit never reached the upstream: it says nothing of it). */
  cacheStatus: CacheStatus | undefined = undefined
  /** Frees the upstream's queue slot (an upstream with `maxConnections`). */
  release: (() => void) | undefined = undefined
  /** Dropped: aborted and accounted already. */
  #out = false
  #dropReason: Error | undefined = undefined
  #ended = false
  readonly #host: AttemptHost

  constructor(host: AttemptHost, upstream: Upstream, startedAt: number, cost: number, hedged: boolean) {
    super()
    this.#host = host
    this.upstream = upstream
    this.startedAt = startedAt
    this.cost = cost
    this.hedged = hedged
  }

  get isOut(): boolean {
    return this.#out
  }

  /** The try goes out: it counts in its upstream's in-flight requests and load from now. */
  begin(fleet: Fleet): void {
    const u = this.upstream
    u.inFlight++
    u.load += this.cost
    fleet.health.noteStart(u)
    fleet.strategy.onStart?.(u)
  }

  /**
   * The try is over: uncounted, its trace written, and, when `judged`, its outcome recorded
   * (health, EWMA) — then the strategy's `onEnd`, the queue slot, and a drained upstream's wake-up.
   * Once only.
   */
  end(fleet: Fleet, verdict: Verdict, judged: boolean, errorCode: string | undefined, tracer: Tracer | undefined, lost = false): void {
    if (this.#ended) return
    this.#ended = true
    this.abort = null
    const cache = this.cacheStatus
    if (cache !== undefined) {
      fleet.cacheCounts[cache]++
      if (cache === 'hit') judged = false
    }
    const u = this.upstream
    const latency = fleet.clock.now() - this.startedAt
    const status = this.status
    u.inFlight--
    u.load -= this.cost
    if (tracer?.trace !== undefined) {
      // Shaped in one literal where it can be: a field added after it costs a map transition.
      const t: AttemptTrace = status !== 0 ? { upstream: u.id, judged, ms: latency, status } : { upstream: u.id, judged, ms: latency }
      if (errorCode !== undefined) t.error = errorCode
      if (this.hedged) t.hedge = true
      if (lost) t.lost = true
      if (this.passed !== undefined) t.passed = this.passed
      if (cache !== undefined) t.cache = cache
      tracer.attempted(t)
    }
    if (judged) {
      u.record(latency, status, verdict === FAILED)
      fleet.health.record(u, verdict === FAILED, status)
    } else fleet.health.noteUnjudged(u)
    const onEnd = fleet.strategy.onEnd
    if (onEnd !== undefined) {
      onEnd.call(fleet.strategy, u, { ok: verdict === OK, status: status === 0 ? undefined : status, latencyMs: latency, errorCode, judged })
    }
    if (this.release !== undefined) {
      this.release()
      this.release = undefined
    }
    if (u.onIdle !== undefined && u.inFlight === 0 && (u.queue === undefined || u.queue.size === 0)) u.onIdle()
  }

  /** The handshake of a tunnel was judged; the slot is kept until `end()` (unjudged then). */
  judgeNow(fleet: Fleet, status: number): void {
    this.status = status
    this.abort = null
    const u = this.upstream
    u.record(fleet.clock.now() - this.startedAt, status, false)
    fleet.health.record(u, false, status)
  }

  /** Drops this try (its exchange accounted it): aborts it now, or as soon as undici starts it. */
  drop(reason: Error): void {
    this.#out = true
    this.abort = null
    const abort = this.#abortHandle
    if (abort !== null) abort(reason)
    else this.#dropReason = reason
  }

  // undici's news of this try, passed to the exchange with the try it is about.

  attemptStarted(abort: (reason: Error) => void): void {
    if (this.#dropReason !== undefined) {
      abort(this.#dropReason)
      return
    }
    this.abort = abort
    this.#abortHandle = abort
    this.#host.attemptStarted(this, abort)
  }

  responseHead(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    return this.#out || this.#host.head(this, statusCode, rawHeaders, resume, statusText)
  }

  responseData(chunk: Buffer): boolean {
    return this.#out || this.#host.data(this, chunk)
  }

  responseEnd(trailers: Buffer[] | string[] | null): void {
    if (!this.#out) this.#host.end(this, trailers)
  }

  attemptFailed(err: Error): void {
    if (!this.#out) this.#host.failed(this, err)
  }

  protected override upgraded(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    if (this.#out) socket.destroy()
    else this.#host.upgraded(this, statusCode, rawHeaders, socket)
  }

  handlerThrew(err: unknown): void {
    if (!this.#out) this.#host.handlerThrew(err)
  }

  protected override thrown(err: unknown, what: string): Error {
    return this.#host.thrown(err, what)
  }
}
