import { type RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import type { BalancerCore } from './balancer-core.js'
import { attemptStartChannel, requestEndChannel, requestStartChannel, withHeader } from './channels.js'
import { blameOf, errorCode, isStaleConnection, type Side } from './blame.js'
import type { AttemptTrace, DownReason, PassedOver, PassReason, RequestTrace } from './events.js'
import type { ExchangeView } from './exchange-view.js'
import {
  asInternal,
  BadRequestError,
  CallbackError,
  callbackFailed,
  ClientAbortedError,
  ClosedError,
  NoUpstreamError,
  QueueFullError,
  QueueTimeoutError,
  InterceptorError,
  ResponseTooLargeError,
  UpstreamError,
  UpstreamTimeoutError,
} from './errors.js'
import { responseHead, trailerPairs } from './headers.js'
import { type RaceHost, Racer } from './hedge.js'
import { headerMap, ResponseBuffer } from './intercept.js'
import { isResetting } from './internal/socket-watch.js'
import { backoffDelay, retryAfterMs } from './retry-policy.js'
import { rewriteSelfReferences } from './transforms.js'
import { UpstreamHandler } from './undici-handler.js'
import type { Upstream } from './upstream.js'

const EMPTY: ReadonlySet<string> = new Set()
/** A header name (RFC 9110 5.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const noop = (): void => {}

/**
 * Free retries after a keep-alive race (see `isStaleConnection`), on top of `retry.attempts`, as
 * nginx gives a failed cached connection another try. Each such failure uses up one reused
 * connection, so the count is bounded by the pool's idle connections; 8 more caps a pathological
 * upstream (one that resets every second request on a connection) at 9 tries for one request.
 */
const STALE_RETRIES = 8

/** How an ended attempt is judged by the health mechanisms, the EWMA and the strategy. */
const OK = 0
const FAILED = 1
/** The attempt says nothing about the upstream (the client's or the balancer's doing). */
const UNJUDGED = 2
type Verdict = typeof OK | typeof FAILED | typeof UNJUDGED

/**
 * The map a traced pick fills with why upstreams were refused, shared: a pick and the reading of
 * its reasons (`#passedOver`) run in one synchronous stretch, so one map serves every request
 * instead of a new one per traced request.
 */
const REFUSED = new Map<string, PassReason>()
function refusedScratch(): Map<string, PassReason> {
  REFUSED.clear()
  return REFUSED
}

/**
 * One client request, across all its attempts: pick an upstream, wait for admission, dispatch on
 * the upstream's pool, record the outcome, and retry on another upstream when that is safe.
 *
 * An exchange is itself the undici dispatch handler ({@link UpstreamHandler}: undici 7's legacy
 * callbacks, which its clients call natively), so an attempt allocates nothing beyond the
 * dispatch options. Subclasses relay the response to their client.
 */
export abstract class Exchange extends UpstreamHandler implements ExchangeView, RaceHost {
  key: string | undefined = undefined
  /** The request's cost (the `cost` option), counted in each upstream's `load` while in flight. */
  cost = 1
  attempt = 0
  tried: ReadonlySet<string> = EMPTY
  readonly method: string
  path: string
  protected readonly core: BalancerCore
  protected upstream: Upstream | undefined = undefined
  /** The client went away, aborted or stalled: the reason. */
  protected cancelled: Error | undefined = undefined
  protected responseStarted = false
  /** Set by a subclass before `start()` to answer with this error instead of proxying. */
  protected refusal: SwitchyardError | undefined = undefined
  #abort: ((reason: Error) => void) | null = null
  /** An attempt is counted in its upstream's `inFlight` and not yet ended. */
  #inAttempt = false
  #attemptStart = 0
  #status = 0
  #rawHeaders: Buffer[] | null = null
  #release: (() => void) | undefined = undefined
  #wait: AbortController | undefined = undefined
  #done = false
  /** A 204 or 304 was relayed whole at its head; what undici reports after it is only accounting. */
  #finishedEarly = false
  #staleRetries = 0
  #lastError: SwitchyardError | undefined = undefined
  #lastUpstream: Upstream | undefined = undefined
  /** A retryable status came back: its body is read and dropped, then the next attempt goes. */
  #discarding = false
  #retryDelay = 0
  /** Counted in `counters.retrying` (the budget) since its first retry after reaching an upstream. */
  #inBudget = false
  /** The `timeouts.total` deadline, or a retry's back-off. */
  #deadline: unknown = undefined
  #backoffTimer: unknown = undefined
  /** The decision trace, built only when wanted (`request:end` listeners, `trace`). */
  #trace: RequestTrace | undefined = undefined
  #startedAt = 0
  /** A hedged request's attempt the exchange follows, and the other one while both are out. */
  #racer: Racer | undefined = undefined
  #rival: Racer | undefined = undefined
  #hedgeTimer: unknown = undefined
  /** The current attempt is the hedged one (for the trace). */
  #hedgedAttempt = false
  /** For a traced request: the upstreams passed over for the current attempt. */
  #passed: PassedOver[] | undefined = undefined
  /** This request's identity in diagnostics-channel messages, while they have subscribers. */
  #channelKey: object | undefined = undefined
  /** The response `onResponse` reads whole before it is relayed. */
  #buffer: ResponseBuffer | undefined = undefined
  /** Why buffering stopped (too large, `when` threw): the attempt is aborted and this is answered. */
  #bufferError: SwitchyardError | undefined = undefined
  /** The `onResponse` handler is running: the upstream attempt is over, the client not answered. */
  #intercepting = false

  constructor(core: BalancerCore, method: string, path: string) {
    super()
    this.core = core
    this.method = method
    this.path = path
  }

  /** The path for upstream `u`: the request's (rewritten), under the upstream URL's own path. */
  protected upstreamPath(u: Upstream): string {
    const base = u.basePath
    return base === '' ? this.path : base + this.path
  }

  /** The options for `pool.dispatch()` of one attempt, to upstream `u`. */
  protected abstract dispatchOptions(u: Upstream): Dispatcher.DispatchOptions
  /** Whether the request body can be sent again (none, or not yet read). */
  protected abstract isBodyReplayable(): boolean
  /** Whether the request body can go to two upstreams at once (none, or held in memory): for `hedge`. */
  protected isBodyShareable(): boolean {
    return false
  }
  /** Whether the request body is still being sent (so a write error means the upstream stopped reading). */
  protected abstract isUploading(): boolean
  /** Whether `err` came from the client's side (its body stream failed, it went away). */
  protected abstract isClientError(err: Error): boolean
  /** Answers the client with an error (nothing was relayed yet). */
  protected abstract respondError(error: SwitchyardError): void
  /** Tears the client response down after its head was sent, or after the client cancelled. */
  protected abstract abortResponse(error: Error): void
  /** Relays the response head; return false to pause. Throws when the head cannot be relayed. */
  protected abstract relayHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean
  /** Relays a body chunk; return false to pause. */
  protected abstract relayData(chunk: Buffer): boolean
  /** Relays an informational (1xx) response; by default, nothing is. */
  protected relayInformational(_statusCode: number, _rawHeaders: Buffer[]): void {}
  /** Ends the relayed response. */
  protected abstract relayComplete(trailers: Buffer[] | string[] | null): void

  /** The request as a hash strategy's key function sees it. */
  protected abstract requestInfo(): RequestInfo

  /** Called once when the exchange is over, however it ended. */
  protected settled(): void {}

  /** Starts the first attempt. Never throws: what throws on the way ends this request alone (500). */
  start(): void {
    try {
      this.#start()
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  #start(): void {
    this.core.counters.started()
    if (this.core.counters.tracing || requestEndChannel.hasSubscribers) {
      this.#trace = { method: this.method, path: this.path, status: 0, attempts: [], ms: 0, bytes: 0 }
      this.#startedAt = this.core.clock.now()
    }
    const total = this.core.options.timeouts.total
    if (total !== undefined && this.refusal === undefined) {
      this.#deadline = this.core.clock.setTimeout(() => {
        this.cancel(new UpstreamTimeoutError(`no answer within timeouts.total (${total} ms)`))
      }, total)
    }
    if (this.refusal !== undefined) {
      this.#fail(this.refusal)
      return
    }
    const options = this.core.options
    if (options.rewritePath !== undefined) this.path = options.rewritePath.apply(this.path)
    const affinity = this.core.strategy.affinity
    if (affinity !== undefined || options.cost !== undefined) {
      const info = this.requestInfo()
      if (affinity !== undefined) {
        try {
          this.key = affinity.key(info)
        } catch (err) {
          throw callbackFailed(err, `the ${this.core.strategy.name} strategy's key`)
        }
      }
      if (options.cost !== undefined) this.cost = costOf(options.cost, info)
    }
    if (requestStartChannel.hasSubscribers || attemptStartChannel.hasSubscribers || requestEndChannel.hasSubscribers) this.#publishStart()
    this.#next()
  }

  /** `switchyard:request:start`, and the key the request's later messages carry. */
  #publishStart(): void {
    const key = {}
    this.#channelKey = key
    if (!requestStartChannel.hasSubscribers) return
    let headers: RequestInfo['headers'] | undefined
    requestStartChannel.publish({
      request: key,
      method: this.method,
      path: this.path,
      header: (name: string) => {
        headers ??= this.requestInfo().headers
        const v = headers[name.toLowerCase()]
        return Array.isArray(v) ? v[0] : v
      },
    })
  }

  /** The dispatch options of an attempt to `u`, after `switchyard:attempt:start` subscribers set their headers. */
  #attemptOptions(u: Upstream, hedge: boolean): Dispatcher.DispatchOptions {
    const options = this.dispatchOptions(u)
    const key = this.#channelKey
    if (key === undefined || !attemptStartChannel.hasSubscribers) return options
    const box: { options: Dispatcher.DispatchOptions; error?: CallbackError } = { options }
    attemptStartChannel.publish({
      request: key,
      upstream: u.id,
      attempt: this.attempt,
      hedge,
      // Never throws: Node rethrows what a subscriber throws as an uncaught exception. A header
      // that cannot be sent fails this request (500) once the subscribers are done.
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

  /**
   * The upstream's response head as a client gets it, as a flat array: hop-by-hop and hidden
   * headers out, `responseHeaders` applied, self-references (`Location`, cookies) rewritten, and
   * the strategy's `Set-Cookie` added.
   */
  protected clientResponseHead(rawHeaders: Buffer[]): string[] {
    const options = this.core.options
    let headers = responseHead(rawHeaders, options.hideHeaders)
    if (options.responseHeaders !== undefined) headers = options.responseHeaders(headers)
    const u = this.upstream!
    if (options.rewriteLocation || options.cookieDomain !== undefined || options.cookiePath !== undefined) {
      rewriteSelfReferences(headers, u.origin, u.basePath, options)
    }
    const cookie = this.strategyCookie()
    if (cookie !== undefined) headers.push('set-cookie', cookie)
    return headers
  }

  /** A `Set-Cookie` value the strategy wants on this response (sticky sessions), if any. */
  protected strategyCookie(): string | undefined {
    const affinity = this.core.strategy.affinity
    return affinity?.setCookie === undefined ? undefined : affinity.setCookie(this.upstream!, this.key)
  }

  /** The client is gone or stalled: abort the upstream request or the queue wait. */
  cancel(reason: Error = new ClientAbortedError('the client closed the connection')): void {
    if (this.#done || this.cancelled) return
    this.cancelled = reason
    this.#endRace(reason)
    if (this.#abort !== null) this.#abort(reason)
    else if (this.#wait !== undefined) this.#wait.abort(reason)
    else if (this.#intercepting) this.#endCancelled()
    else if (this.#backoffTimer !== undefined) {
      this.core.clock.clearTimeout(this.#backoffTimer)
      this.#backoffTimer = undefined
      this.#endCancelled()
    }
  }

  /** The next attempt: pick, then admit or queue. What throws on the way ends this request alone. */
  #next(): void {
    try {
      this.#pickNext()
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  #pickNext(): void {
    const refused = this.#trace === undefined ? undefined : refusedScratch()
    let u: Upstream | undefined
    try {
      u = this.core.selector.select(this, refused)
    } catch (err) {
      throw callbackFailed(err, `the ${this.core.strategy.name} strategy's pick`)
    }
    if (refused !== undefined) this.#passed = this.#passedOver(refused, u)
    if (u === undefined) {
      if (this.#passed !== undefined) this.#trace!.passed = this.#passed
      // After a failed attempt, the client hears about that failure, not about the empty retry.
      this.#fail(this.#lastError ?? new NoUpstreamError('no upstream is available'))
      return
    }
    this.attempt++
    this.upstream = u
    if (u.queue === undefined) this.#send(u)
    else this.#enqueue(u)
  }

  #enqueue(u: Upstream): void {
    const queue = u.queue!
    const run = (): Promise<void> =>
      new Promise<void>((resolve) => {
        this.#wait = undefined
        this.#release = resolve
        if (this.cancelled) {
          resolve()
          this.#release = undefined
          this.#endCancelled()
          return
        }
        try {
          this.#send(u)
        } catch (err) {
          this.handlerThrew(err)
        }
      })
    if (queue.pending < queue.concurrency) {
      void queue.add(run)
      return
    }
    const { size, timeout } = this.core.options.queue
    if (queue.size >= size) {
      this.#fail(new QueueFullError(`the queue of upstream ${u.id} is full (${size} waiting)`))
      return
    }
    const wait = new AbortController()
    this.#wait = wait
    const clock = this.core.clock
    const timer = clock.setTimeout(() => {
      wait.abort(new QueueTimeoutError(`waited ${timeout} ms in the queue of upstream ${u.id}`))
    }, timeout)
    queue.add(run, { signal: wait.signal }).then(
      () => clock.clearTimeout(timer),
      (reason: unknown) => {
        clock.clearTimeout(timer)
        this.#wait = undefined
        if (this.cancelled) this.#endCancelled()
        else this.#fail(reason instanceof SwitchyardError ? reason : new QueueTimeoutError('queue wait aborted', { cause: reason }))
      },
    )
  }

  #send(u: Upstream): void {
    this.#status = 0
    this.#rawHeaders = null
    this.#inAttempt = true
    u.inFlight++
    u.load += this.cost
    if (this.attempt > 1) this.core.counters.retried(this, this.#lastUpstream!.id, this.#lastError!)
    this.core.health.noteStart(u)
    this.core.strategy.onStart?.(u)
    const start = this.core.clock.now()
    this.#attemptStart = start
    const hedge = this.core.options.hedge
    if (hedge !== undefined && this.attempt === 1 && this.isBodyShareable() && this.core.options.retry.methods.has(this.method)) {
      // Hedged: the attempt runs as a racer, so a second one can race it from `hedge` ms on.
      const racer = new Racer(this, u, start, false)
      this.#racer = racer
      this.#hedgeTimer = this.core.clock.setTimeout(this.#launchHedge, hedge)
      u.pool.dispatch(this.#attemptOptions(u, false), racer)
    } else u.pool.dispatch(this.#attemptOptions(u, false), this)
  }

  /**
   * For the trace: every upstream but `picked` that could not have been picked, with the reason:
   * not eligible (down, or a backup while a primary was), or turned away by the rules (as the
   * selector's `accept` refused it, or as its state says when the strategy skipped it itself).
   */
  #passedOver(refused: ReadonlyMap<string, PassReason>, picked: Upstream | undefined): PassedOver[] | undefined {
    const { primaries, panic } = this.core.availability
    const onPrimaries = picked !== undefined && !picked.backup
    let out: PassedOver[] | undefined
    for (const u of this.core.registry.all) {
      if (u === picked) continue
      let reason: PassReason | undefined
      if (u.state !== 'up' && !(panic && primaries.includes(u))) {
        ;(out ??= []).push({ upstream: u.id, reason: 'down', why: u.reason as DownReason })
        continue
      }
      if (u.backup && onPrimaries) reason = 'backup'
      else reason = refused.get(u.id) ?? this.#ruleRefusing(u)
      if (reason !== undefined) (out ??= []).push({ upstream: u.id, reason })
    }
    return out
  }

  /** The rule that keeps `u` from this attempt now, if any (tried, breaker, full). */
  #ruleRefusing(u: Upstream): PassReason | undefined {
    if (this.tried.has(u.id)) return 'tried'
    if (u.breaker !== undefined && !u.breaker.isAdmitting) return 'breaker_open'
    if (u.isFull) return 'full'
    return undefined
  }

  /** Ends the current attempt: counters, health (when judged), strategy hook, queue slot. */
  #endAttempt(verdict: Verdict, errorCode: string | undefined, lost = false): void {
    this.#abort = null
    this.#inAttempt = false
    this.#closeAttempt(this.upstream!, this.#attemptStart, this.#status, verdict, errorCode, this.#hedgedAttempt, lost, this.#passed)
    this.#hedgedAttempt = false
    this.#passed = undefined
    if (this.#release !== undefined) {
      this.#release()
      this.#release = undefined
    }
  }

  /** The accounting of an ended attempt to `u`: in flight, trace, health, EWMA, the strategy's `onEnd`. */
  #closeAttempt(
    u: Upstream,
    start: number,
    status: number,
    verdict: Verdict,
    errorCode: string | undefined,
    hedged: boolean,
    lost: boolean,
    passed: PassedOver[] | undefined,
  ): void {
    const latency = this.core.clock.now() - start
    u.inFlight--
    u.load -= this.cost
    const judged = verdict !== UNJUDGED && this.cancelled === undefined
    if (this.#trace !== undefined) {
      const attempt: AttemptTrace = { upstream: u.id, judged, ms: latency }
      if (status !== 0) attempt.status = status
      if (errorCode !== undefined) attempt.error = errorCode
      if (hedged) attempt.hedge = true
      if (lost) attempt.lost = true
      if (passed !== undefined) attempt.passed = passed
      this.#trace.attempts.push(attempt)
    }
    if (judged) {
      u.record(latency, status, verdict === FAILED)
      this.core.health.record(u, verdict === FAILED, status)
    } else this.core.health.noteUnjudged(u)
    const onEnd = this.core.strategy.onEnd
    if (onEnd !== undefined) {
      onEnd.call(this.core.strategy, u, {
        ok: verdict === OK,
        status: status === 0 ? undefined : status,
        latencyMs: latency,
        errorCode,
        judged,
      })
    }
    if (u.onIdle !== undefined && u.inFlight === 0 && (u.queue === undefined || u.queue.size === 0)) u.onIdle()
  }

  // Hedging (`hedge`): a second attempt races the first after a delay; the first head wins.

  get racing(): boolean {
    return this.#hedgeTimer !== undefined || this.#rival !== undefined
  }

  isCurrent(racer: Racer): boolean {
    return racer === this.#racer
  }

  /** The hedge delay passed with no head yet: a second attempt goes to another upstream that can take it now. */
  readonly #launchHedge = (): void => {
    try {
      this.#hedgeNow()
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  #hedgeNow(): void {
    this.#hedgeTimer = undefined
    const current = this.#racer
    if (this.#done || this.cancelled !== undefined || this.#status !== 0 || current === undefined) return
    if (this.attempt - this.#staleRetries >= this.core.options.retry.attempts) return
    const first = current.upstream
    const tried = this.tried
    this.tried = new Set(tried).add(first.id)
    const refused = this.#trace === undefined ? undefined : refusedScratch()
    const u = this.core.selector.select(this, refused, true)
    if (u === undefined || !this.#budgetAllows()) {
      this.tried = tried
      return
    }
    this.attempt++
    this.core.counters.hedges++
    u.inFlight++
    u.load += this.cost
    this.core.health.noteStart(u)
    this.core.strategy.onStart?.(u)
    const rival = new Racer(this, u, this.core.clock.now(), true)
    if (refused !== undefined) rival.passed = this.#passedOver(refused, u)
    this.#rival = rival
    u.pool.dispatch(this.#attemptOptions(u, true), rival)
  }

  decide(racer: Racer, statusCode: number): boolean {
    this.#stopHedgeTimer()
    const rival = this.#rival
    if (rival === undefined) return true // the hedge never went: this is the only attempt
    if (this.core.options.retry.on.has(statusCode)) {
      // A retryable answer while the other attempt is still out: that one may do better.
      this.#dropRacer(racer, racer.upstream.passive.isFailureStatus(statusCode) ? FAILED : OK, statusCode, undefined, false)
      return false
    }
    this.#dropRacer(racer === this.#racer ? rival : this.#racer!, UNJUDGED, 0, undefined, true)
    return true
  }

  racerFailed(racer: Racer, err: Error): void {
    this.#stopHedgeTimer()
    if (this.#rival === undefined) {
      this.attemptFailed(err) // the hedge never went: the ordinary path (retries)
      return
    }
    const code = errorCode(err)
    const side = blameOf(code).side
    if (side === 'app') {
      this.handlerThrew(err) // ends the request, and both attempts with it
      return
    }
    this.#dropRacer(racer, side === 'upstream' || side === 'unsent' ? FAILED : UNJUDGED, 0, code, false)
  }

  /** Ends one racer's attempt while the other goes on; the exchange follows the one left. */
  #dropRacer(racer: Racer, verdict: Verdict, status: number, code: string | undefined, lost: boolean): void {
    const u = racer.upstream
    if (racer === this.#racer) {
      const next = this.#rival!
      this.#status = status
      this.#endAttempt(verdict, code, lost)
      this.#inAttempt = true // the rival's attempt, in flight, is the exchange's now
      this.#racer = next
      this.upstream = next.upstream
      this.#attemptStart = next.startedAt
      this.#abort = next.abort
      this.#status = 0
      this.#hedgedAttempt = next.hedged
      this.#passed = next.passed
    } else this.#closeAttempt(u, racer.startedAt, status, verdict, code, racer.hedged, lost, racer.passed)
    this.#rival = undefined
    this.tried = this.tried === EMPTY ? new Set([u.id]) : (this.tried as Set<string>).add(u.id)
    racer.drop(new UpstreamError(lost ? 'the other hedged attempt answered first' : `attempt to upstream ${u.id} dropped`))
  }

  #stopHedgeTimer(): void {
    if (this.#hedgeTimer === undefined) return
    this.core.clock.clearTimeout(this.#hedgeTimer)
    this.#hedgeTimer = undefined
  }

  /** The request is over or cancelled: no hedge goes, and one that is out is dropped. */
  #endRace(reason: Error): void {
    this.#stopHedgeTimer()
    const rival = this.#rival
    if (rival === undefined) return
    this.#rival = undefined
    this.#closeAttempt(rival.upstream, rival.startedAt, 0, UNJUDGED, errorCode(reason), true, false, rival.passed)
    rival.drop(reason)
  }

  /**
   * Something threw where nothing should: an option's function (`SWY_ERR_CALLBACK`) or the
   * balancer's own code (`SWY_ERR_INTERNAL`). This request alone ends: its attempt is accounted
   * (never against the upstream) and aborted, and the client gets a 500, or a cut response when
   * its answer had started. Never throws.
   */
  handlerThrew(err: unknown): void {
    if (this.#done) return
    const error = asInternal(err, 'the request failed in the balancer')
    const abort = this.#abort
    try {
      if (this.#inAttempt) this.#endAttempt(UNJUDGED, error.code)
      this.#endRace(error)
      if (this.responseStarted) {
        if (this.#trace !== undefined) this.#trace.error = error.code
        this.core.counters.failed(this, error)
        this.abortResponse(error)
        this.#settle()
      } else this.#fail(error)
    } catch {
      // A second throw while ending: the request is over whatever state it was in; the client's
      // connection is cut rather than left hanging.
      if (!this.#done) {
        this.#done = true
        this.core.counters.ended()
      }
      try {
        this.abortResponse(error)
      } catch {
        // nothing more can be done for this client
      }
    }
    abort?.(error) // last: undici reports the abort through onError, which finds the request over
  }

  #fail(error: SwitchyardError): void {
    if (this.#trace !== undefined) {
      this.#trace.error = error.code
      if (!this.responseStarted) this.#trace.status = error.statusCode ?? 502
    }
    this.core.counters.failed(this, error)
    this.respondError(error)
    this.#settle()
  }

  /** The client cancelled (went away or stalled): tell it, if it can still hear, and end. */
  #endCancelled(): void {
    const reason = this.cancelled!
    if (!this.responseStarted && reason instanceof SwitchyardError && reason.statusCode !== undefined) {
      this.#fail(reason)
      return
    }
    this.abortResponse(reason)
    this.#settle()
  }

  #settle(): void {
    if (this.#done) return
    this.#done = true
    if (this.#deadline !== undefined) this.core.clock.clearTimeout(this.#deadline)
    if (this.#racer !== undefined) this.#endRace(new UpstreamError('the request is over'))
    if (this.#inBudget) this.core.counters.retrying--
    this.settled()
    this.core.counters.ended()
    const trace = this.#trace
    if (trace !== undefined) {
      trace.path = this.path
      trace.ms = this.core.clock.now() - this.#startedAt
      this.core.counters.traced(trace)
      if (this.#channelKey !== undefined && requestEndChannel.hasSubscribers) requestEndChannel.publish({ request: this.#channelKey, trace })
    }
  }

  /** Whether the answer's `grpc-status` (a trailer, or a header of a trailers-only answer) is one `failOnGrpcStatus` lists. */
  #grpcFailed(trailers: Buffer[] | string[] | null): boolean {
    const status = grpcStatus(trailerPairs(trailers)) ?? grpcStatus(trailerPairs(this.#rawHeaders))
    return status !== undefined && this.upstream!.passive.isFailureGrpcStatus(status)
  }

  /** Envoy's retry budget: may this request start a retry that loads the fleet again? */
  #budgetAllows(): boolean {
    if (this.#inBudget) return true
    const { budget, minConcurrency } = this.core.options.retry
    const { retrying, active } = this.core.counters
    if (retrying >= minConcurrency && retrying >= budget * active) return false
    this.#inBudget = true
    this.core.counters.retrying++
    return true
  }

  /**
   * Whether a response with this status is retried instead of relayed (`retry.on`): a retryable
   * request with attempts, an untried eligible upstream and budget left, and a `Retry-After` (if
   * any) short enough. Sets the delay before the next attempt.
   */
  #retriesStatus(statusCode: number, rawHeaders: Buffer[]): boolean {
    const retry = this.core.options.retry
    if (retry.on.size === 0 || !retry.on.has(statusCode) || this.cancelled !== undefined) return false
    if (this.attempt - this.#staleRetries >= retry.attempts || !this.#mayReplay(true)) return false
    const { primaries, backups } = this.core.availability
    const eligible = primaries.length !== 0 ? primaries : backups
    if (eligible.length <= this.tried.size + 1) return false // nobody else to ask: relay this answer
    let delay = backoffDelay(this.attempt, retry.backoff, this.core.options.random)
    if (statusCode === 429 || statusCode === 503) {
      const after = retryAfterMs(rawHeaders, Date.now())
      if (after !== undefined) {
        if (after > retry.maxRetryAfter) return false
        delay = Math.max(delay, after)
      }
    }
    if (!this.#budgetAllows()) return false
    this.#retryDelay = delay
    return true
  }

  /** The discarded answer ended: the attempt is over; the next goes after the back-off. */
  #retryAfterStatus(): void {
    const u = this.upstream!
    this.#discarding = false
    this.#endAttempt(u.passive.isFailureStatus(this.#status) ? FAILED : OK, undefined)
    this.tried = this.tried === EMPTY ? new Set([u.id]) : (this.tried as Set<string>).add(u.id)
    this.#lastError = new UpstreamError(`upstream ${u.id} answered ${this.#status}`)
    this.#lastUpstream = u
    if (this.cancelled !== undefined) {
      this.#endCancelled()
      return
    }
    const go = () => {
      this.#backoffTimer = undefined
      this.#next()
    }
    if (this.#retryDelay <= 0) go()
    else this.#backoffTimer = this.core.clock.setTimeout(go, this.#retryDelay)
  }

  // The upstream's side, as UpstreamHandler (undici-handler.ts) relays undici's callbacks.

  attemptStarted(abort: (reason: Error) => void): void {
    if (this.cancelled) abort(this.cancelled)
    else this.#abort = abort
  }

  responseHead(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) {
      // 1xx: Node answers a client's Expect: 100-continue itself; 103 Early Hints and 102 go on.
      if (!this.responseStarted && !this.#finishedEarly) this.relayInformational(statusCode, rawHeaders)
      return true
    }
    if (this.#finishedEarly) return true
    this.#status = statusCode
    if (this.#retriesStatus(statusCode, rawHeaders)) {
      this.#discarding = true
      return true
    }
    this.#rawHeaders = rawHeaders
    if (this.core.options.onResponse !== undefined && this.#startBuffer(statusCode, rawHeaders)) return true
    const more = this.relayHeaders(statusCode, rawHeaders, resume, statusText) // throws on an invalid head
    this.responseStarted = true
    if (this.#trace !== undefined) {
      this.#trace.status = statusCode
      this.#trace.firstByteMs = this.core.clock.now() - this.#startedAt
    }
    if (statusCode === 204 || statusCode === 304) {
      // These never have a body (RFC 9110 6.4.1). undici rejects a 304 that carries
      // Content-Length with UND_ERR_RES_CONTENT_LENGTH_MISMATCH and may trip over bytes after a
      // 204; nginx relays both as status and headers. So the response ends here, and whatever
      // undici reports next only closes the attempt.
      this.#finishedEarly = true
      this.relayComplete(null)
    }
    return more
  }

  responseData(chunk: Buffer): boolean {
    if (this.#finishedEarly || this.#discarding) return true
    const buffer = this.#buffer
    if (buffer === undefined) {
      if (this.#trace !== undefined) this.#trace.bytes += chunk.length
      return this.relayData(chunk)
    }
    if (!buffer.add(chunk)) {
      this.#stopBuffer(new ResponseTooLargeError(`the response of upstream ${this.upstream!.id} is larger than onResponse.maxBytes (${buffer.limit})`))
    }
    return true
  }

  responseEnd(trailers: Buffer[] | string[] | null): void {
    if (this.#discarding) {
      this.#retryAfterStatus()
      return
    }
    if (this.#finishedEarly) {
      this.#endAttempt(OK, undefined)
      this.#settle()
      return
    }
    if (isResetting() && isCloseDelimited(this.#rawHeaders, this.method)) {
      // undici takes a reset after a close-delimited body for its end (a macOS workaround); a
      // reset is a cut, so the client must see an aborted response, not a complete one.
      this.attemptFailed(new UpstreamError(`upstream ${this.upstream!.id} reset the connection mid-body`))
      return
    }
    const passive = this.upstream!.passive
    const failed = passive.isFailureStatus(this.#status) || (passive.judgesGrpc && this.#grpcFailed(trailers))
    this.#endAttempt(failed ? FAILED : OK, undefined)
    const buffer = this.#buffer
    if (buffer !== undefined) {
      this.#buffer = undefined
      void this.#relayBuffered(buffer, trailers)
      return
    }
    this.relayComplete(trailers)
    this.#settle()
  }

  // The buffered response interceptor (`onResponse`).

  /** Whether this response is one `onResponse` reads whole; if so, buffering starts. */
  #startBuffer(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode === 204 || statusCode === 304 || this.method === 'HEAD') return false
    const { when, maxBytes } = this.core.options.onResponse!
    const u = this.upstream!
    const head = { status: statusCode, headers: headerMap(rawHeaders), upstream: u.id, method: this.method, path: this.upstreamPath(u) }
    try {
      if (when !== undefined && !when(head)) return false
    } catch (cause) {
      this.#stopBuffer(new InterceptorError(`onResponse.when threw: ${(cause as Error)?.message ?? cause}`, { cause }))
      return true
    }
    this.#buffer = new ResponseBuffer(head, maxBytes)
    return true
  }

  /** Buffering cannot go on: the upstream request is aborted, and `error` answered (see `attemptFailed`). */
  #stopBuffer(error: SwitchyardError): void {
    this.#bufferError = error
    this.#buffer = undefined
    this.#abort?.(error)
  }

  /** The whole body is in: the interceptor runs, and what it returns is relayed. */
  async #relayBuffered(buffer: ResponseBuffer, trailers: Buffer[] | string[] | null): Promise<void> {
    this.#intercepting = true
    let out: Awaited<ReturnType<ResponseBuffer['run']>>
    try {
      out = await buffer.run(this.core.options.onResponse!.handle)
    } catch (cause) {
      this.#intercepting = false
      if (this.#done) return
      if (this.cancelled !== undefined) this.#endCancelled()
      else this.#fail(new InterceptorError(`onResponse.handle failed: ${(cause as Error)?.message ?? cause}`, { cause }))
      return
    }
    this.#intercepting = false
    if (this.#done) return // the client left, or the deadline passed, while it ran
    try {
      this.relayHeaders(out.status, out.raw, noop, '')
    } catch (cause) {
      this.#fail(new InterceptorError(`onResponse.handle returned a head that cannot be relayed: ${(cause as Error).message}`, { cause }))
      return
    }
    this.responseStarted = true
    if (this.#trace !== undefined) {
      this.#trace.status = out.status
      this.#trace.firstByteMs = this.core.clock.now() - this.#startedAt
      this.#trace.bytes = out.body.length
    }
    if (out.body.length !== 0) this.relayData(out.body)
    this.relayComplete(trailers)
    this.#settle()
  }

  /**
   * The upstream switched protocols and a tunnel opens: the handshake is judged now (health,
   * latency), but the attempt keeps its upstream slot (`inFlight`, its queue's place under
   * `maxConnections`) until the returned function is called, when the tunnel closes.
   */
  protected tunnelOpened(statusCode: number): () => void {
    const u = this.upstream!
    this.responseStarted = true
    this.#status = statusCode
    this.#abort = null
    u.record(this.core.clock.now() - this.#attemptStart, statusCode, false)
    this.core.health.record(u, false, statusCode)
    return () => {
      if (this.#done) return
      this.#endAttempt(UNJUDGED, undefined) // already judged at the handshake
      this.#settle()
    }
  }

  /** Ends the exchange after an HTTP upgrade: the socket now belongs to the caller. */
  protected completeUpgrade(statusCode: number): void {
    this.responseStarted = true
    this.#status = statusCode
    this.#endAttempt(OK, undefined)
    this.#settle()
  }

  attemptFailed(err: Error): void {
    if (this.#done) return
    const u = this.upstream!
    this.#buffer = undefined
    const stopped = this.#bufferError
    if (stopped !== undefined) {
      // Buffering stopped (too large, `when` threw): the upstream answered; the error is the balancer's.
      this.#bufferError = undefined
      this.#endAttempt(UNJUDGED, stopped.code)
      if (this.cancelled !== undefined) this.#endCancelled()
      else this.#fail(stopped)
      return
    }
    if (this.#finishedEarly) {
      this.#endAttempt(OK, undefined)
      this.#settle()
      return
    }
    this.#discarding = false // a discarded answer broke off: judged as the error it is
    if (this.cancelled) {
      this.#endAttempt(UNJUDGED, errorCode(err))
      this.#endCancelled()
      return
    }
    const code = errorCode(err)
    const blame = blameOf(code)
    let side: Side = blame.side
    if (side !== 'request' && this.isClientError(err)) side = 'request'
    // A write that failed while the body was still going out: the upstream stopped reading it,
    // most often because it already answered (413 + Connection: close). Its answer is lost with
    // the connection; the upstream did nothing wrong.
    const earlyClose = side === 'upstream' && !this.responseStarted && (code === 'EPIPE' || code === 'ECONNRESET') && this.isUploading()
    const stale =
      side === 'upstream' &&
      !earlyClose &&
      !this.responseStarted &&
      this.#staleRetries < STALE_RETRIES &&
      isStaleConnection(err, code) &&
      this.#mayReplay(true)
    const counts = (side === 'upstream' || side === 'unsent') && !stale && !earlyClose
    this.#endAttempt(counts ? FAILED : UNJUDGED, code)

    const error = this.#errorFor(side, blame.timeout, err, code, u)
    if (this.responseStarted) {
      if (this.#trace !== undefined) this.#trace.error = error.code
      this.core.counters.failed(this, error)
      this.abortResponse(error)
      this.#settle()
      return
    }
    if (side === 'request' || side === 'app' || earlyClose || (side === 'local' && this.core.isClosed)) {
      this.#fail(error)
      return
    }
    if (stale) {
      // Sent again as if it had never gone out: the same upstream may take it, on a new connection.
      this.#staleRetries++
      this.#lastError = error
      this.#lastUpstream = u
      this.#next()
      return
    }
    const attempts = this.attempt - this.#staleRetries
    const reached = side !== 'unsent' && side !== 'local'
    // The budget guards a sick fleet against retry storms. A retry away from an upstream that is
    // out of rotation now (its failures marked it down, or opened its breaker) adds no load to a
    // sick one: it moves the request off a dead one. So the requests stuck on a hung upstream
    // that time out together all go elsewhere, as with nginx's `proxy_next_upstream timeout`.
    const leaving = u.state !== 'up' || (u.breaker !== undefined && !u.breaker.isAdmitting)
    if (attempts < this.core.options.retry.attempts && this.#mayReplay(reached) && (!reached || leaving || this.#budgetAllows())) {
      this.tried = this.tried === EMPTY ? new Set([u.id]) : (this.tried as Set<string>).add(u.id)
      this.#lastError = error
      this.#lastUpstream = u
      this.#next()
      return
    }
    this.#fail(error)
  }

  #errorFor(side: Side, timeout: boolean, err: Error, code: string, u: Upstream): SwitchyardError {
    if (side === 'request') {
      return err instanceof SwitchyardError && err.statusCode !== undefined
        ? err
        : new BadRequestError(`the request cannot be sent: ${err.message} (${code})`, { cause: err })
    }
    if (side === 'local' && this.core.isClosed) {
      return new ClosedError('the balancer closed before the upstream answered', { cause: err })
    }
    if (side === 'app') return asInternal(err, 'the request failed in the balancer')
    if (err instanceof UpstreamError) return err
    return timeout
      ? new UpstreamTimeoutError(`upstream ${u.id} timed out (${code})`, { cause: err })
      : new UpstreamError(`upstream ${u.id} failed: ${err.message} (${code})`, { cause: err })
  }

  /** Whether the request may be sent again: its body can be replayed, and `reached` requests only for retry methods. */
  #mayReplay(reached: boolean): boolean {
    if (!this.isBodyReplayable()) return false
    return !reached || this.core.options.retry.methods.has(this.method)
  }

  /** Ids tried so far, for events. */
  triedIds(): string[] {
    const ids = [...this.tried]
    if (this.upstream !== undefined && !this.tried.has(this.upstream.id)) ids.push(this.upstream.id)
    return ids
  }
}

/** The `grpc-status` among header pairs, if any. */
function grpcStatus(pairs: readonly [string, string][]): number | undefined {
  for (const [name, value] of pairs) if (name.length === 11 && name.toLowerCase() === 'grpc-status') return Number(value)
  return undefined
}

/** Whether a response's body ends when the connection closes: no length, not chunked (RFC 9112 6.3). */
function isCloseDelimited(raw: Buffer[] | null, method: string): boolean {
  if (raw === null || method === 'HEAD') return false
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') return false
    if (name.length === 17 && name.toString('latin1').toLowerCase() === 'transfer-encoding') return false
  }
  return true
}

/** A request's cost from the `cost` option: a finite number ≥ 0, or 1 when the function throws or returns anything else. */
function costOf(cost: (req: RequestInfo) => number, info: RequestInfo): number {
  try {
    const c = cost(info)
    return typeof c === 'number' && c >= 0 && Number.isFinite(c) ? c : 1
  } catch {
    return 1
  }
}
