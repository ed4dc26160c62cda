import { once } from 'node:events'
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Balancer, type BalancerOptions, createBalancer } from '@switchyard/core'
import { onTestFinished } from 'vitest'
import { serve } from './upstream.js'

/** Makes a balancer, serves its handler on 127.0.0.1:0, and closes both after the test. */
export async function startProxy(options: BalancerOptions): Promise<{ lb: Balancer; url: string }> {
  const lb = createBalancer(options)
  onTestFinished(() => lb.close({ timeout: 1_000 }))
  const { url } = await serve(lb.handler)
  return { lb, url }
}

/**
 * Serves every entry of `lb` a Node server has: `lb.handler` for requests, `lb.upgrade` on
 * `'upgrade'`, `lb.connect` on `'connect'`, on 127.0.0.1:0 (with `serverOptions`, Node's own
 * timeouts say); the server and `lb` close after the test.
 */
export async function serveEntries(lb: Balancer, serverOptions: http.ServerOptions = {}): Promise<{ url: string; server: Server }> {
  const server = http.createServer(serverOptions, lb.handler)
  server.on('upgrade', lb.upgrade).on('connect', lb.connect)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await lb.close({ timeout: 100 })
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

/**
 * Listens with `app` (an Express app, or anything whose `listen(port, host)` returns an
 * `http.Server`) on 127.0.0.1:0 and returns its base URL; the server and `lb` close after the test.
 */
export async function listenApp(app: { listen(port: number, host: string): Server }, lb: Balancer): Promise<string> {
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    server.close()
    await lb.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
