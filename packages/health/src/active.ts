import {
  checkNumber,
  checkObject,
  describeValue,
  InvalidOptionError,
  rejectUnknownKeys,
} from '@switchyard/strategies'
import type { Clock } from '@switchyard/strategies'
import { Client, type Dispatcher } from 'undici'
import { systemClock } from './clock.js'
import { GrpcProber, type ProbeResult, tcpProbe } from './probes.js'

/** Options of {@link activeHealthCheck}. Every duration is in ms. */
export interface ActiveHealthCheckOptions {
  /**
   * What a probe is: `'http'` a `GET path` judged by its status (and body); `'tcp'` a connection
   * to the upstream's host and port that opens (Envoy's TCP health check, HAProxy's plain
   * `check`); `'grpc'` the standard gRPC health call, `grpc.health.v1.Health/Check` over HTTP/2
   * (`h2c` for `http:` upstreams), passing on `SERVING` (Envoy's gRPC health check). `tcp` and
   * `grpc` probes connect to the upstream's origin themselves, also for an upstream given as a
   * dispatcher.
   * @default 'http'
   */
  type?: 'http' | 'tcp' | 'grpc'
  /** The service a `grpc` probe asks about (`HealthCheckRequest.service`); `''` is the server as a whole. @default '' */
  service?: string
  /**
   * Path probed with GET (`http` probes).
   * @default '/' (nginx Plus `health_check uri`)
   */
  path?: string
  /**
   * Time between probes of one upstream.
   * @default 5_000 (nginx Plus `interval=5s`)
   */
  interval?: number
  /**
   * Longest wait for a probe's connection, head and body; a probe over it fails.
   * @default 2_000 (HAProxy checks time out at its default `inter` of 2 s)
   */
  timeout?: number
  /**
   * Statuses that pass: one, a list, or a function.
   * @default 200 to 399 (nginx Plus: "the status code is 2xx or 3xx")
   */
  expectStatus?: number | readonly number[] | ((status: number) => boolean)
  /** A string the body must contain, or a pattern it must match (first 64 KiB). @default none */
  expectBody?: string | RegExp
  /**
   * Consecutive passes that bring a down upstream back.
   * @default 1 (nginx Plus `passes=1`)
   */
  healthyThreshold?: number
  /**
   * Consecutive failures that take an upstream down.
   * @default 1 (nginx Plus `fails=1`)
   */
  unhealthyThreshold?: number
  /**
   * Up to this much is added at random to each wait, so probes of many upstreams and processes
   * do not align (Envoy's `interval_jitter`, which has no default).
   * @default interval / 10
   */
  jitter?: number
  /** Extra request headers (`http`), or metadata (`grpc`: e.g. `authorization`). @default {} */
  headers?: Readonly<Record<string, string>>
}

export interface ResolvedActiveOptions {
  readonly type: 'http' | 'tcp' | 'grpc'
  readonly service: string
  readonly path: string
  readonly interval: number
  readonly timeout: number
  readonly passes: (status: number) => boolean
  readonly expectBody: string | RegExp | undefined
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
  readonly jitter: number
  readonly headers: Readonly<Record<string, string>>
}

/** A health check made by {@link activeHealthCheck}, for the balancer's `health` option. */
export interface ActiveHealthCheck {
  readonly kind: 'active'
  readonly options: ResolvedActiveOptions
}

export const ACTIVE_DEFAULTS = Object.freeze({
  path: '/', // nginx Plus health_check uri default
  interval: 5_000, // ms; nginx Plus interval=5s
  timeout: 2_000, // ms; HAProxy's check timeout falls back to inter, 2 s by default
  healthyThreshold: 1, // nginx Plus passes=1
  unhealthyThreshold: 1, // nginx Plus fails=1
})

const BODY_LIMIT = 64 * 1024

/**
 * Active health checks: each upstream is probed every `interval` (plus jitter), on its own timer —
 * with `GET path` (the default), a TCP connect (`type: 'tcp'`) or the gRPC health call
 * (`type: 'grpc'`); `unhealthyThreshold` consecutive failures take it down
 * (`upstream:down`, reason `health_check`) and `healthyThreshold` consecutive passes bring it back.
 * A failure is a connection error, a timeout, a status `expectStatus` rejects, or a body without
 * `expectBody` (gRPC: any answer but `SERVING` with `grpc-status` 0). An upstream added later is probed at once.
 *
 * Probes use a dedicated undici `Client` per upstream (one keep-alive connection), not the
 * upstream's traffic pool: a probe then measures the upstream, not a queue behind traffic, and
 * traffic never waits behind a probe (Envoy and HAProxy also check on their own connections).
 *
 * @example
 * createBalancer({ upstreams, health: activeHealthCheck({ path: '/healthz', interval: 2_000, unhealthyThreshold: 2 }) })
 * @throws {InvalidOptionError} SWY_ERR_INVALID_OPTION for a bad option
 */
