import type { Balancer, RequestTrace } from '@switchyard/core'

/** A pino-compatible logger: pino itself, or anything with `info` and `warn` taking `(object, message)`. */
export interface AccessLogger {
  info(fields: object, message?: string): void
  warn(fields: object, message?: string): void
}

/** One access-log line's fields. */
export interface AccessLogLine {
  method: string
  /** The path as sent upstream (after `rewritePath`). */
  path: string
  /** The status the client got: the upstream's, or the balancer's own on an error; 0 when the response was cut or the client left. */
  status: number
  /** The upstream that answered (the last attempt's), if any was tried. */
  upstream?: string
  /** Attempts made (retries and hedges included). */
  attempts: number
  /** Whole request, ms. */
  ms: number
  /** Until the response head was relayed, ms. */
  firstByteMs?: number
  /** Time of each attempt to its upstream, ms, in order. */
  attemptMs: number[]
  /** Response body bytes relayed. */
  bytes: number
  /** The balancer's error code, when it answered with an error or cut the response. */
  error?: string
}

/** Options of {@link accessLog}. */
export interface AccessLogOptions {
  /** The message of each line. @default 'request' */
  message?: string
}

/**
 * One structured line per proxied request through a pino-compatible logger: method, path,
 * status, upstream, attempts, durations (whole, to the first byte, per attempt) and bytes.
 * Requests the balancer answered with an error, or cut, log at `warn`; the others at `info`.
 * Off until called: it listens to the balancer's `request:end` event, whose decision traces are
 * built only while someone listens. Returns a function that stops it.
 *
 * @example
 * const stop = accessLog(lb, pino())
 */
export function accessLog(lb: Balancer, logger: AccessLogger, options: AccessLogOptions = {}): () => void {
  if (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function' || typeof logger.warn !== 'function') {
    throw new TypeError('accessLog(lb, logger): logger must have info() and warn() (pino, or a compatible logger)')
  }
  const message = options.message ?? 'request'
  const onEnd = (t: RequestTrace): void => {
    const line = accessLine(t)
    if (t.error !== undefined) logger.warn(line, message)
    else logger.info(line, message)
  }
  lb.on('request:end', onEnd)
  return () => {
    lb.off('request:end', onEnd)
  }
}

/** The access-log fields of one decision trace. */
export function accessLine(t: RequestTrace): AccessLogLine {
  const last = t.attempts.at(-1)
  const line: AccessLogLine = {
    method: t.method,
    path: t.path,
    status: t.status,
    attempts: t.attempts.length,
    ms: round(t.ms),
    attemptMs: t.attempts.map((a) => round(a.ms)),
    bytes: t.bytes,
  }
  if (last !== undefined) line.upstream = last.upstream
  if (t.firstByteMs !== undefined) line.firstByteMs = round(t.firstByteMs)
  if (t.error !== undefined) line.error = t.error
  return line
}

/** ms to three decimals (µs): enough for a log, and short. */
const round = (ms: number): number => Math.round(ms * 1000) / 1000
