import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Middleware } from './middleware.js'

/** What `compose` returns: a request listener that also fits Express and Connect. (`lb.handler` is one, and fits as the chain's last middleware.) */
export type Handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

/**
 * Chains middleware in front of a handler for a plain `http` server:
 * `http.createServer(compose(ipFilter(...), rateLimit(...), lb.handler))`. Each calls the next
 * with `next()`; `next(err)` ends the chain with a 500 (or hands the error to an outer `next`,
 * when the composed handler is itself mounted in Express or Connect).
 */
export function compose(...chain: Middleware[]): Handler {
  return (req, res, outer) => {
    let i = 0
    const step = (err?: unknown): void => {
      if (err !== undefined) {
        if (outer !== undefined) outer(err)
        else if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          res.end('Internal Server Error')
        } else res.destroy()
        return
      }
      const fn = chain[i++]
      if (fn === undefined) {
        outer?.()
        return
      }
      try {
        fn(req, res, step)
      } catch (e) {
        step(e)
      }
    }
    step()
  }
}
