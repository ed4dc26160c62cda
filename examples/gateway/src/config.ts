import { readFileSync } from 'node:fs'
import os from 'node:os'
import YAML from 'yaml'
import type { BalancerOptions } from '@switchyard/core'
import {
  type ActiveHealthCheckOptions,
  activeHealthCheck,
  type HealthCheck,
  type OutlierDetectionOptions,
  outlierDetection,
} from '@switchyard/health'
import * as strategies from '@switchyard/strategies'
import { checkObject, InvalidOptionError, rejectUnknownKeys, type Strategy, type TrustProxy } from '@switchyard/strategies'
import type { GatewayAdmin } from './admin.js'
import type { GatewayGuards } from './guards.js'
import type { GatewayStatus } from './status.js'
import { type GatewayTls, normalizeTls } from './tls.js'

/** The gateway's configuration: a JSON file (`--config`) and/or the environment. */
export interface GatewayConfig {
  /** Port to listen on. Default 8080, as the seed's nginx. */
  port: number
  /** Address to listen on. Default: all interfaces, as nginx `listen 80`. */
  host?: string | undefined
  /** Upstream URLs or objects; empty means "start two demo backends". */
  upstreams: BalancerOptions['upstreams'] | []
  /** A strategy factory name from @switchyard/strategies, with its options. Default roundRobin. */
  strategy: { name: string; options?: Record<string, unknown> | undefined }
  /**
   * More balancer options: retry, timeouts, passive, queue, breaker, slowStart, panicThreshold,
   * preserveHost, xForwarded; and `health: { active?: {...}, outlier?: {...} }`, the options of
   * `activeHealthCheck()` and `outlierDetection()` (a JSON file cannot hold the checks themselves).
   */
  balancer: Omit<BalancerOptions, 'upstreams' | 'strategy' | 'health'> & { health?: GatewayHealth }
  /** Cluster workers; `"auto"` in a file or `WORKERS=auto` is one per CPU (nginx `worker_processes auto`). Default 1 (no cluster). */
  workers: number
  /**
   * Listening sockets on the port (`SO_REUSEPORT`, Node 22.12+ on Linux): a storm of new
   * connections is taken in as fast as nginx does. `'auto'` is 64 where the runtime allows, else 1
   * (said at start). With `workers` > 1 the workers share the cluster's one socket instead.
   * Default `'auto'`.
   */
  listeners?: number | 'auto' | undefined
  /** The config file read, if any: the gateway watches it and reloads on a change (see `watchConfig`). */
  configFile?: string | undefined
  /** How often the config file is checked for changes, ms; 0 turns watching off. Default 2 000. */
  watchConfig?: number | undefined
  /** Reads the configuration again from the same file and environment (what `SIGHUP` and the watch apply). */
  reread?: (() => GatewayConfig) | undefined
  /**
   * A path that answers the balancer's stats and the process's memory as JSON instead of being
   * proxied (like nginx `stub_status`). Off by default: the gateway proxies every path.
   */
  statsPath?: string | undefined
  /**
   * Where Prometheus scrapes the balancer's metrics (`@switchyard/observe`), or `false`.
   * Default `/metrics`. With several workers it answers for the whole gateway (the primary merges every worker's).
   */
  metricsPath?: string | false | undefined
  /**
   * The access log: one JSON line per request in pino's format, written in batches (every 64 KiB
   * or 1 s, as nginx's `buffer=64k flush=1s`), on standard output (`'stdout'`), to a file
   * (a path), or `false` (or `'off'`). Default `'stdout'`.
   */
  accessLog?: string | false | undefined
  /**
   * The live status page (`GatewayStatus`: path, who may see it, sampling interval), or `false`.
   * Default: on at `/__switchyard/`, for loopback clients only.
   */
  status?: GatewayStatus | false | undefined
  /** TLS termination: HTTPS and HTTP/2 to clients (see `GatewayTls`). Off unless set. */
  tls?: GatewayTls | undefined
  /** Guards turned on by name, in front of the balancer (see `GatewayGuards`). None unless set. */
  guards?: GatewayGuards | undefined
  /**
   * Which proxies in front of the gateway are believed about the client's address: given to the
   * balancer (`X-Forwarded-For`, `ipHash`) and to every guard, so all agree. Default: nobody.
   */
  trustProxy?: TrustProxy | undefined
  /**
   * The listener expects the PROXY protocol (v1 or v2, HAProxy's) from an L4 balancer in front (AWS
   * NLB, HAProxy `send-proxy`): the client address each connection's header carries is the one
   * `trustProxy`, the guards, `ipHash` and `X-Forwarded-For` see. A connection without a valid
   * header within 30 s is closed. Off by default (nginx `listen … proxy_protocol`).
   */
  proxyProtocol?: boolean | undefined
  /**
   * The HTTP admin API (`GatewayAdmin`: path, token, who may call it): list, add, remove, drain and
   * re-weight upstreams with a bearer token. Off unless a token is set (or `ADMIN_TOKEN`).
   */
  admin?: GatewayAdmin | false | undefined
}

