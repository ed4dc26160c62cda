import { type PickContext, type RequestInfo, SwitchyardError } from '@switchyard/strategies'
import type { Dispatcher } from 'undici'
import {
  ClientAbortedError,
  NoUpstreamError,
  QueueFullError,
  QueueTimeoutError,
  UpstreamError,
  UpstreamTimeoutError,
} from './errors.js'
import { errorCode, NOT_SENT_CODES, TIMEOUT_CODES } from './internal/codes.js'
import type { BalancerCore } from './balancer-core.js'
import type { Upstream } from './upstream.js'

const EMPTY: ReadonlySet<string> = new Set()
const now = performance.now.bind(performance)

/**
 * One client request, across all its attempts: pick an upstream, wait for admission, dispatch on
 * the upstream's pool, record the outcome, and retry on another upstream when that is safe.
 *
 * An exchange is itself the undici dispatch handler (the legacy callback API, which undici 7's
 * clients call natively) and the strategy's {@link PickContext}, so an attempt allocates nothing
 * beyond the dispatch options. Subclasses relay the response to their client.
 */
export abstract class Exchange implements PickContext {
  key: string | undefined = undefined
  attempt = 0
  tried: ReadonlySet<string> = EMPTY
  readonly method: string
  readonly path: string
  protected readonly core: BalancerCore
  protected upstream: Upstream | undefined = undefined
  /** The client went away or aborted: the reason. */
  protected cancelled: Error | undefined = undefined
  protected responseStarted = false
  #connected = false
  #abort: ((reason: Error) => void) | null = null
  #attemptStart = 0
  #status = 0
  #release: (() => void) | undefined = undefined
  #wait: AbortController | undefined = undefined
  #done = false
  #lastError: SwitchyardError | undefined = undefined

  constructor(core: BalancerCore, method: string, path: string) {
    this.core = core
    this.method = method
    this.path = path
  }

  /** The options for `pool.dispatch()` of one attempt. */
  protected abstract dispatchOptions(): Dispatcher.DispatchOptions
  /** Whether the request body can be sent again (none, or not yet read). */
  protected abstract isBodyReplayable(): boolean
  /** Answers the client with an error (nothing was relayed yet). */
  protected abstract respondError(error: SwitchyardError): void
  /** Tears the client response down after its head was sent, or after the client cancelled. */
  protected abstract abortResponse(error: Error): void
  /** Relays the response head; return false to pause. */
  protected abstract relayHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean
  /** Relays a body chunk; return false to pause. */
  protected abstract relayData(chunk: Buffer): boolean
  /** Ends the relayed response. */
  protected abstract relayComplete(trailers: Buffer[] | string[] | null): void

  /** The request as a hash strategy's key function sees it. */
  protected abstract requestInfo(): RequestInfo

  /** Starts the first attempt. */
  start(): void {
    this.core.exchangeStarted()
    const keyOf = this.core.strategy.key
    if (keyOf !== undefined) this.key = keyOf(this.requestInfo())
    this.#next()
  }

  /** A `Set-Cookie` value the strategy wants on this response (sticky sessions), if any. */
  protected strategyCookie(): string | undefined {
    const setCookie = this.core.strategy.setCookie
    return setCookie === undefined ? undefined : setCookie.call(this.core.strategy, this.upstream!, this)
  }

  /** The client is gone: abort the upstream request or the queue wait. */
  cancel(reason: Error = new ClientAbortedError('the client closed the connection')): void {
    if (this.#done || this.cancelled) return
    this.cancelled = reason
    if (this.#abort !== null) this.#abort(reason)
    else if (this.#wait !== undefined) this.#wait.abort(reason)
  }

  #next(): void {
    const u = this.core.select(this)
    if (u === undefined) {
      // After a failed attempt, the client hears about that failure, not about the empty retry.
      this.#fail(this.#lastError ?? new NoUpstreamError('no upstream is available', { statusCode: 503 }))
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
          this.abortResponse(this.cancelled)
          this.#settle()
          return
        }
        this.#send(u)
      })
    if (queue.pending < queue.concurrency) {
      void queue.add(run)
      return
    }
    const { size, timeout } = this.core.options.queue
    if (queue.size >= size) {
      this.#fail(new QueueFullError(`the queue of upstream ${u.id} is full (${size} waiting)`, { statusCode: 503 }))
      return
    }
    const wait = new AbortController()
    this.#wait = wait
    const timer = setTimeout(() => {
      wait.abort(new QueueTimeoutError(`waited ${timeout} ms in the queue of upstream ${u.id}`, { statusCode: 503 }))
    }, timeout)
    queue.add(run, { signal: wait.signal }).then(
      () => clearTimeout(timer),
      (reason: unknown) => {
        clearTimeout(timer)
        this.#wait = undefined
        if (this.cancelled) {
          this.abortResponse(this.cancelled)
          this.#settle()
        } else this.#fail(reason instanceof SwitchyardError ? reason : new QueueTimeoutError('queue wait aborted', { cause: reason, statusCode: 503 }))
      },
    )
  }