export function activeHealthCheck(options: ActiveHealthCheckOptions = {}): ActiveHealthCheck {
  const p = 'activeHealthCheck()'
  const o = checkObject(options, p)
  rejectUnknownKeys(
    o,
    ['type', 'service', 'path', 'interval', 'timeout', 'expectStatus', 'expectBody', 'healthyThreshold', 'unhealthyThreshold', 'jitter', 'headers'],
    p,
  )
  const type = o.type ?? 'http'
  if (type !== 'http' && type !== 'tcp' && type !== 'grpc') {
    throw new InvalidOptionError(`${p}.type must be 'http', 'tcp' or 'grpc', got ${describeValue(type)}`, { field: `${p}.type` })
  }
  // What only an HTTP probe reads is refused on the others rather than silently ignored.
  const httpOnly = type === 'tcp' ? ['path', 'expectStatus', 'expectBody', 'headers', 'service'] : type === 'grpc' ? ['path', 'expectStatus', 'expectBody'] : ['service']
  for (const key of httpOnly) {
    if (o[key] !== undefined) throw new InvalidOptionError(`${p}.${key} does not apply to ${type} probes`, { field: `${p}.${key}` })
  }
  const service = o.service ?? ''
  if (typeof service !== 'string') throw new InvalidOptionError(`${p}.service must be a string, got ${describeValue(service)}`, { field: `${p}.service` })
  const path = o.path ?? ACTIVE_DEFAULTS.path
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidOptionError(`${p}.path must start with '/', got ${describeValue(path)}`, { field: `${p}.path` })
  }
  const interval = checkNumber(o.interval, `${p}.interval`, ACTIVE_DEFAULTS.interval, { exclusiveMin: true })
  const expect = o.expectStatus
  let passes: (status: number) => boolean
  if (expect === undefined) passes = (s) => s >= 200 && s < 400
  else if (typeof expect === 'function') passes = expect as (s: number) => boolean
  else if (typeof expect === 'number') passes = (s) => s === expect
  else if (Array.isArray(expect) && expect.every((s) => Number.isInteger(s))) {
    const set = new Set(expect as number[])
    passes = (s) => set.has(s)
  } else {
    throw new InvalidOptionError(`${p}.expectStatus must be a status, a list of them, or a function, got ${describeValue(expect)}`, {
      field: `${p}.expectStatus`,
    })
  }
  const body = o.expectBody
  if (body !== undefined && typeof body !== 'string' && !(body instanceof RegExp)) {
    throw new InvalidOptionError(`${p}.expectBody must be a string or a RegExp, got ${describeValue(body)}`, {
      field: `${p}.expectBody`,
    })
  }
  const headers = checkObject(o.headers, `${p}.headers`) as Record<string, string>
  return Object.freeze({
    kind: 'active' as const,
    options: Object.freeze({
      type,
      service,
      path,
      interval,
      timeout: checkNumber(o.timeout, `${p}.timeout`, ACTIVE_DEFAULTS.timeout, { exclusiveMin: true }),
      passes,
      expectBody: body as string | RegExp | undefined,
      healthyThreshold: checkNumber(o.healthyThreshold, `${p}.healthyThreshold`, ACTIVE_DEFAULTS.healthyThreshold, { min: 1, integer: true }),
      unhealthyThreshold: checkNumber(o.unhealthyThreshold, `${p}.unhealthyThreshold`, ACTIVE_DEFAULTS.unhealthyThreshold, { min: 1, integer: true }),
      jitter: checkNumber(o.jitter, `${p}.jitter`, interval / 10),
      headers: { ...headers },
    }),
  })
}

/** What the prober needs of an upstream, and how it reports. */
export interface ProbeTarget {
  readonly id: string
  readonly origin: string
  /** TLS options for an `https:` origin (`ca`, `cert`, `key`, `rejectUnauthorized`), as the upstream's pool uses them. */
  readonly tls?: Readonly<Record<string, unknown>> | undefined
  /** TLS server name for an `https:` origin, as the upstream's pool sends it. */
  readonly servername?: string | undefined
  /**
   * A dispatcher to probe through (an upstream given as a dispatcher): probes go where its
   * requests go. Not closed by the prober; without one, the prober opens its own client.
   */
  readonly dispatcher?: Dispatcher | undefined
  /** Called when the verdict changes: `healthy` false after the failures, true after the passes. */
  onVerdict(healthy: boolean, detail: string): void
}

interface Probed {
  target: ProbeTarget
  /** The HTTP probes' client (none for tcp and grpc probes). */
  client: Dispatcher | undefined
  grpc: GrpcProber | undefined
  timer: unknown
  passes: number
  fails: number
  healthy: boolean
  stopped: boolean
}