/** Health checks as a config file names them. */
export interface GatewayHealth {
  active?: ActiveHealthCheckOptions
  outlier?: OutlierDetectionOptions
}

/** Turns the config's `balancer` section into `createBalancer()` options. */
export function balancerOptions(config: GatewayConfig): Omit<BalancerOptions, 'upstreams' | 'strategy'> {
  const { health, ...rest } = config.balancer
  const checks: HealthCheck[] = []
  if (health?.active !== undefined) checks.push(activeHealthCheck(health.active))
  if (health?.outlier !== undefined) checks.push(outlierDetection(health.outlier))
  const options = checks.length === 0 ? rest : { ...rest, health: checks }
  // One rule for the balancer and the guards (a `balancer.trustProxy` of its own wins).
  return config.trustProxy === undefined || rest.trustProxy !== undefined ? options : { ...options, trustProxy: config.trustProxy }
}

/** The strategy factory names `STRATEGY` and `strategy` may name: every factory @switchyard/strategies exports; those the installed package has can be named. */
const FACTORIES = [
  'roundRobin',
  'random',
  'leastConnections',
  'powerOfTwo',
  'peakEwma',
  'consistentHash',
  'maglev',
  'ipHash',
  'stickyCookie',
  'stickyLearn',
  'first',
]

/** The strategy factories a config may name. */
export function strategyNames(): string[] {
  const exported = strategies as unknown as Record<string, unknown>
  return FACTORIES.filter((name) => typeof exported[name] === 'function')
}

export function makeStrategy(spec: GatewayConfig['strategy']): Strategy {
  const known = strategyNames()
  if (!known.includes(spec.name)) {
    throw new InvalidOptionError(`strategy must be one of ${known.join(', ')}, got ${JSON.stringify(spec.name)}`, {
      field: 'strategy',
    })
  }
  const factory = (strategies as unknown as Record<string, (o?: unknown) => Strategy>)[spec.name]!
  return factory(spec.options)
}

function positiveInt(value: string, name: string, max = 65_535): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new InvalidOptionError(`${name} must be an integer from 0 to ${max}, got ${JSON.stringify(value)}`, { field: name })
  }
  return n
}

/** `on` / `off` (and `true` / `false`, `1` / `0`) from the environment. */
function onOff(value: string, name: string): boolean {
  if (['on', 'true', '1'].includes(value)) return true
  if (['off', 'false', '0'].includes(value)) return false
  throw new InvalidOptionError(`${name} must be on or off, got ${JSON.stringify(value)}`, { field: name })
}

/** A listening-socket count (1-1024), or `auto`. */
function listenerCount(value: string, name: string): number | 'auto' {
  if (value === 'auto') return 'auto'
  const n = positiveInt(value, name, 1024)
  if (n === 0) throw new InvalidOptionError(`${name} must be 'auto' or an integer from 1 to 1024, got "0"`, { field: name })
  return n
}

/** A worker count, or `auto`: one per CPU the process may use (nginx `worker_processes auto`). */
function workerCount(value: string, name: string): number {
  return value === 'auto' ? os.availableParallelism() : positiveInt(value, name)
}

