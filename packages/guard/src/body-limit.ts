import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkNumber, checkObject, InvalidOptionError, refuse, rejectUnknownKeys } from '@switchyard/strategies'
import { PayloadTooLargeError } from './errors.js'
import type { Middleware } from './middleware.js'

/** Options of {@link bodyLimit}. */
export interface BodyLimitOptions {
  /** Request body bytes at most (nginx `client_max_body_size`, whose default is 1 MiB). */
  max: number
}

/**
 * nginx `client_max_body_size` as middleware: a declared `Content-Length` over `max` is answered
 * `413` (`SWY_ERR_PAYLOAD_TOO_LARGE`) before a byte of the body is read; a body without one
 * (chunked over HTTP/1.1, or any HTTP/2 request body, which needs no length) is counted as it
 * arrives — whoever reads it, the balancer included — and cut at the limit: `413` when nothing
 * was answered yet, and the rest of the body refused (the HTTP/1.1 connection closed, the HTTP/2
 * stream reset after the answer). Nothing is buffered.
 */
export function bodyLimit(options: BodyLimitOptions): Middleware {
  const o = checkObject(options, 'bodyLimit()')
  rejectUnknownKeys(o, ['max'], 'bodyLimit()')
  if (o.max === undefined) throw new InvalidOptionError('bodyLimit().max is required (bytes)', { field: 'bodyLimit().max' })
  const max = checkNumber(o.max, 'bodyLimit().max', 0, { integer: true })
  return (req, res, next) => {
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) > max) {
      res.shouldKeepAlive = false // the unread body must not be read as the next request
      refuse(res, new PayloadTooLargeError(`the request body is larger than ${max} bytes`))
      return
    }
    // HTTP/1.1 frames a body by Content-Length or Transfer-Encoding; HTTP/2 by its DATA frames,
    // with or without a Content-Length (which Node holds it to), so every h2 body is counted.
    if (declared === undefined && (req.headers['transfer-encoding'] !== undefined || req.httpVersionMajor === 2)) countBody(req, res, max)
    next()
  }
}

/**
 * Counts a body as Node hands it over: its HTTP/1 parser and its HTTP/2 compat layer both give
 * each chunk to `req.push()`, ahead of any reader. Past `max`, the client is answered 413 and no
 * byte more reaches a reader, which sees the body fail (never end: a body cut short must not go
 * upstream as a whole one).
 */
function countBody(req: IncomingMessage, res: ServerResponse, max: number): void {
  let seen = 0
  let error: PayloadTooLargeError | undefined
  const push = req.push
  const stream = (req as { stream?: { once(event: 'close', listener: () => void): void } }).stream
  req.push = function (this: typeof req, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (error !== undefined) {
      // HTTP/2, past the limit: the rest is read and dropped, so the stream keeps draining until
      // Node ends it (RST_STREAM NO_ERROR once the answer is out, RFC 9113 8.1); an end is no end.
      if (chunk === null) req.destroy(error)
      return true
    }
    if (chunk !== null && chunk !== undefined) {
      seen += (chunk as Buffer).length
      if (seen > max) {
        error = new PayloadTooLargeError(`the request body grew larger than ${max} bytes`)
        res.shouldKeepAlive = false
        refuse(res, error)
        if (stream === undefined) {
          // HTTP/1.1: the reader sees the body fail now, and the connection closes after the 413.
          req.push = push
          req.destroy(error)
        } else {
          // HTTP/2: destroying the request now would keep Node from resetting the stream after
          // the answer, leaving the client waiting on flow control; it fails once the stream is gone.
          const failed = error
          stream.once('close', () => req.destroy(failed))
        }
        return false
      }
    }
    return push.call(this, chunk, encoding)
  }
}
