import type { Balancer, RequestTrace } from '@switchyard/core'
import { type FlushTimer, jsonLine, LineBatch, type LogDestination, round } from './log-batch.js'

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
  /** With the balancer's `cache`: how the cache answered (`hit`, `miss`, `revalidated`), as nginx's `$upstream_cache_status`. */
  cache?: 'hit' | 'miss' | 'revalidated'
}

/** Options of {@link accessLog}. */
export interface AccessLogOptions {
  /** The message of each line. @default 'request' */
  message?: string
  /**
   * With a destination: write once this many characters are pending (nginx's `buffer=64k`).
   * 0 writes every line at once. Not used with a logger.
   * @default 65536
   */
  bufferBytes?: number
  /**
   * With a destination: write what is pending at most this many ms after its first line (nginx's
   * `flush=1s`). Not used with a logger.
   * @default 1000
   */
  flushMs?: number
  /** The timers `flushMs` runs on (tests pass a virtual clock). @default the real ones */
  clock?: FlushTimer
}

/**
 * One structured line per proxied request: method, path, status, upstream, attempts, durations
 * (whole, to the first byte, per attempt) and bytes. Requests the balancer answered with an error,
 * or cut, log at `warn` (level 40); the others at `info` (30).
 *
 * The target is either a pino-compatible **logger** (`info`/`warn`; each line goes through it, with
 * its serializers, hooks and transports) or a **destination** (`write(string)`: a
 * `pino.destination()`, a file stream, `process.stdout`), for which Switchyard builds the same
 * JSON line pino would and writes lines in batches (`bufferBytes`, `flushMs`): about a quarter of
 * a logger's cost per request (see the bench's metrics + access log row). `stop()` writes what is
 * pending.
 *
 * Off until called: it listens to the balancer's `request:end` event, whose decision traces are
 * built only while someone listens. Returns a function that stops it.
 *
 * @example
 * const stop = accessLog(lb, pino())                                    // through a logger
 * const stop = accessLog(lb, pino.destination({ dest: 'access.log' }))  // batched JSON lines
 */
export function accessLog(lb: Balancer, target: AccessLogger | LogDestination, options: AccessLogOptions = {}): () => void {
  if (target === null || typeof target !== 'object') throw new TypeError(TARGET)
  const message = options.message ?? 'request'
  let onEnd: (t: RequestTrace) => void
  let done = (): void => {}
  if (typeof (target as AccessLogger).info === 'function' && typeof (target as AccessLogger).warn === 'function') {
    const logger = target as AccessLogger
    onEnd = (t) => {
      const line = accessLine(t)
      if (t.error !== undefined) logger.warn(line, message)
      else logger.info(line, message)
    }
  } else if (typeof (target as LogDestination).write === 'function') {
    const bufferBytes = count(options.bufferBytes, 'bufferBytes', 65_536)
    const flushMs = count(options.flushMs, 'flushMs', 1_000)
    const msg = JSON.stringify(message)
    const batch = new LineBatch(target as LogDestination, bufferBytes, flushMs, (t, time) => jsonLine(t, msg, time), options.clock)
    onEnd = (t) => batch.add(t, Date.now())
    done = () => batch.flush()
  } else {
    throw new TypeError(TARGET)
  }
  lb.on('request:end', onEnd)
  return () => {
    lb.off('request:end', onEnd)
    done()
  }
}

const TARGET = 'accessLog(lb, target): target must be a logger with info() and warn() (pino, or a compatible one) or a destination with write()'

function count(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`accessLog(): ${name} must be a whole number ≥ 0, got ${String(value)}`)
  return value
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
  if (last?.cache !== undefined) line.cache = last.cache
  return line
}
