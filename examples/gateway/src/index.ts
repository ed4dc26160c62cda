import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Balancer, createBalancer } from '@switchyard/core'
import { activeHealthCheck } from '@switchyard/health'
import { serverUrl, startHelloBackend } from './backend.js'
import { balancerOptions, type GatewayConfig, makeStrategy } from './config.js'

export { balancerOptions, loadConfig, makeStrategy, strategyNames, type GatewayConfig, type GatewayHealth } from './config.js'
export { startHelloBackend } from './backend.js'

/** A running gateway: the balancer, its server, and the demo backends when it started them. */
export interface Gateway {
  readonly lb: Balancer
  readonly server: http.Server
  /** `http://localhost:<port>` */
  readonly url: string
  readonly port: number
  readonly backends: readonly http.Server[]
  /** Stops taking connections, drains in-flight requests, closes the balancer and the backends. */
  close(): Promise<void>
}

/** Starts two hello-world backends on ephemeral loopback ports and returns their URLs. */
export async function startDemoBackends(): Promise<{ servers: http.Server[]; urls: string[] }> {
  const servers = await Promise.all([startHelloBackend('backend-1'), startHelloBackend('backend-2')])
  return { servers, urls: servers.map(serverUrl) }
}

/**
 * Starts the gateway: with no upstreams configured, two demo backends first (the seed's
 * docker-compose setup), then the balancer on `config.port`.
 */
export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  let backends: http.Server[] = []
  let upstreams = config.upstreams
  let options = balancerOptions(config)
  if (upstreams.length === 0) {
    const demo = await startDemoBackends()
    backends = demo.servers
    upstreams = demo.urls
    // The demo backends answer /healthz: probe it, as the example config does.
    if (options.health === undefined) options = { ...options, health: activeHealthCheck({ path: '/healthz' }) }
  }
  const lb = createBalancer({ ...options, upstreams, strategy: makeStrategy(config.strategy) })
  const { statsPath } = config
  const server = http.createServer(
    statsPath === undefined
      ? lb.handler
      : (req, res) => {
          if (req.url !== statsPath) return lb.handler(req, res)
          const body = JSON.stringify({ stats: lb.stats(), process: process.memoryUsage() })
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          res.end(body)
        },
  )
  server.keepAliveTimeout = 65_000 // nginx keepalive_timeout is 75 s; stay above common client pools
  server.listen(config.port, config.host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    lb,
    server,
    port,
    url: `http://localhost:${port}`,
    backends,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
      await lb.close()
      for (const b of backends) {
        b.closeAllConnections()
        await new Promise<void>((resolve) => b.close(() => resolve()))
      }
    },
  }
}
