import { getConnInfo } from '@hono/node-server/conninfo'
import { type Balancer, createBalancer } from '@switchyard/core'
import { Hono } from 'hono'

/** A Hono app with Switchyard on `/api/*`, through the Fetch-API handler `lb.fetch`. */
export function makeApp(upstreams: string[]): { app: Hono; lb: Balancer } {
  const lb = createBalancer({ upstreams })
  const app = new Hono()
  app.get('/health', (c) => c.json({ ok: true }))
  app.all('/api/*', (c) => lb.fetch(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }))
  return { app, lb }
}