/** Runs one active check over a changing set of upstreams. Timers are unref'ed; `close()` stops all. */
export class ActiveProber {
  readonly #options: ResolvedActiveOptions
  readonly #random: () => number
  readonly #targets = new Map<string, Probed>()

  readonly #clock: Clock

  /** `clock` schedules the probes (each probe's own timeout runs on the socket's real time). */
  constructor(check: ActiveHealthCheck, random: () => number = Math.random, clock: Clock = systemClock) {
    this.#options = check.options
    this.#random = random
    this.#clock = clock
  }

  /** Starts probing `target`, with a first probe at once. */
  add(target: ProbeTarget): void {
    const { timeout, type } = this.#options
    const client =
      type !== 'http'
        ? undefined
        : (target.dispatcher ??
          new Client(target.origin, {
            pipelining: 1,
            connect: { ...target.tls, timeout },
            headersTimeout: timeout,
            bodyTimeout: timeout,
          }))
    const grpc = type === 'grpc' ? new GrpcProber(target.origin, target.tls, target.servername) : undefined
    const probed: Probed = { target, client, grpc, timer: undefined, passes: 0, fails: 0, healthy: true, stopped: false }
    this.#targets.set(target.id, probed)
    void this.#probe(probed)
  }

  /** Stops probing one upstream. */
  async remove(id: string): Promise<void> {
    const probed = this.#targets.get(id)
    if (probed === undefined) return
    this.#targets.delete(id)
    probed.stopped = true
    this.#clock.clearTimeout(probed.timer)
    probed.grpc?.close()
    if (probed.client !== undefined && probed.client !== probed.target.dispatcher) await probed.client.destroy()
  }

  async close(): Promise<void> {
    await Promise.all([...this.#targets.keys()].map((id) => this.remove(id)))
  }

  #schedule(probed: Probed): void {
    if (probed.stopped) return
    const { interval, jitter } = this.#options
    probed.timer = this.#clock.setTimeout(() => void this.#probe(probed), interval + this.#random() * jitter)
  }

  async #probe(probed: Probed): Promise<void> {
    const { type, service, headers, timeout } = this.#options
    let ok = false
    let detail: string
    // The probe's deadline runs on the balancer clock (the socket-level timeouts of a probe's own
    // Client stay on real time, as sockets do).
    const deadline = new AbortController()
    const timer = this.#clock.setTimeout(() => deadline.abort(new ProbeTimeoutError(timeout)), timeout)
    try {
      const result =
        type === 'tcp'
          ? await tcpProbe(probed.target.origin, deadline.signal)
          : type === 'grpc'
            ? await probed.grpc!.check(service, headers, deadline.signal)
            : await this.#http(probed, deadline.signal)
      ok = result.ok
      detail = result.detail
    } catch (err) {
      detail = (err as { code?: string }).code ?? (err as Error).message
    } finally {
      this.#clock.clearTimeout(timer)
    }
    if (probed.stopped) return
    if (ok) {
      probed.fails = 0
      probed.passes++
      if (!probed.healthy && probed.passes >= this.#options.healthyThreshold) {
        probed.healthy = true
        probed.target.onVerdict(true, detail)
      }
    } else {
      probed.passes = 0
      probed.fails++
      if (probed.healthy && probed.fails >= this.#options.unhealthyThreshold) {
        probed.healthy = false
        probed.target.onVerdict(false, detail)
      }
    }
    this.#schedule(probed)
  }

  /** An HTTP probe: `GET path`, judged by `expectStatus` and `expectBody`. */
  async #http(probed: Probed, signal: AbortSignal): Promise<ProbeResult> {
    const { path, headers, passes, expectBody } = this.#options
    const res = await probed.client!.request({
      origin: probed.target.origin,
      method: 'GET',
      path,
      headers,
      servername: probed.target.servername, // read by undici's Request, not in its types
      signal,
    } as Dispatcher.RequestOptions)
    if (expectBody === undefined) await res.body.dump()
    const text = expectBody === undefined ? '' : await readLimited(res.body)
    const ok = passes(res.statusCode) && (expectBody === undefined || bodyMatches(text, expectBody))
    return { ok, detail: ok ? `status ${res.statusCode}` : passes(res.statusCode) ? 'unexpected body' : `status ${res.statusCode}` }
  }
}

/** A probe that got no full answer within the check's `timeout`. */
class ProbeTimeoutError extends Error {
  readonly code = 'PROBE_TIMEOUT' // a probe's verdict detail, never thrown to a caller
  constructor(ms: number) {
    super(`no answer within ${ms} ms`)
  }
}

function bodyMatches(text: string, expected: string | RegExp): boolean {
  return typeof expected === 'string' ? text.includes(expected) : expected.test(text)
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= BODY_LIMIT) {
      body.destroy()
      break
    }
  }
  return Buffer.concat(chunks).toString('utf8', 0, Math.min(size, BODY_LIMIT))
}
