import type { Duplex } from 'node:stream'
import { type Dispatcher, util } from 'undici'
import { asInternal } from '../config/errors.js'

/*
 * Everything Switchyard knows about undici's dispatch handler API lives in this file.
 *
 * undici 7 calls the legacy callbacks (`onConnect`, `onHeaders`, `onData`, `onComplete`,
 * `onError`, `onUpgrade`) natively: a handler that implements them costs no wrapper object per
 * request, so the balancer's exchanges do (through {@link UpstreamHandler}). Callers of
 * `lb.dispatcher` may write either API; {@link toLegacy} adapts the newer one.
 *
 * Moving to undici 8 (controller API only: `onRequestStart(controller)`, `onResponseStart`,
 * `onResponseData`, `onResponseEnd`, `onResponseError`, `onRequestUpgrade`) is this file:
 * `UpstreamHandler` implements those methods instead, mapping `controller.abort` to the abort
 * hook, `controller.pause()`/`resume()` to the `false` return and `resume` callback, and the
 * parsed header object to the raw arrays the exchange relays (undici 8 passes raw headers on
 * `controller.rawHeaders`); `toLegacy` keeps turning callers' handlers (either API) into the
 * callback shape `DispatchExchange` relays to, which is then Switchyard's own.
 * The simulator's `SimUpstream`, a Dispatcher that calls handlers, changes the same way.
 */

/**
 * The upstream side of an exchange as undici 7 calls it. Subclasses implement the neutral hooks;
 * only this class names undici's callbacks. The hooks are public so that a hedged request's
 * racers (hedge.ts) can forward the attempt the exchange follows to it.
 */
export abstract class UpstreamHandler {
  /** The attempt is under way; `abort` cancels it. */
  abstract attemptStarted(abort: (reason: Error) => void): void
  /** The response head; returns false to pause the body until `resume`. */
  abstract responseHead(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean
  /** A body chunk; returns false to pause. */
  abstract responseData(chunk: Buffer): boolean
  /** The body ended, with its trailers. */
  abstract responseEnd(trailers: Buffer[] | string[] | null): void
  /** The attempt failed (before or during the response). */
  abstract attemptFailed(err: Error): void
  /** The upstream switched protocols; the socket is the caller's now. */
  protected upgraded(_statusCode: number, _rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    socket.destroy()
  }

  /**
   * A hook threw where undici cannot take it back (after the response ended, while failing, on
   * an upgrade): the exchange ends this request alone. Never throws.
   */
  abstract handlerThrew(err: unknown): void

  /** What a hook threw, as undici is to abort the attempt with it: the balancer's error unless it is already sorted. */
  protected thrown(err: unknown, what: string): Error {
    return asInternal(err, what)
  }

  // undici's callbacks. Nothing a hook throws may reach undici unsorted: undici would take an
  // unknown error for the upstream's (and one thrown from onError would end the process as a
  // pool 'error' event). onHeaders and onData rethrow as the balancer's error, so undici aborts the
  // request and reports it once, through onError; the others end the request here.

  onConnect(abort: (reason: Error) => void): void {
    try {
      this.attemptStarted(abort)
    } catch (err) {
      abort(asInternal(err, 'the attempt could not start'))
    }
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    try {
      return this.responseHead(statusCode, rawHeaders, resume, statusText)
    } catch (err) {
      throw this.thrown(err, 'the response head could not be relayed')
    }
  }

  onData(chunk: Buffer): boolean {
    try {
      return this.responseData(chunk)
    } catch (err) {
      throw this.thrown(err, 'the response body could not be relayed')
    }
  }

  onComplete(trailers: Buffer[] | string[] | null): void {
    try {
      this.responseEnd(trailers)
    } catch (err) {
      this.handlerThrew(err)
    }
  }

  onError(err: Error): void {
    try {
      this.attemptFailed(err)
    } catch (again) {
      this.handlerThrew(again)
    }
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    try {
      this.upgraded(statusCode, rawHeaders, socket)
    } catch (err) {
      socket.destroy()
      this.handlerThrew(err)
    }
  }
}

/** undici's legacy handler callbacks, which its clients call natively. */
export interface LegacyHandler {
  onConnect?(abort: (reason?: Error) => void, context?: object): void
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean
  onData?(chunk: Buffer): boolean
  onComplete?(trailers: Buffer[] | string[] | null): void
  onError?(err: Error): void
  onUpgrade?(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void
}

/** A controller for handlers written to undici's newer `onRequestStart`/`onResponse*` API. */
class Controller {
  paused = false
  aborted = false
  reason: Error | null = null
  resumeUpstream: (() => void) | undefined = undefined
  readonly #abort: (reason?: Error) => void
  constructor(abort: (reason?: Error) => void) {
    this.#abort = abort
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.resumeUpstream?.()
  }
  abort(reason: Error): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.#abort(reason)
  }
}

/** Adapts a handler written to the newer API to the legacy callbacks. */
export function toLegacy(handler: Dispatcher.DispatchHandler): LegacyHandler {
  if (typeof handler.onRequestStart !== 'function' && typeof handler.onResponseStart !== 'function') {
    return handler as LegacyHandler
  }
  let controller: Controller
  const parse = (raw: Buffer[] | string[] | null) =>
    util.parseHeaders((raw ?? []) as Buffer[]) as Record<string, string | string[]>
  return {
    onConnect(abort) {
      controller = new Controller(abort)
      handler.onRequestStart?.(controller as unknown as Dispatcher.DispatchController, {})
    },
    onHeaders(statusCode, rawHeaders, resume, statusText) {
      controller.resumeUpstream = resume
      handler.onResponseStart?.(controller as never, statusCode, parse(rawHeaders), statusText)
      return !controller.paused
    },
    onData(chunk) {
      handler.onResponseData?.(controller as never, chunk)
      return !controller.paused
    },
    onComplete(trailers) {
      handler.onResponseEnd?.(controller as never, parse(trailers))
    },
    onError(err) {
      handler.onResponseError?.(controller as never, err)
    },
    onUpgrade(statusCode, rawHeaders, socket) {
      handler.onRequestUpgrade?.(controller as never, statusCode, parse(rawHeaders), socket)
    },
  }
}
