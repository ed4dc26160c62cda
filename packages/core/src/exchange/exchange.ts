import type { Duplex } from 'node:stream'
import { type RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import {
  asInternal,
  ClientAbortedError,
  NoUpstreamError,
  UpstreamError,
  UpstreamTimeoutError,
  callbackFailed,
} from '../config/errors.js'
import type { PassedOver, PassReason } from '../config/events.js'
import type { ExchangeView } from '../fleet/exchange-view.js'
import type { Upstream } from '../fleet/upstream.js'
import { Attempt, UNJUDGED, type Verdict } from './attempt.js'
import { type Admittee, admit } from './admission.js'
import type { ClientSide } from './client.js'
import type { ExchangeHost } from './context.js'
import type { ExchangeSteps } from './steps.js'
import { Hedge, type HedgeHost } from './hedge.js'
import { Interception } from './intercept.js'
import { MirrorCopy } from './mirror.js'
import { PEER } from '../fleet/proxy-protocol.js'
import { affinityCookie, clientResponseHead } from './response-head.js'
import { attemptFailed, endAfterThrow } from './failure.js'
import { relayData, relayEnd, relayHead, relayUpgrade } from './relay.js'
import { Retries } from './retries.js'
import { Tracer } from './trace.js'

const _EMPTY: ReadonlySet<string> = new Set()
const _noop = (): void => {}

/**
 * One client request, across all its attempts. The steps, as the code below marks them:
 *
 *   1. start   count the request; answer the entry's refusal; the `timeouts.total` deadline;
 *              `rewritePath`, the affinity key and the cost
 *   2. pick    the selector picks the upstream for the next attempt, or nobody can serve (503)
 *   3. admit   an upstream at `maxConnections` makes the attempt wait in its bounded queue
 *   4. send    the attempt (attempt.ts) goes out on the upstream's pool; a hedge may race it
 *   5. relay   the answer's head, body and trailers go to the client side (client.ts), or are
 *              read whole first for `onResponse` (intercept.ts); a `retry.on` status is dropped
 *   6. settle  the attempt is judged and uncounted; after a failure retry.ts decides: back to
 *              step 2, or the error is answered (blame.ts says whose it was)
 *
 * What throws on the way ends this request alone (`handlerThrew`). The entries (entry/) make an
 * exchange with their client side; nothing subclasses it.
 */
export class Exchange implements ExchangeView, HedgeHost, Admittee, ExchangeSteps {
  readonly method: string
  path: string
  key: string | undefined = undefined
  /** The request's cost (the `cost` option), counted in each upstream's `load` while in flight. */
  cost = 1
  /** The client went away, aborted or stalled: the reason. */
  cancelled: Error | undefined = undefined
  responseStarted = false
  readonly host: ExchangeHost
  readonly client: ClientSide
  /** The attempt the exchange follows (the one whose answer is relayed). */
  current: Attempt | undefined = undefined
  #done = false
  /** Attempts, tries, the budget: retries.ts. */
  readonly retries: Retries
  #deadline: unknown = undefined
  /** The wait for an upstream's slot (admission.ts), while the request waits. */
  #wait: AbortController | undefined = undefined
  /** For a traced request waiting for a slot: the upstreams passed over when its upstream was picked. */
  #passed: PassedOver[] | undefined = undefined
  readonly tracer: Tracer | undefined
  readonly interception: Interception | undefined
  readonly hedge: Hedge | undefined
  /** This request's copy, when the `mirror` option chose it (mirror.ts). */
  mirror: MirrorCopy | undefined = undefined

  constructor(host: ExchangeHost, client: ClientSide) {
    this.host = host
    this.client = client
    this.method = client.method
    this.path = client.path
    this.retries = new Retries(host, this.method)
    const options = host.options
    this.tracer = Tracer.watching(host.counters) ? new Tracer(host.fleet, host.counters, this.method, this.path) : undefined
    this.interception = options.onResponse === undefined ? undefined : new Interception(options.onResponse)
    this.hedge = options.hedge === undefined ? undefined : new Hedge(this, options.hedge)
  }

  get upstream(): Upstream | undefined {
    return this.current?.upstream
  }

  /** Attempts begun so far: 0 while the first is being picked (read by the selector and the hedge). */
  get attempt(): number {
    return this.retries.attempt
  }

  set attempt(n: number) {
    this.retries.attempt = n
  }

  /** Upstreams already tried for this request. */
  get tried(): ReadonlySet<string> {
    return this.retries.tried
  }

  set tried(tried: ReadonlySet<string>) {
    this.retries.tried = tried
  }

  get isDone(): boolean {
    return this.#done
  }

  // 1. start

  /** Starts the exchange. Never throws: what throws on the way ends this request alone (500). */
  start(): void {
    try {
      this.#start()
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  #start(): void {
    const { counters, options, clock, fleet } = this.host
    counters.started()
    const refusal = this.client.refusal
    if (options.timeouts.total !== undefined && refusal === undefined) {
      const total = options.timeouts.total
      this.#deadline = clock.setTimeout(() => this.cancel(new UpstreamTimeoutError(`no answer within timeouts.total (${total} ms)`)), total)
    }
    if (refusal !== undefined) {
      this.fail(refusal)
      return
    }
    if (options.rewritePath !== undefined) this.path = options.rewritePath.apply(this.path)
    const affinity = fleet.strategy.affinity
    if (affinity !== undefined || options.cost !== undefined) {
      const info = this.client.requestInfo()
      if (affinity !== undefined) {
        try {
          this.key = affinity.key(info)
        } catch (err) {
          throw callbackFailed(err, `the ${fleet.strategy.name} strategy's key`)
        }
      }
      if (options.cost !== undefined) this.cost = costOf(options.cost, info)
    }
    const mirror = this.host.mirror
    if (mirror !== undefined && mirror.wants(() => this.client.requestInfo())) this.mirror = new MirrorCopy(mirror, this.method, this.path)
    this.tracer?.publishStart(this.method, this.path, () => this.client.requestInfo())
    this.next()
    this.client.started?.()
  }

  /** The client is gone or stalled: abort the upstream attempt, the queue wait or the back-off. */
  cancel(reason: Error = new ClientAbortedError('the client closed the connection')): void {
    if (this.#done || this.cancelled !== undefined) return
    this.cancelled = reason
    this.hedge?.end(reason)
    const abort = this.current?.abort ?? null
    if (abort !== null) abort(reason)
    else if (this.#wait !== undefined) this.#wait.abort(reason)
    else if (this.interception?.running || this.retries.cancelBackoff()) this.endCancelled()
  }

  // 2. pick

  /** The next attempt: pick, then admit or queue. What throws on the way ends this request alone. */
  next(): void {
    try {
      this.#pick()
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  #pick(): void {
    const tracer = this.tracer
    const refused = tracer?.refusals()
    const u = this.select(refused)
    const passed = refused === undefined ? undefined : tracer!.passedOver(refused, u, this.tried)
    if (u === undefined) {
      if (passed !== undefined) tracer!.trace!.passed = passed
      // After a failed attempt, the client hears about that failure, not about the empty retry.
      this.fail(this.retries.lastError ?? new NoUpstreamError('no upstream is available'))
      return
    }
    this.attempt++
    if (u.queue === undefined) this.#send(u, undefined, passed)
    else this.#admit(u, passed)
  }

  /** Asks the selector; a strategy's pick that throws is the application's error. */
  select(refused: Map<string, PassReason> | undefined, readyOnly = false): Upstream | undefined {
    try {
      return this.host.fleet.selector.select(this, refused, readyOnly)
    } catch (err) {
      throw callbackFailed(err, `the ${this.host.fleet.strategy.name} strategy's pick`)
    }
  }

  // 3. admit

  #admit(u: Upstream, passed: PassedOver[] | undefined): void {
    this.#passed = passed
    this.#wait = admit(this.host, u, this)
  }

  admitted(u: Upstream, release: () => void): void {
    this.#wait = undefined
    try {
      this.#send(u, release, this.#passed)
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  refused(error: SwitchyardError): void {
    this.#wait = undefined
    this.fail(error)
  }

  left(): void {
    this.#wait = undefined
    this.endCancelled()
  }

  // 4. send

  #send(u: Upstream, release: (() => void) | undefined, passed: PassedOver[] | undefined): void {
    const fleet = this.host.fleet
    const a = new Attempt(this, u, this.host.clock.now(), this.cost, false)
    a.release = release
    a.passed = passed
    this.current = a
    a.begin(fleet)
    if (this.attempt > 1) this.host.counters.retried(this, this.retries.lastUpstream!.id, this.retries.lastError!)
    if (this.attempt === 1 && this.hedge !== undefined && this.client.bodyShareable() && this.host.options.retry.methods.has(this.method)) {
      this.hedge.arm()
    }
    u.dispatch(this.attemptOptions(u, false), a)
  }

  /** The dispatch options of an attempt to `u`: the client side's, after channel subscribers set their headers. */
  attemptOptions(u: Upstream, hedge: boolean): Dispatcher.DispatchOptions {
    let options = this.client.dispatchOptions(u, u.basePath === '' ? this.path : u.basePath + this.path)
    if (this.mirror !== undefined) options = this.mirror.options(options)
    if (u.proxyProtocol !== undefined) options = { ...options, [PEER]: this.client.peer?.() } as Dispatcher.DispatchOptions
    return this.tracer === undefined ? options : this.tracer.attemptOptions(options, u, this.attempt, hedge)
  }

  /** Whether the request body can be sent again (the client side's answer, or the mirror's tee's). */
  bodyReplayable(): boolean {
    return this.mirror?.replayable() ?? this.client.bodyReplayable()
  }

  attemptStarted(a: Attempt, abort: (reason: Error) => void): void {
    if (this.cancelled !== undefined && (a === this.current || this.hedge?.isRival(a))) abort(this.cancelled)
  }

  // 5. relay (relay.ts: the answer's head, body and end, as undici reports them)

  head(a: Attempt, status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    return relayHead(this, a, status, raw, resume, statusText)
  }

  data(a: Attempt, chunk: Buffer): boolean {
    return relayData(this, a, chunk)
  }

  end(a: Attempt, trailers: Buffer[] | string[] | null): void {
    relayEnd(this, a, trailers)
  }

  upgraded(a: Attempt, status: number, raw: Buffer[] | string[] | null, socket: Duplex): void {
    relayUpgrade(this, a, status, raw, socket)
  }

  /** The response head went to the client. */
  headSent(status: number): void {
    this.responseStarted = true
    const trace = this.tracer?.trace
    if (trace !== undefined) {
      trace.status = status
      trace.firstByteMs = this.tracer!.elapsed()
    }
  }

  /** The upstream's head as the client gets it (node and fetch entries): hygiene, transforms, rewrites, the strategy's cookie. */
  clientHeaders(raw: Buffer[]): string[] {
    return clientResponseHead(raw, this.current!.upstream, this.host.options, this.strategyCookie(raw))
  }

  /** A `Set-Cookie` value the strategy wants on this response (sticky sessions), if any; a learning strategy reads the upstream's first. */
  strategyCookie(raw: readonly Buffer[]): string | undefined {
    return affinityCookie(this.host.fleet.strategy, this.current!.upstream, this.key, raw)
  }

  /** The path an attempt to `u` sends: the request's (rewritten), under the upstream URL's own path. */
  attemptPath(u: Upstream): string {
    return u.basePath === '' ? this.path : u.basePath + this.path
  }

  // 6. settle

  failed(a: Attempt, err: Error): void {
    attemptFailed(this, a, err)
  }

  /** Ends an attempt: uncounted, traced, judged unless the client's cancel made it say nothing. */
  endAttempt(a: Attempt, verdict: Verdict, code: string | undefined, lost = false): void {
    a.end(this.host.fleet, verdict, verdict !== UNJUDGED && this.cancelled === undefined, code, this.tracer, lost)
  }

  /** For the hedge: ends the attempt `a` that lost or failed while the other goes on. */
  endRacer(a: Attempt, verdict: Verdict, code: string | undefined, lost: boolean): void {
    this.endAttempt(a, verdict, code, lost)
    this.retries.markTried(a.upstream)
  }

  /** For the hedge: the budget, and a place in `tried` while the hedge is picked. */
  hedgeAllowed(): boolean {
    return this.retries.attempts < this.host.options.retry.attempts && this.retries.budgetAllows()
  }

  get isFinal(): boolean {
    return this.#done || this.cancelled !== undefined || (this.current?.status ?? 0) !== 0
  }

  /** Something threw where nothing should: this request alone ends (failure.ts). Never throws. */
  handlerThrew(err: unknown): void {
    endAfterThrow(this, err)
  }

  /** The last resort after a second throw: the request is over, whatever state it was in. */
  abandon(): void {
    if (this.#done) return
    this.#done = true
    this.host.counters.ended()
  }

  thrown(err: unknown, what: string): Error {
    return this.client.ownError?.(err) ?? asInternal(err, what)
  }

  fail(error: SwitchyardError): void {
    const trace = this.tracer?.trace
    if (trace !== undefined) {
      trace.error = error.code
      if (!this.responseStarted) trace.status = error.statusCode ?? 502
    }
    this.host.counters.failed(this, error)
    this.client.respondError(error)
    this.settle()
  }

  /** The client cancelled (went away or stalled): tell it, if it can still hear, and end. */
  endCancelled(): void {
    const reason = this.cancelled!
    if (!this.responseStarted && reason instanceof SwitchyardError && reason.statusCode !== undefined) {
      this.fail(reason)
      return
    }
    this.client.abort(reason)
    this.settle()
  }

  settle(): void {
    if (this.#done) return
    this.#done = true
    const { clock, counters } = this.host
    if (this.#deadline !== undefined) clock.clearTimeout(this.#deadline)
    this.hedge?.end(new UpstreamError('the request is over'))
    this.retries.settle()
    this.client.settled?.()
    counters.ended()
    this.tracer?.end(counters, this.path)
  }

  /** Ids tried so far, the current attempt's included, for events. */
  triedIds(): string[] {
    const ids = [...this.tried]
    const u = this.current?.upstream
    if (u !== undefined && !this.tried.has(u.id)) ids.push(u.id)
    return ids
  }
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
