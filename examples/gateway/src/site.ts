import http from 'node:http'
import type { Socket } from 'node:net'
import { type Balancer, type BalancerOptions, createBalancer, type UpgradeHandler } from '@switchyard/core'
import { compose, type Middleware } from '@switchyard/guard'
import { activeHealthCheck, type HealthCheck } from '@switchyard/health'
import { InvalidOptionError } from '@switchyard/strategies'
import { accessLog, prometheus } from '@switchyard/observe'
import pino from 'pino'
import { Counter, Registry } from 'prom-client'
import type { WafReport } from '@switchyard/waf'
import { balancerOptions, type GatewayConfig, makeStrategy } from './config.js'
import { buildGuards } from './guards.js'
import { AdminApi } from './admin.js'
import type { WorkerLink } from './cluster-link.js'
import { StatusPage } from './status.js'

/**
 * Everything one configuration makes behind the gateway's listening server: the guards, the
 * balancer, the metrics, the access log, the status page, and the handlers that use them. A
 * reload builds a new site and swaps it in; the old one drains and closes.
 */
export interface Site {
  readonly lb: Balancer
  readonly guards: readonly string[]
  readonly metricsPath: string | undefined
  readonly status: StatusPage | undefined
  readonly handler: http.RequestListener
  readonly upgrade: UpgradeHandler
  /** A server's `'connect'` event (`CONNECT`): answered 501 by the balancer, after the guards. */
  readonly connect: UpgradeHandler
  /** Lets the requests in flight finish, then closes the balancer, guards and observers. */
  close(): Promise<void>
}

/**
 * An option error from a config file, with the file's name in front and the key's full path in
 * `field` (`balancer.retry.attempts`); the message keeps the nearest valid key it names.
 */
function inFile(config: GatewayConfig, err: unknown, section: string): unknown {
  if (config.configFile === undefined || !(err instanceof InvalidOptionError)) return err
  const field = section === '' || err.field === undefined ? err.field : `${section}.${err.field}`
  return new InvalidOptionError(`${config.configFile}: ${section === '' ? '' : `in ${section}: `}${err.message}`, { field, cause: err })
}

/**
 * What the gateway does with each request the WAF reports (it matched rules): counts it by rule
 * and outcome on `/metrics` (`switchyard_waf_requests_total{rule,outcome}`, one count per rule
 * that matched) and writes one access log line (`msg: "waf"`, level 40 when blocked or detected,
 * 30 when it passed under the threshold), with the rule ids, the score and the variables. The
 * rules' data is logged for the operator, never sent to the client.
 */
function wafObserver(registry: Registry | undefined, destination: { write(line: string): unknown } | undefined): ((r: WafReport) => void) | undefined {
  const counter =
    registry === undefined
      ? undefined
      : new Counter({ name: 'switchyard_waf_requests_total', help: 'Requests the WAF found rules matching, by rule and outcome (blocked, detected, passed)', labelNames: ['rule', 'outcome'], registers: [registry] })
  if (counter === undefined && destination === undefined) return undefined
  return (r) => {
    for (const m of r.matches) counter?.inc({ rule: String(m.id), outcome: r.outcome })
    destination?.write(
      `${JSON.stringify({
        level: r.outcome === 'passed' ? 30 : 40,
        time: Date.now(),
        msg: 'waf',
        outcome: r.outcome,
        method: r.method,
        url: r.url,
        score: r.score,
        rule: r.rule,
        rules: r.matches.map((m) => m.id),
        matches: r.matches.map((m) => ({ id: m.id, variable: m.variable, data: m.data })),
      })}\n`,
    )
  }
}

/** The guard the demo runs when no upstreams (and no guards) are configured. */
const DEMO_GUARDS = { requestFilter: { starter: true } }

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

/**
 * The balancer options of `config` (the demo's, whose backends answer `/healthz`, are probed
 * there), the strategy and the upstreams included.
 */
export function siteBalancerOptions(config: GatewayConfig, demoUpstreams: readonly string[]): BalancerOptions {
  const demo = config.upstreams.length === 0
  let options = balancerOptions(config)
  if (demo && options.health === undefined) options = { ...options, health: activeHealthCheck({ path: '/healthz' }) }
  return { ...options, upstreams: demo ? demoUpstreams : config.upstreams, strategy: makeStrategy(config.strategy) }
}

/** The checks of a `health` option, split: active probes (run once, by the cluster primary) and the rest. */
export function splitHealth(health: BalancerOptions['health']): { probes: HealthCheck[]; rest: HealthCheck[] } {
  const all = health === undefined ? [] : Array.isArray(health) ? (health as HealthCheck[]) : [health as HealthCheck]
  return { probes: all.filter((h) => h.kind === 'active'), rest: all.filter((h) => h.kind !== 'active') }
}

/**
 * Builds a site for `config`. `demoUpstreams` stand in when the config names no upstreams (the
 * demo backends the gateway started); they come with an active check of their `/healthz` and
 * the starter request filter, as the demo shows. With `link` (a cluster worker) the balancer
 * shares health with the other workers and runs no probes (the primary does), `/metrics` answers
 * for the whole gateway, the status page shows the fleet, and admin changes reach every worker.
 */