/**
 * Reads the config: defaults, then the file named by `--config` (or `GATEWAY_CONFIG`), then the
 * environment (`PORT`, `HOST`, `UPSTREAMS`, `STRATEGY`, `WORKERS`, `LISTENERS`, `STATS_PATH`, `METRICS_PATH`,
 * `ACCESS_LOG`, `STATUS_PATH` (`off` turns each off), `TLS_CERT`, `TLS_KEY`, `PROXY_PROTOCOL` (`on`/`off`),
 * `ADMIN_TOKEN`),
 * each overriding the one before.
 */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const config: GatewayConfig = { port: 8080, upstreams: [], strategy: { name: 'roundRobin' }, balancer: {}, workers: 1 }
  const flag = argv.indexOf('--config')
  const file = flag !== -1 ? argv[flag + 1] : env.GATEWAY_CONFIG
  if (flag !== -1 && file === undefined) throw new InvalidOptionError('--config needs a file path', { field: '--config' })
  if (file !== undefined && file !== '') {
    const raw = readConfigFile(file)
    if (raw.listen !== undefined) Object.assign(config, parseListen(raw.listen, file))
    if (raw.port !== undefined) config.port = positiveInt(String(raw.port), 'port')
    if (raw.host !== undefined) config.host = raw.host
    if (raw.upstreams !== undefined) config.upstreams = raw.upstreams
    if (raw.strategy !== undefined) config.strategy = typeof raw.strategy === 'string' ? { name: raw.strategy } : raw.strategy
    if (raw.balancer !== undefined) config.balancer = raw.balancer
    if (raw.workers !== undefined) config.workers = workerCount(String(raw.workers), 'workers')
    if (raw.listeners !== undefined) config.listeners = listenerCount(String(raw.listeners), 'listeners')
    if (raw.watchConfig !== undefined) config.watchConfig = positiveInt(String(raw.watchConfig), 'watchConfig', Number.MAX_SAFE_INTEGER)
    if (raw.statsPath !== undefined) config.statsPath = raw.statsPath
    if (raw.metricsPath !== undefined) config.metricsPath = raw.metricsPath
    if (raw.accessLog !== undefined) config.accessLog = raw.accessLog === 'off' ? false : raw.accessLog // "off" as ACCESS_LOG=off, not a file named off
    if (raw.status !== undefined) config.status = raw.status
    if (raw.tls !== undefined) config.tls = raw.tls
    if (raw.guards !== undefined) config.guards = raw.guards
    if (raw.trustProxy !== undefined) config.trustProxy = raw.trustProxy
    if (raw.admin !== undefined) config.admin = raw.admin
    if (raw.proxyProtocol !== undefined) {
      if (typeof raw.proxyProtocol !== 'boolean') throw new InvalidOptionError(`${file}: proxyProtocol must be true or false, got ${JSON.stringify(raw.proxyProtocol)}`, { field: 'proxyProtocol' })
      config.proxyProtocol = raw.proxyProtocol
    }
  }
  if (env.PORT) config.port = positiveInt(env.PORT, 'PORT')
  if (env.HOST) config.host = env.HOST
  if (env.UPSTREAMS) config.upstreams = env.UPSTREAMS.split(',').map((u) => u.trim()).filter(Boolean)
  if (env.STRATEGY) config.strategy = { name: env.STRATEGY }
  if (env.STATS_PATH) config.statsPath = env.STATS_PATH
  if (env.METRICS_PATH) config.metricsPath = env.METRICS_PATH === 'off' ? false : env.METRICS_PATH
  if (env.ACCESS_LOG) config.accessLog = env.ACCESS_LOG === 'off' ? false : env.ACCESS_LOG
  if (env.STATUS_PATH) config.status = env.STATUS_PATH === 'off' ? false : { ...(config.status || {}), path: env.STATUS_PATH }
  if (env.STATUS_TOKEN && config.status !== false) config.status = { ...(config.status ?? {}), token: env.STATUS_TOKEN }
  if (env.ADMIN_TOKEN && config.admin !== false) config.admin = { ...(config.admin ?? {}), token: env.ADMIN_TOKEN }
  if (env.PROXY_PROTOCOL) config.proxyProtocol = onOff(env.PROXY_PROTOCOL, 'PROXY_PROTOCOL')
  if (env.WORKERS) config.workers = Math.max(1, workerCount(env.WORKERS, 'WORKERS'))
  if (env.LISTENERS) config.listeners = listenerCount(env.LISTENERS, 'LISTENERS')
  if (file !== undefined && file !== '') config.configFile = file
  config.reread = () => loadConfig(argv, env)
  if (env.TLS_CERT || env.TLS_KEY) config.tls = { ...config.tls, cert: env.TLS_CERT ?? config.tls?.cert ?? '', key: env.TLS_KEY ?? config.tls?.key ?? '' }
  if (config.tls !== undefined) config.tls = normalizeTls(config.tls)
  return config
}

