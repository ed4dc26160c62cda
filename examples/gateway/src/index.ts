import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type Balancer, createBalancer, type UpgradeHandler } from '@switchyard/core'
import { compose, type Middleware } from '@switchyard/guard'
import { activeHealthCheck } from '@switchyard/health'
import { accessLog, prometheus } from '@switchyard/observe'
import pino from 'pino'
import { Registry } from 'prom-client'
import { serverUrl, startHelloBackend } from './backend.js'
import { balancerOptions, type GatewayConfig, makeStrategy } from './config.js'
import { buildGuards } from './guards.js'
import { StatusPage } from './status.js'
import { createRedirectServer, createTlsServer, reloadCredentials, type TlsServer, watchCredentials } from './tls.js'

export { balancerOptions, loadConfig, makeStrategy, strategyNames, type GatewayConfig, type GatewayHealth } from './config.js'
export { serverUrl, startHelloBackend } from './backend.js'
export type { GatewayGuards } from './guards.js'
export type { GatewayTls } from './tls.js'
export type { GatewayStatus, StatusSample, UpstreamStatus } from './status.js'

/** A running gateway: the balancer, its server, and the demo backends when it started them. */
export interface Gateway {
  readonly lb: Balancer
  /** The listening server: `http.Server`, or with `tls` an HTTPS or HTTP/2 (ALPN) server. */
  readonly server: http.Server | TlsServer
  /** `http://localhost:<port>`, or `https://…` with `tls` */
  readonly url: string
  readonly port: number
  /** With `tls.redirectFrom`: the plain-HTTP server redirecting to HTTPS, and its port. */
  readonly redirect: { server: http.Server; port: number } | undefined
  readonly backends: readonly http.Server[]
  /** The guards running in front of the balancer, in order. */
  readonly guards: readonly string[]
  /** The metrics path, when Prometheus metrics are served. */
  readonly metricsPath: string | undefined
  /** The live status page, when served. */
  readonly status: StatusPage | undefined
  /**
   * Reads the certificate and key again and serves new connections with them (`SIGHUP` calls it).
   * On an error (a missing file, a key that does not match) the old ones stay and it throws.
   */
  reloadTls(): void
  /** Stops taking connections, drains in-flight requests, closes the balancer and the backends. */
  close(): Promise<void>
}

/**
 * The guards in front of `lb.upgrade` too, so a WebSocket cannot go around them: they see the
 * handshake as a request, with a response written to the raw socket; one that passes reaches the
 * balancer with the socket detached again.
 */
function guardedUpgrade(chain: Middleware[], upgrade: UpgradeHandler): UpgradeHandler {
  return (req, socket, head) => {
    const res = new http.ServerResponse(req)
    res.shouldKeepAlive = false
    res.assignSocket(socket as Socket)
    res.once('finish', () => socket.end()) // a guard answered: the handshake ends there
    compose(...chain, () => {
      res.detachSocket(socket as Socket)
      upgrade(req, socket, head)
    })(req, res)
  }
}

/** The guard the demo runs when no upstreams (and no guards) are configured. */
const DEMO_GUARDS = { requestFilter: { starter: true } }

/** Starts two hello-world backends on ephemeral loopback ports and returns their URLs. */
export async function startDemoBackends(): Promise<{ servers: http.Server[]; urls: string[] }> {
  const servers = await Promise.all([startHelloBackend('backend-1'), startHelloBackend('backend-2')])
  return { servers, urls: servers.map(serverUrl) }
}

/**
 * Starts the gateway: with no upstreams configured, two demo backends first (the seed's
 * docker-compose setup), then the guards, the balancer and the server on `config.port`.
 */