export async function buildSite(config: GatewayConfig, demoUpstreams: readonly string[], link?: WorkerLink): Promise<Site> {
  const demo = config.upstreams.length === 0
  let options = siteBalancerOptions(config, demoUpstreams)
  if (link !== undefined) options = { ...options, health: splitHealth(options.health).rest, share: link.channel }
  let guards: Awaited<ReturnType<typeof buildGuards>>
  const registry = new Registry()
  const metricsPath = config.metricsPath === false ? undefined : (config.metricsPath ?? '/metrics')
  // pino's JSON lines, built by accessLog and handed to pino's destination in batches (64 KiB or
  // 1 s, as nginx's `buffer=64k flush=1s`): asynchronous writes, flushed on close.
  const destination =
    config.accessLog === false
      ? undefined
      : pino.destination({ dest: config.accessLog === undefined || config.accessLog === 'stdout' ? 1 : config.accessLog, sync: false })
  // Only a gateway with guards.waf gets the WAF's counter and log lines.
  const onWaf = (config.guards as { waf?: unknown } | undefined)?.waf === undefined ? undefined : wafObserver(metricsPath === undefined ? undefined : registry, destination)
  try {
    // The WAF judges each request as the balancer will send it (made below, before any request).
    guards = await buildGuards(config.guards ?? (demo ? DEMO_GUARDS : undefined), config.trustProxy, onWaf, (req) => lb.upstreamHead(req))
  } catch (err) {
    throw inFile(config, err, '')
  }
  let lb: Balancer
  try {
    lb = createBalancer(options)
  } catch (err) {
    await guards.close()
    throw inFile(config, err, (err as InvalidOptionError).field === 'strategy' ? '' : 'balancer')
  }
  const proxy = guards.chain.length === 0 ? lb.handler : compose(...guards.chain, lb.handler)
  const metrics = metricsPath === undefined ? undefined : prometheus(lb, { registry })
  const stopLog = destination === undefined ? () => {} : accessLog(lb, destination)
  const status = config.status === false ? undefined : new StatusPage(lb, config.status, link)
  let admin: AdminApi | undefined
  if (config.admin !== undefined && config.admin !== false) {
    try {
      admin = new AdminApi(lb, config.admin, link === undefined ? undefined : (op) => link.admin(op))
    } catch (err) {
      metrics?.close()
      status?.close()
      await lb.close()
      await guards.close()
      throw err
    }
  }
  // The gateway's own paths are answered before the guards and the balancer; every other path is proxied.
  const own = new Map<string, (res: http.ServerResponse) => void>()
  if (config.statsPath !== undefined) {
    own.set(config.statsPath, (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ stats: lb.stats(), process: process.memoryUsage() }))
    })
  }
  if (metricsPath !== undefined) {
    own.set(metricsPath, (res) => {
      ;(link === undefined ? registry.metrics() : link.scrape()).then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' })
          res.end(text)
        },
        (err: Error) => {
          // With workers: the primary did not answer in time (503, the scraper tries again).
          res.writeHead(link === undefined ? 500 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
          res.end(link === undefined ? '' : `${err.message}\n`)
        },
      )
    })
  }
  const route: http.RequestListener =
    own.size === 0 && status === undefined && admin === undefined
      ? proxy
      : (req, res) => {
          const answer = own.get(req.url ?? '')
          if (answer !== undefined) answer(res)
          else if (admin?.handle(req, res) === true) return
          else if (status === undefined || !status.handle(req, res)) proxy(req, res)
        }
  // The gateway's own server answers what throws in its own paths (metrics, status page, a guard)
  // as this one request's 500; the balancer's entry points already catch their own.
  const handler: http.RequestListener = (req, res) => {
    try {
      route(req, res)
    } catch (err) {
      console.error(`switchyard gateway: ${req.method} ${req.url} failed: ${(err as Error)?.stack ?? err}`)
      if (res.headersSent) res.destroy()
      else {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
        res.end('Internal Server Error')
      }
    }
  }
  link?.attach({ lb, registry })
  const upgrade = guards.chain.length === 0 ? lb.upgrade : guardedUpgrade(guards.chain, lb.upgrade)
  let closing: Promise<void> | undefined
  const site: Site = {
    lb,
    guards: guards.names,
    metricsPath,
    status,
    handler,
    upgrade,
    connect: guards.chain.length === 0 ? lb.connect : guardedUpgrade(guards.chain, lb.connect),
    close() {
      closing ??= shutDown()
      return closing
    },
  }
  async function shutDown(): Promise<void> {
    metrics?.close()
    status?.close()
    await lb.close() // the requests it drains still log their lines
    stopLog() // hands the pending batch to the destination
    if (destination !== undefined) {
      if (config.accessLog !== undefined && config.accessLog !== 'stdout') {
        // A file: closed once every line is written, so the log is whole when close() resolves.
        await new Promise<void>((resolve) => {
          destination.once('close', () => resolve())
          destination.end()
        })
      } else await new Promise<void>((resolve) => destination.flush(() => resolve())) // stdout stays open
    }
    await guards.close()
  }
  return site
}
