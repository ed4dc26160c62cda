import diagnostics from 'node:diagnostics_channel'
import type { Dispatcher } from 'undici'
import type { RequestTrace } from '../config/events.js'

/*
 * The balancer publishes on `node:diagnostics_channel`, so APM tools and `@switchyard/observe`'s
 * tracing can hook in without configuration. Messages are built only while a channel has
 * subscribers: with none, a request pays one `hasSubscribers` check per channel.
 */

/** `switchyard:request:start`: a request was taken (any balancer in the process). */
export interface RequestStartMessage {
  /** The same object in every message of this request: a key for a subscriber's own state. */
  readonly request: object
  readonly method: string
  readonly path: string
  /** A request header as the client sent it (lower-case name), for an incoming `traceparent`. */
  header(name: string): string | undefined
}

/** `switchyard:attempt:start`: an attempt goes to an upstream (retries and hedges included). */
export interface AttemptStartMessage {
  readonly request: object
  readonly upstream: string
  /** 1 for the first attempt. */
  readonly attempt: number
  /** The hedged attempt (see `hedge`). */
  readonly hedge: boolean
  /** Sets a header on this attempt's request to the upstream (a `traceparent`), replacing one of that name. */
  setHeader(name: string, value: string): void
}

/** `switchyard:request:end`: the request is over; its decision trace says what happened. */
export interface RequestEndMessage {
  readonly request: object
  readonly trace: RequestTrace
}

export const requestStartChannel = diagnostics.channel('switchyard:request:start')
export const attemptStartChannel = diagnostics.channel('switchyard:attempt:start')
export const requestEndChannel = diagnostics.channel('switchyard:request:end')

/** Dispatch options with `name: value` set on their headers (in whatever form they came), copied: the caller's stay untouched. */
export function withHeader(options: Dispatcher.DispatchOptions, name: string, value: string): Dispatcher.DispatchOptions {
  const lower = name.toLowerCase()
  const flat: string[] = []
  const add = (n: string, v: unknown) => {
    if (v === undefined || v === null || n.toLowerCase() === lower) return
    if (Array.isArray(v)) for (const x of v) flat.push(n, String(x))
    else flat.push(n, String(v))
  }
  const h = options.headers
  if (Array.isArray(h)) for (let i = 0; i < h.length; i += 2) add(String(h[i]), h[i + 1])
  else if (h !== null && h !== undefined && typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [n, v] of h as Iterable<[string, unknown]>) add(n, v)
  } else if (h !== null && h !== undefined) for (const [n, v] of Object.entries(h)) add(n, v)
  flat.push(lower, value)
  return { ...options, headers: flat }
}
