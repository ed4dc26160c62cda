import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { type Balancer, listenShared } from '@switchyard/core'
import { serverUrl, startHelloBackend } from './backend.js'
import type { GatewayConfig } from './config.js'
import { acceptProxyProtocol } from './proxy-protocol.js'
import type { WorkerLink } from './cluster-link.js'
import { buildSite } from './site.js'
import type { StatusPage } from './status.js'
import { createRedirectServer, createTlsServer, reloadCredentials, type TlsServer } from './tls.js'
import { watchFiles } from './watch.js'

export { balancerOptions, loadConfig, makeStrategy, strategyNames, type GatewayConfig, type GatewayHealth } from './config.js'
export { serverUrl, startHelloBackend } from './backend.js'
export type { GatewayAdmin } from './admin.js'
export type { GatewayGuards } from './guards.js'
export type { GatewayTls } from './tls.js'
export type { GatewayStatus, StatusSample, UpstreamStatus } from './status.js'
export { readConfigFile } from './config.js'
export { handleSignals, type SignalHost } from './signals.js'

/** The outcome of a config reload. */
export interface ReloadResult {
  ok: boolean
  at: number
  /** Settings that changed but need a restart (`port`, `host`, `tls`, `workers`). */
  ignored: string[]
  error?: string
}

/** A running gateway: the balancer, its server, and the demo backends when it started them. */
export interface Gateway {
  readonly lb: Balancer
  /** The listening server: `http.Server`, or with `tls` an HTTPS or HTTP/2 (ALPN) server (the first of `servers`). */
  readonly server: http.Server | TlsServer
  /** Every listening server, one per `listeners` socket on the port. */
  readonly servers: readonly (http.Server | TlsServer)[]
  /** How many sockets listen on the port, and why fewer than asked when the runtime lacks `reusePort`. */
  readonly listeners: { count: number; fallback: string | undefined }
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
   * Applies a new configuration without dropping a request: a new balancer, guards and observers
   * are built and take every new request, while the old ones let their requests in flight finish
   * and close. A config that does not build is refused (it throws) and the old one keeps serving.
   * `port`, `host`, `tls` and `workers` need a restart: the keys among them that changed are
   * returned, unapplied. Health state starts afresh, as nginx's new workers do on reload.
   */
  reload(config: GatewayConfig): Promise<string[]>
  /**
   * Reads the config file and environment again and reloads (`SIGHUP`, and a change to the config
   * file, call it). Never throws: a bad config is reported and the old one keeps serving.
   */
  reloadConfig(): Promise<ReloadResult>
  /** How the last `reloadConfig()` went. */
  lastReload: ReloadResult | undefined
  /**
   * Reads the certificate and key again and serves new connections with them (`SIGHUP` calls it).
   * On an error (a missing file, a key that does not match) the old ones stay and it throws.
   */
  reloadTls(): void
  /** Stops taking connections, drains in-flight requests, closes the balancer and the backends. */
  close(): Promise<void>
}

/** Starts two hello-world backends on ephemeral loopback ports and returns their URLs. */
export async function startDemoBackends(): Promise<{ servers: http.Server[]; urls: string[] }> {
  const servers = await Promise.all([startHelloBackend('backend-1'), startHelloBackend('backend-2')])
  return { servers, urls: servers.map(serverUrl) }
}

/** How a cluster worker's gateway joins the others (see cluster-primary.ts); empty for a lone process. */
export interface GatewayCluster {
  /** The worker's link to the primary: shared health, metrics, status and admin changes. */
  link?: WorkerLink
  /** The demo backends the primary started, when the config names no upstreams. */
  demoUpstreams?: readonly string[]
}

/** Settings a reload cannot change: the listening socket, TLS and the process layout. */
const FIXED = ['port', 'host', 'tls', 'workers', 'proxyProtocol', 'listeners'] as const

/**
 * Starts the gateway: with no upstreams configured, two demo backends first (the seed's
 * docker-compose setup), then the site (guards, balancer, observers) and the server on `config.port`.
 */
