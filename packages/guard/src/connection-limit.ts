import type { IncomingMessage } from 'node:http'
import { checkFunction, checkNumber, checkObject, clientAddress, InvalidOptionError, normalizeTrustProxy, refuse, rejectUnknownKeys, type TrustProxy } from '@switchyard/strategies'
import { TooManyConnectionsError } from './errors.js'
import type { Middleware } from './middleware.js'

/** Options of {@link connectionLimit}. */
export interface ConnectionLimitOptions {
  /** Requests in progress at once per key (nginx `limit_conn zone 10`). */
  max: number
  /** What is limited. @default the client address (see `trustProxy`) */
  key?: (req: IncomingMessage) => string
  /** Who is believed about the client's address, for the default key. @default false */
  trustProxy?: TrustProxy
}

/**
 * nginx `limit_conn` as middleware: at most `max` requests in progress per key; one more is
 * answered `503` (`SWY_ERR_TOO_MANY_CONNECTIONS`). A request counts until its response closes
 * (finished or cut). Keys with nothing in progress are forgotten, so memory follows the load.
 */
export function connectionLimit(options: ConnectionLimitOptions): Middleware {
  const o = checkObject(options, 'connectionLimit()')
  rejectUnknownKeys(o, ['max', 'key', 'trustProxy'], 'connectionLimit()')
  if (o.max === undefined) throw new InvalidOptionError('connectionLimit().max is required', { field: 'connectionLimit().max' })
  const max = checkNumber(o.max, 'connectionLimit().max', 1, { min: 1, integer: true })
  const trust = normalizeTrustProxy(o.trustProxy, 'connectionLimit().trustProxy')
  const key = checkFunction<(req: IncomingMessage) => string>(o.key, 'connectionLimit().key', (req) => clientAddress(req, trust))
  const inProgress = new Map<string, number>()
  return (req, res, next) => {
    const k = key(req)
    const n = inProgress.get(k) ?? 0
    if (n >= max) {
      refuse(res, new TooManyConnectionsError(`more than ${max} requests in progress`))
      return
    }
    inProgress.set(k, n + 1)
    res.once('close', () => {
      const left = inProgress.get(k)! - 1
      if (left === 0) inProgress.delete(k)
      else inProgress.set(k, left)
    })
    next()
  }
}
