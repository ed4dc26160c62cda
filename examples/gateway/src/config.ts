import { readFileSync } from 'node:fs'
import type { BalancerOptions } from '@switchyard/core'
import {
  type ActiveHealthCheckOptions,
  activeHealthCheck,
  type HealthCheck,
  type OutlierDetectionOptions,
  outlierDetection,
} from '@switchyard/health'
import * as strategies from '@switchyard/strategies'
import { InvalidOptionError, type Strategy } from '@switchyard/strategies'

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
  /** Cluster workers. Default 1 (no cluster). */
  workers: number
  /**
   * A path that answers the balancer's stats and the process's memory as JSON instead of being
   * proxied (like nginx `stub_status`). Off by default: the gateway proxies every path.
   */
  statsPath?: string | undefined
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
  return checks.length === 0 ? rest : { ...rest, health: checks }
}

/** The strategy factory names of shared/DESIGN.md; those the installed package has can be named. */
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

function positiveInt(value: string, name: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new InvalidOptionError(`${name} must be an integer from 0 to 65535, got ${JSON.stringify(value)}`, { field: name })
  }
  return n
}

/**
 * Reads the config: defaults, then the file named by `--config` (or `GATEWAY_CONFIG`), then the
 * environment (`PORT`, `HOST`, `UPSTREAMS`, `STRATEGY`, `WORKERS`, `STATS_PATH`), each overriding the one before.
 */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const config: GatewayConfig = { port: 8080, upstreams: [], strategy: { name: 'roundRobin' }, balancer: {}, workers: 1 }
  const flag = argv.indexOf('--config')
  const file = flag !== -1 ? argv[flag + 1] : env.GATEWAY_CONFIG
  if (flag !== -1 && file === undefined) throw new InvalidOptionError('--config needs a file path', { field: '--config' })
  if (file !== undefined && file !== '') {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<GatewayConfig> & { strategy?: string | GatewayConfig['strategy'] }
    if (raw.port !== undefined) config.port = positiveInt(String(raw.port), 'port')
    if (raw.host !== undefined) config.host = raw.host
    if (raw.upstreams !== undefined) config.upstreams = raw.upstreams
    if (raw.strategy !== undefined) config.strategy = typeof raw.strategy === 'string' ? { name: raw.strategy } : raw.strategy
    if (raw.balancer !== undefined) config.balancer = raw.balancer
    if (raw.workers !== undefined) config.workers = positiveInt(String(raw.workers), 'workers')
    if (raw.statsPath !== undefined) config.statsPath = raw.statsPath
  }
  if (env.PORT) config.port = positiveInt(env.PORT, 'PORT')
  if (env.HOST) config.host = env.HOST
  if (env.UPSTREAMS) config.upstreams = env.UPSTREAMS.split(',').map((u) => u.trim()).filter(Boolean)
  if (env.STRATEGY) config.strategy = { name: env.STRATEGY }
  if (env.STATS_PATH) config.statsPath = env.STATS_PATH
  if (env.WORKERS) config.workers = Math.max(1, positiveInt(env.WORKERS, 'WORKERS'))
  return config
}
