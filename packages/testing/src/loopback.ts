import { once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import type { Balancer, BalancerOptions } from '@switchyard/core'
import { createBalancer } from '@switchyard/core'
import { closeWithTest } from './cleanup.js'

/** A server on 127.0.0.1, its base URL, and how to close it. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly server: http.Server
  /** Closes it, cutting its connections. */
  close(): Promise<void>
}

/** Serves `handler` on a Node HTTP server at 127.0.0.1, any free port (`serverOptions`: Node's own timeouts). */
export async function loopbackServer(handler: http.RequestListener, serverOptions: http.ServerOptions = {}): Promise<LoopbackServer> {
  const server = http.createServer(serverOptions, handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  closeWithTest(close)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, close }
}

/** A balancer served on loopback, with every entry a Node server has. */
export interface ServedBalancer extends LoopbackServer {
  readonly lb: Balancer
}

/**
 * Serves a balancer (made from `options`, or given) on 127.0.0.1 with every entry a Node server
 * has: `lb.handler` for requests, `lb.upgrade` on `'upgrade'`, `lb.connect` on `'connect'`.
 * `close()` closes the server, then the balancer (1 s for its requests in flight).
 */
export async function serveBalancer(lbOrOptions: Balancer | BalancerOptions, serverOptions: http.ServerOptions = {}): Promise<ServedBalancer> {
  const lb = 'handler' in lbOrOptions ? lbOrOptions : createBalancer(lbOrOptions)
  const server = http.createServer(serverOptions, lb.handler)
  server.on('upgrade', lb.upgrade).on('connect', lb.connect)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await lb.close({ timeout: 1_000 })
  }
  closeWithTest(close)
  return { lb, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, close }
}

/** Ports {@link deadPort} has handed out in this process: each once. */
const handedOut = new Set<number>()

/**
 * A loopback port with nothing listening on it (connections are refused): a dead upstream. It is
 * below 1024, outside the ephemeral range `listen(0)` draws from, so no server a test starts can be
 * given it later (a freed ephemeral port was: two "dead" upstreams once got the same port, and a
 * mirror once got its own balancer's); each call returns a port not returned before, checked to
 * refuse a connection now.
 */
export async function deadPort(): Promise<number> {
  for (let tries = 0; tries < 1_000; tries++) {
    const port = 1 + Math.floor(Math.random() * 1_023)
    if (handedOut.has(port)) continue
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(false)
      })
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
    })
    if (!refused) continue
    handedOut.add(port)
    return port
  }
  throw new Error('deadPort(): no port below 1024 refuses connections here')
}
