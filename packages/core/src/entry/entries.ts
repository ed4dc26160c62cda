import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { asInternal, ClosedError } from '../config/errors.js'
import type { ExchangeHost } from '../exchange/context.js'
import { BalancedDispatcher } from './dispatcher.js'
import { FetchClient, type FetchInfo } from './fetch.js'
import { NodeClient } from './node.js'
import { answerError, answerServerOptions, answerUnhandled, errorResponse, refuseUnhandled, refuseUpgrade } from './respond.js'
import { UpgradeClient } from './upgrade.js'

/** A server's `'upgrade'` listener: the request, the client's socket, and the bytes already read past the head. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void

/** A request handler for `http.createServer`, Express and Connect. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

/** Every way into the balancer (see the `Balancer` class for each one's contract). */
export interface Entries {
  readonly handler: RequestHandler
  readonly upgrade: UpgradeHandler
  readonly connect: UpgradeHandler
  readonly fetch: (request: Request, info?: FetchInfo) => Promise<Response>
  readonly dispatcher: BalancedDispatcher
}

/**
 * Makes the entries of one balancer. Each answers what throws inside it as this one request's
 * failure (500, or a cut connection once the answer started): nothing a client sends ends the
 * process. The exchanges catch their own; these catch the rest (a client side that could not even
 * be built).
 */
export function makeEntries(host: ExchangeHost, close: () => Promise<void>): Entries {
  const handler: RequestHandler = (req, res, next) => {
    try {
      if (host.isClosed) {
        answerError(host.options, new ClosedError('the balancer is closed'), req, res, next)
        return
      }
      if (req.url === '*' && req.method === 'OPTIONS') {
        answerServerOptions(res)
        return
      }
      new NodeClient(host, req, res, next).exchange.start()
    } catch (err) {
      answerUnhandled(res, asInternal(err, 'lb.handler failed'))
    }
  }
  const upgrade: UpgradeHandler = (req, socket, head) => {
    try {
      if (host.isClosed) {
        refuseUpgrade(socket, new ClosedError('the balancer is closed'))
        return
      }
      new UpgradeClient(host, req, socket, head).exchange.start()
    } catch (err) {
      refuseUnhandled(socket, asInternal(err, 'lb.upgrade failed'))
    }
  }
  const fetch = (request: Request, info: FetchInfo = {}): Promise<Response> => {
    if (host.isClosed) return Promise.resolve(errorResponse(new ClosedError('the balancer is closed')))
    return new Promise<Response>((resolve) => {
      try {
        new FetchClient(host, request, info, resolve).exchange.start()
      } catch (err) {
        resolve(errorResponse(asInternal(err, 'lb.fetch failed'))) // a no-op if it had resolved
      }
    })
  }
  // The upgrade client refuses CONNECT first thing: `lb.connect` is the same door.
  return { handler, upgrade, connect: upgrade, fetch, dispatcher: new BalancedDispatcher(host, close) }
}