export async function startGateway(config: GatewayConfig, cluster: GatewayCluster = {}): Promise<Gateway> {
  let backends: http.Server[] = []
  let demoUrls: string[] = [...(cluster.demoUpstreams ?? [])]
  const link = cluster.link
  if (config.upstreams.length === 0 && demoUrls.length === 0) {
    const demo = await startDemoBackends()
    backends = demo.servers
    demoUrls = demo.urls
  }
  let site = await buildSite(config, demoUrls, link)
  let current = config
  const handler: http.RequestListener = (req, res) => site.handler(req, res)
  const tls = config.tls
  // HTTP/2 sessions are told to finish (GOAWAY) on close, as idle HTTP/1.1 connections are closed.
  const sessions = new Set<{ close(): void }>()
  /** One listening server: each of `listeners` serves the same site. */
  const makeServer = (): http.Server | TlsServer => {
    // Node closes a connection whose head is not whole after headersTimeout (60 s, nginx's
    // client_header_timeout), but only looks every connectionsCheckingInterval (30 s by default, so
    // up to 90 s): looked at each second here, a slow or never-finished head goes within 61 s.
    const server =
      tls === undefined
        ? http.createServer({ headersTimeout: 60_000, connectionsCheckingInterval: 1_000 }, handler)
        : createTlsServer({ http2: true, ...tls }, handler)
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => site.upgrade(req, socket, head))
    // CONNECT (no tunnels here): 501 rather than Node's silent close. Over HTTP/1.1 Node gives the
    // socket; an HTTP/2 CONNECT stream arrives as a request and response.
    server.on('connect', (req: http.IncomingMessage, second: Duplex | http.ServerResponse, head?: Buffer) => {
      if (second instanceof http.ServerResponse || 'writeHead' in second) site.handler(req, second as http.ServerResponse)
      else site.connect(req, second, head ?? Buffer.alloc(0))
    })
    if (config.proxyProtocol === true) acceptProxyProtocol(server)
    if ('keepAliveTimeout' in server) server.keepAliveTimeout = 65_000 // nginx keepalive_timeout is 75 s; stay above common client pools
    server.on('session', (session: { close(): void; once(e: 'close', f: () => void): void }) => {
      sessions.add(session)
      session.once('close', () => sessions.delete(session))
    })
    return server
  }
  // Cluster workers share the primary's one socket (Node's cluster hands out the connections).
  const listening = await listenShared(makeServer, { port: config.port, host: config.host, listeners: link === undefined ? (config.listeners ?? 'auto') : 1 })
  const servers = listening.servers
  const server = servers[0]!
  const port = listening.port
  let redirect: Gateway['redirect']
  if (tls?.redirectFrom !== undefined) {
    const r = createRedirectServer(port)
    r.listen(tls.redirectFrom, config.host)
    await once(r, 'listening')
    redirect = { server: r, port: (r.address() as AddressInfo).port }
  }
  const reloadTls = () => {
    if (tls === undefined) return
    for (const s of servers) reloadCredentials(s as TlsServer, tls)
  }
  const unwatch =
    tls === undefined
      ? () => {}
      : watchFiles([tls.cert, tls.key], tls.watchInterval ?? 60_000, () => {
          try {
            reloadTls()
          } catch (err) {
            // A half-written renewal: keep serving the old certificate; the next change retries.
            console.error(`switchyard gateway: TLS reload failed, keeping the old certificate: ${(err as Error).message}`)
          }
        })
  const closeServer = (s: http.Server | TlsServer) =>
    new Promise<void>((resolve) => {
      // Keep-alive connections go as soon as they are idle: now, and each one whose last response
      // ends later (a connection busy at close would otherwise wait out its keep-alive timeout).
      // An HTTP/2 server that also takes HTTP/1.1 (allowHTTP1) has closeIdleConnections too, for
      // its HTTP/1.1 connections: its h2 sessions are told GOAWAY either way (session.close()
      // refuses new streams and lets those open finish).
      const sweep = () => {
        if ('closeIdleConnections' in s) s.closeIdleConnections()
        for (const session of sessions) session.close()
      }
      const timer = setInterval(sweep, 100)
      timer.unref()
      s.close(() => {
        clearInterval(timer)
        resolve()
      })
      sweep()
    })
  let reloading: Promise<unknown> = Promise.resolve()
  const gateway: Gateway = {
    get lb() {
      return site.lb
    },
    server,
    servers,
    listeners: { count: servers.length, fallback: listening.fallback },
    port,
    url: `${tls === undefined ? 'http' : 'https'}://localhost:${port}`,
    redirect,
    backends,
    get guards() {
      return site.guards
    },
    get metricsPath() {
      return site.metricsPath
    },
    get status() {
      return site.status
    },
    reloadTls,
    reload(next: GatewayConfig) {
      const run = async (): Promise<string[]> => {
        const fresh = await buildSite(next, demoUrls, link) // throws on a bad config: the old site keeps serving
        const old = site
        site = fresh // new requests go to the new site from here on
        const ignored = FIXED.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(current[key]))
        current = { ...next, ...Object.fromEntries(FIXED.map((key) => [key, current[key]])) }
        await old.close() // its requests in flight finish first (lb.close drains)
        return ignored
      }
      const done = reloading.then(run, run)
      reloading = done.catch(() => {})
      return done
    },
    lastReload: undefined,
    async reloadConfig() {
      const at = Date.now()
      try {
        const ignored = await gateway.reload((config.reread ?? (() => config))())
        gateway.lastReload = { ok: true, at, ignored }
        if (ignored.length !== 0) console.warn(`switchyard gateway: config reloaded; ${ignored.join(', ')} need a restart and were not applied`)
      } catch (err) {
        const e = err as { code?: string; message?: string }
        gateway.lastReload = { ok: false, at, ignored: [], error: `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}` }
        console.error(`switchyard gateway: config reload failed, the old one keeps serving: ${gateway.lastReload.error}`)
      }
      return gateway.lastReload
    },
    async close() {
      unwatch()
      unwatchConfig()
      await reloading
      await Promise.all([...servers.map(closeServer), redirect === undefined ? undefined : closeServer(redirect.server)])
      await site.close()
      for (const b of backends) {
        b.closeAllConnections()
        await new Promise<void>((resolve) => b.close(() => resolve()))
      }
    },
  }
  const unwatchConfig = config.configFile === undefined ? () => {} : watchFiles([config.configFile], config.watchConfig ?? 2_000, () => void gateway.reloadConfig())
  return gateway
}
