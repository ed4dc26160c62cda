import { type Balancer, createBalancer, type SwitchyardError } from '@switchyard/core'
import express from 'express'

/**
 * An Express app with Switchyard on `/api`: body parsers only on the app's own routes (the
 * balancer streams `/api` bodies unread; one a parser did read is sent again from `req.body`), the
 * mount path stripped by Express, and the balancer's errors handed to the app's error middleware.
 */
export function makeApp(upstreams: string[]): { app: express.Express; lb: Balancer } {
  const lb = createBalancer({ upstreams, errors: 'next' })
  const app = express()
  app.post('/local/echo', express.json(), (req, res) => {
    res.json({ echoed: req.body })
  })
  app.use('/api', lb.handler) // /api/users reaches the upstream as /users
  app.use((err: SwitchyardError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.statusCode ?? 500).json({ error: 'upstream unavailable', code: err.code })
  })
  return { app, lb }
}