export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  let backends: http.Server[] = []
  let upstreams = config.upstreams
  let options = balancerOptions(config)
  // The demo (no upstreams configured) shows a guard: the starter SQL injection / XSS rules.
  const guards = await buildGuards(config.guards ?? (upstreams.length === 0 ? DEMO_GUARDS : undefined), config.trustProxy)
  if (upstreams.length === 0) {
    const demo = await startDemoBackends()
    backends = demo.servers
    upstreams = demo.urls
    // The demo backends answer /healthz: probe it, as the example config does.
    if (options.health === undefined) options = { ...options, health: activeHealthCheck({ path: '/healthz' }) }
  }
  const lb = createBalancer({ ...options, upstreams, strategy: makeStrategy(config.strategy) })
  const proxy = guards.chain.length === 0 ? lb.handler : compose(...guards.chain, lb.handler)
  const { statsPath } = config
  const metricsPath = config.metricsPath === false ? undefined : (config.metricsPath ?? '/metrics')
  const registry = new Registry()
  const metrics = metricsPath === undefined ? undefined : prometheus(lb, { registry })
  const log = config.accessLog === false ? undefined : pino({ base: null }, pino.destination(config.accessLog === undefined || config.accessLog === 'stdout' ? 1 : config.accessLog))
  const stopLog = log === undefined ? () => {} : accessLog(lb, log)
  // The gateway's own paths are answered before the guards and the balancer; every other path is proxied.
  const own = new Map<string, (res: http.ServerResponse) => void>()
  if (statsPath !== undefined) {
    own.set(statsPath, (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ stats: lb.stats(), process: process.memoryUsage() }))
    })
  }
  if (metricsPath !== undefined) {
    own.set(metricsPath, (res) => {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' })
          res.end(text)
        },
        () => {
          res.writeHead(500)
          res.end()
        },
      )
    })
  }
  const status = config.status === false ? undefined : new StatusPage(lb, config.status)
  const handler: http.RequestListener =
    own.size === 0 && status === undefined
      ? proxy
      : (req, res) => {
          const answer = own.get(req.url ?? '')
          if (answer !== undefined) answer(res)
          else if (status === undefined || !status.handle(req, res)) proxy(req, res)
        }
  const tls = config.tls
  const server = tls === undefined ? http.createServer(handler) : createTlsServer({ http2: true, ...tls }, handler)
  server.on('upgrade', guards.chain.length === 0 ? lb.upgrade : guardedUpgrade(guards.chain, lb.upgrade))
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = 65_000 // nginx keepalive_timeout is 75 s; stay above common client pools
  server.listen(config.port, config.host)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  let redirect: Gateway['redirect']
  if (tls?.redirectFrom !== undefined) {
    const r = createRedirectServer(port)
    r.listen(tls.redirectFrom, config.host)
    await once(r, 'listening')
    redirect = { server: r, port: (r.address() as AddressInfo).port }
  }
  const reloadTls = () => {
    if (tls === undefined) return
    reloadCredentials(server as TlsServer, tls)
  }
  const unwatch =
    tls === undefined
      ? () => {}
      : watchCredentials([tls.cert, tls.key], tls.watchInterval ?? 60_000, () => {
          try {
            reloadTls()
          } catch (err) {
            // A half-written renewal: keep serving the old certificate; the next change retries.
            console.error(`switchyard gateway: TLS reload failed, keeping the old certificate: ${(err as Error).message}`)
          }
        })
  // HTTP/2 sessions are told to finish (GOAWAY) on close, as idle HTTP/1.1 connections are closed.
  const sessions = new Set<{ close(): void }>()
  server.on('session', (session: { close(): void; once(e: 'close', f: () => void): void }) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  const closeServer = (s: http.Server | TlsServer) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve())
      if ('closeIdleConnections' in s) s.closeIdleConnections()
      else for (const session of sessions) session.close()
    })
  return {
    lb,
    server,
    port,
    url: `${tls === undefined ? 'http' : 'https'}://localhost:${port}`,
    redirect,
    backends,
    guards: guards.names,
    metricsPath,
    status,
    reloadTls,
    async close() {
      unwatch()
      stopLog()
      metrics?.close()
      status?.close()
      await Promise.all([closeServer(server), redirect === undefined ? undefined : closeServer(redirect.server)])
      await lb.close()
      log?.flush()
      await guards.close()
      for (const b of backends) {
        b.closeAllConnections()
        await new Promise<void>((resolve) => b.close(() => resolve()))
      }
    },
  }
}