/** Top-level keys of a config file. */
const FILE_KEYS = ['listen', 'listeners', 'port', 'host', 'upstreams', 'strategy', 'balancer', 'workers', 'statsPath', 'metricsPath', 'accessLog', 'status', 'watchConfig', 'tls', 'guards', 'trustProxy', 'proxyProtocol', 'admin'] as const

type FileConfig = Partial<Omit<GatewayConfig, 'workers' | 'listeners'>> & {
  listeners?: number | 'auto'
  strategy?: string | GatewayConfig['strategy']
  workers?: number | 'auto'
  /** nginx `listen`: a port (`8080`), or an address and port (`"127.0.0.1:8080"`, `"[::1]:8080"`). */
  listen?: number | string
}

/** nginx's `listen` value: a port, or `address:port`. */
function parseListen(value: unknown, file: string): { port: number; host?: string } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(String(value))
  if (m === null) throw new InvalidOptionError(`${file}: listen must be a port or "address:port", got ${JSON.stringify(value)}`, { field: 'listen' })
  const port = positiveInt(m[2]!, 'listen')
  return m[1] === undefined ? { port } : { port, host: m[1].replace(/^\[|\]$/g, '') }
}

/**
 * Reads and checks a config file. A syntax error names the file, line and column; an unknown
 * top-level key (`"upstream"` for `"upstreams"`) is refused with the nearest valid one, so a typo
 * never silently starts the demo backends. Keys inside `balancer` are checked by `createBalancer()`.
 */
export function readConfigFile(file: string): FileConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new InvalidOptionError(`cannot read the config file ${file}: ${(cause as Error).message}`, { field: '--config', cause })
  }
  let raw: unknown
  if (/\.ya?ml$/i.test(file)) {
    try {
      raw = YAML.parse(text, { prettyErrors: true, uniqueKeys: true })
    } catch (cause) {
      const pos = (cause as { linePos?: [{ line: number; col: number }] }).linePos?.[0]
      const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`
      throw new InvalidOptionError(`${file}${where}: invalid YAML: ${(cause as Error).message.split('\n')[0]}`, { field: '--config', cause })
    }
  } else {
    try {
      raw = JSON.parse(text)
    } catch (cause) {
      const before = text.slice(0, syntaxErrorOffset(text))
      const where = ` at line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}`
      throw new InvalidOptionError(`${file}${where}: invalid JSON: ${(cause as Error).message}`, { field: '--config', cause })
    }
  }
  try {
    const o = checkObject(raw ?? null, 'config')
    rejectUnknownKeys(o, FILE_KEYS, '')
    return o as FileConfig
  } catch (cause) {
    const err = cause as InvalidOptionError
    throw new InvalidOptionError(`${file}: ${err.message}`, { field: err.field, cause })
  }
}

/**
 * Where JSON.parse fails in `text` (V8 says so in its message only for some errors): the shortest
 * prefix that fails for another reason than ending early, found by bisection.
 */
function syntaxErrorOffset(text: string): number {
  const endsEarly = (n: number): boolean => {
    try {
      JSON.parse(text.slice(0, n))
      return true
    } catch (err) {
      const message = (err as Error).message
      const at = /at position (\d+)/.exec(message)
      return /end of JSON input/i.test(message) || (at !== null && Number(at[1]) >= n)
    }
  }
  if (endsEarly(text.length)) return text.length
  let lo = 0
  let hi = text.length
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (endsEarly(mid)) lo = mid
    else hi = mid
  }
  return hi - 1
}