  #send(u: Upstream): void {
    this.#connected = false
    this.#status = 0
    u.inFlight++
    this.core.noteStart(u)
    this.core.strategy.onStart?.(u, this)
    this.#attemptStart = now()
    u.pool.dispatch(this.dispatchOptions(), this)
  }

  /** Ends the current attempt: counters, passive health, strategy hook, queue slot. */
  #endAttempt(failed: boolean, errorCode: string | undefined): void {
    const u = this.upstream!
    const latency = now() - this.#attemptStart
    u.inFlight--
    this.#abort = null
    if (this.cancelled === undefined) {
      u.record(latency, this.#status, failed)
      this.core.recordOutcome(u, failed, this.#status)
    }
    const onEnd = this.core.strategy.onEnd
    if (onEnd !== undefined) {
      onEnd.call(this.core.strategy, u, {
        ok: !failed,
        status: this.#status === 0 ? undefined : this.#status,
        latencyMs: latency,
        errorCode,
      })
    }
    if (this.#release !== undefined) {
      this.#release()
      this.#release = undefined
    }
    if (u.onIdle !== undefined && u.inFlight === 0 && (u.queue === undefined || u.queue.size === 0)) u.onIdle()
  }

  #fail(error: SwitchyardError): void {
    this.core.emitError(this, error)
    this.respondError(error)
    this.#settle()
  }

  #settle(): void {
    if (this.#done) return
    this.#done = true
    this.core.exchangeEnded()
  }

  // undici dispatch handler (legacy API).

  onConnect(abort: (reason: Error) => void): void {
    this.#connected = true
    if (this.cancelled) abort(this.cancelled)
    else this.#abort = abort
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true // 1xx: Node answers Expect: 100-continue itself
    this.responseStarted = true
    this.#status = statusCode
    return this.relayHeaders(statusCode, rawHeaders, resume, statusText)
  }

  onData(chunk: Buffer): boolean {
    return this.relayData(chunk)
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    this.#endAttempt(this.upstream!.passive.isFailureStatus(this.#status), undefined)
    this.relayComplete(trailers)
    this.#settle()
  }

  /** Ends the exchange after an HTTP upgrade: the socket now belongs to the caller. */
  protected completeUpgrade(statusCode: number): void {
    this.responseStarted = true
    this.#status = statusCode
    this.#endAttempt(false, undefined)
    this.#settle()
  }

  onError(err: Error): void {
    const u = this.upstream!
    const code = errorCode(err)
    const reached = this.#connected && !NOT_SENT_CODES.has(code)
    this.#endAttempt(true, code)
    if (this.cancelled) {
      this.abortResponse(this.cancelled)
      this.#settle()
      return
    }
    const error = TIMEOUT_CODES.has(code)
      ? new UpstreamTimeoutError(`upstream ${u.id} timed out (${code})`, { cause: err, statusCode: 504 })
      : new UpstreamError(`upstream ${u.id} failed: ${err.message} (${code})`, { cause: err, statusCode: 502 })
    if (this.responseStarted) {
      this.core.emitError(this, error)
      this.abortResponse(error)
      this.#settle()
      return
    }
    if (this.attempt < this.core.options.retry.attempts && this.#mayRetry(reached)) {
      this.tried = this.tried === EMPTY ? new Set([u.id]) : (this.tried as Set<string>).add(u.id)
      this.#lastError = error
      this.core.emitRetry(this, u, error)
      this.#next()
      return
    }
    this.#fail(error)
  }

  #mayRetry(reached: boolean): boolean {
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
