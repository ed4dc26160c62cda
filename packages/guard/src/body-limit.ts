import { checkNumber, checkObject, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { PayloadTooLargeError } from './errors.js'
import type { Middleware } from './middleware.js'
import { refuse } from './respond.js'

/** Options of {@link bodyLimit}. */
export interface BodyLimitOptions {
  /** Request body bytes at most (nginx `client_max_body_size`, whose default is 1 MiB). */
  max: number
}

/**
 * nginx `client_max_body_size` as middleware: a declared `Content-Length` over `max` is answered
 * `413` (`SWY_ERR_PAYLOAD_TOO_LARGE`) before a byte of the body is read; a body without one
 * (chunked) is counted as it arrives — whoever reads it, the balancer included — and cut at the
 * limit: `413` when nothing was answered yet, the connection closed either way. Nothing is
 * buffered.
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
    if (declared === undefined && req.headers['transfer-encoding'] !== undefined) {
      // Node's HTTP parser hands each body chunk to req.push(): count there, ahead of any reader.
      let seen = 0
      const push = req.push
      req.push = function (this: typeof req, chunk: unknown, encoding?: BufferEncoding): boolean {
        if (chunk !== null && chunk !== undefined) {
          seen += (chunk as Buffer).length
          if (seen > max) {
            req.push = push
            res.shouldKeepAlive = false
            refuse(res, new PayloadTooLargeError(`the request body grew larger than ${max} bytes`))
            req.destroy(new PayloadTooLargeError(`the request body grew larger than ${max} bytes`))
            return false
          }
        }
        return push.call(this, chunk, encoding)
      }
    }
    next()
  }
}
