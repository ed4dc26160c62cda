import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Balancer, RequestTrace } from '@switchyard/core'
import { addressMatcher, stripMapped } from '@switchyard/strategies'
import type { AdminOp } from './cluster-messages.js'
import type { WorkerStatus } from './fleet-status.js'
import { STATUS_HTML } from './status-html.js'

/** The status page's options (config `status`). */
export interface GatewayStatus {
  /** Where the page is served; `events` (server-sent events) and `data` (JSON) live under it. Default `/__switchyard/`. */
  path?: string
  /**
   * Client addresses, CIDR ranges or ipaddr.js range names that may see the page (it names the
   * upstreams, which the gateway otherwise hides). Default `['loopback']`.
   */
  allow?: string[]
  /** How often the numbers are sampled and pushed, ms. Default 1 000. */
  intervalMs?: number
  /**
   * Turns on the page's actions (mark an upstream down or up, change its weight, drain it), each
   * a `POST <path>actions` with `Authorization: Bearer <token>`. Off unless a token is set (or
   * `STATUS_TOKEN`): the page is read-only.
   */
  token?: string
}

/** An action the page (or anyone holding the token) may take on an upstream. */
export interface StatusAction {
  upstream: string
  action: 'down' | 'up' | 'weight' | 'drain'
  /** For `weight`. */
  weight?: number
}

/** One upstream in a status sample. */
export interface UpstreamStatus {
  id: string
  url: string
  state: string
  reason: string
  breaker: string
  weight: number
  backup: boolean
  inFlight: number
  queued: number
  /** Attempts finished per second over the last interval. */
  rate: number
  /** Share of those that failed (0-1). */
  errorRate: number
  /** Latency percentiles of the attempts of the last interval, ms; 0 when there were none. */
  p50: number
  p99: number
}

/** One sample: totals and every upstream, as the page and `data` get it. */
export interface StatusSample {
  at: number
  strategy: string
  /** Whether the page's actions are on (a token is set). */
  actions: boolean
  requests: number
  errors: number
  active: number
  panic: boolean
  /** Requests per second over the last interval. */
  rate: number
  upstreams: UpstreamStatus[]
  /** With `WORKERS` > 1: each worker's own totals (the rest of the sample is the whole gateway's). */
  workers?: WorkerStatus[]
}

/**
 * With `WORKERS` > 1: where a worker's samples go (the cluster primary) and the fleet's merged
 * samples come from; the page then shows the fleet.
 */
export interface StatusFleet {
  sample(sample: StatusSample): void
  onFleet(receive: (sample: StatusSample) => void): () => void
  /** An action taken here, for the other workers. */
  admin(op: AdminOp): void
}

/** Samples kept for the charts: a minute at the default interval. */
const HISTORY = 60
/** Latencies kept per upstream per interval for the percentiles (a reservoir past that). */
const RESERVOIR = 2_048

/**
 * The live status page, as HAProxy's stats page and the nginx Plus dashboard: every upstream with
 * its state, breaker, in-flight, request and error rates and latency percentiles, pushed by
 * server-sent events every interval, with charts of the last minute. Read-only.
 */
export class StatusPage {
  readonly path: string
  readonly #lb: Balancer
  readonly #allowed: (address: string) => boolean
  readonly #timer: NodeJS.Timeout
  readonly #clients = new Set<ServerResponse>()
  /** Per upstream this second: a reservoir sample of its attempts' times, and how many it saw. */
  readonly #latencies = new Map<string, { samples: number[]; seen: number }>()
  readonly #history: StatusSample[] = []
  readonly #token: Buffer | undefined
  readonly #fleet: StatusFleet | undefined
  readonly #unfleet: () => void
  #last: { at: number; requests: number; upstreams: Map<string, { requests: number; failures: number }> }
  readonly #onEnd = (t: RequestTrace): void => {
    const attempts = t.attempts
    for (let k = 0; k < attempts.length; k++) {
      const a = attempts[k]!
      let l = this.#latencies.get(a.upstream)
      if (l === undefined) this.#latencies.set(a.upstream, (l = { samples: [], seen: 0 }))
      const n = ++l.seen
      if (l.samples.length < RESERVOIR) l.samples.push(a.ms)
      else {
        const i = Math.floor(Math.random() * n)
        if (i < RESERVOIR) l.samples[i] = a.ms
      }
    }
  }

  constructor(lb: Balancer, options: GatewayStatus = {}, fleet?: StatusFleet) {
    this.#lb = lb
    this.#fleet = fleet
    this.#unfleet = fleet === undefined ? () => {} : fleet.onFleet((sample) => this.#push(sample))
    this.path = options.path ?? '/__switchyard/'
    if (!this.path.startsWith('/') || !this.path.endsWith('/')) throw new TypeError(`status.path must start and end with '/', got ${JSON.stringify(this.path)}`)
    this.#allowed = addressMatcher(options.allow ?? ['loopback'], 'status.allow')
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16)) {
      throw new TypeError('status.token must be a string of at least 16 characters')
    }
    this.#token = options.token === undefined ? undefined : Buffer.from(options.token)
    this.#last = this.#counters()
    lb.on('request:end', this.#onEnd)
    this.#timer = setInterval(() => this.#tick(), options.intervalMs ?? 1_000)
    this.#timer.unref()
  }

  /** Answers the page's own paths; false for every other path (the caller proxies it). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? ''
    if (!url.startsWith(this.path)) return false
    if (!this.#allowed(stripMapped(req.socket.remoteAddress ?? ''))) {
      res.writeHead(403, { 'content-type': 'text/plain' })
      res.end('forbidden\n')
      return true
    }
    const rest = url.slice(this.path.length).split('?')[0]
    if (rest === '') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(STATUS_HTML)
    } else if (rest === 'events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
      res.write(`retry: 2000\n\n`)
      for (const sample of this.#history) res.write(`data: ${JSON.stringify(sample)}\n\n`)
      this.#clients.add(res)
      res.once('close', () => this.#clients.delete(res))
    } else if (rest === 'actions' && req.method === 'POST') {
      this.#act(req, res)
    } else if (rest === 'data') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ history: this.#history }))
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found\n')
    }
    return true
  }

  /** `POST <path>actions`: checks the token, then applies the action to the balancer. */
  #act(req: IncomingMessage, res: ServerResponse): void {
    const answer = (status: number, body: object): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body))
    }
    const token = this.#token
    if (token === undefined) {
      answer(404, { error: 'the status page is read-only: set status.token to turn its actions on' })
      return
    }
    const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      answer(401, { error: 'a valid bearer token is needed' })
      return
    }
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
      if (body.length > 4_096) req.destroy()
    })
    req.on('end', () => {
      const [status, reply] = this.#apply(body)
      answer(status, reply)
    })
  }

  /** Applies one action (a JSON body): the status and body to answer with. */
  #apply(body: string): [number, object] {
    let action: StatusAction
    try {
      action = JSON.parse(body) as StatusAction
    } catch {
      return [400, { error: 'the body must be JSON: { upstream, action, weight? }' }]
    }
    try {
      if (action.action === 'drain') {
        if (!this.#lb.upstreams.some((u) => u.id === action.upstream)) return [404, { error: `no upstream has the id ${JSON.stringify(action.upstream)}` }]
        this.#lb.remove(action.upstream, { drain: true }).catch(() => {}) // it leaves at once; the drain finishes in the background
        this.#fleet?.admin({ op: 'remove', id: action.upstream, drain: true })
        return [202, { ok: true }]
      }
      const change = action.action === 'down' ? { down: true } : action.action === 'up' ? { down: false } : action.action === 'weight' ? { weight: action.weight } : undefined
      if (change === undefined) return [400, { error: `unknown action ${JSON.stringify(action.action)}` }]
      const upstream = this.#lb.update(action.upstream, change)
      this.#fleet?.admin({ op: 'update', id: action.upstream, change: change as { weight?: number; down?: boolean } })
      return [200, { ok: true, upstream }]
    } catch (err) {
      const e = err as { code?: string; message?: string }
      return [e.code === 'SWY_ERR_UNKNOWN_UPSTREAM' ? 404 : 400, { error: e.message, code: e.code }]
    }
  }

  /** The samples kept, oldest first. */
  get history(): readonly StatusSample[] {
    return this.#history
  }

  close(): void {
    clearInterval(this.#timer)
    this.#unfleet()
    this.#lb.off('request:end', this.#onEnd)
    for (const res of this.#clients) res.end()
    this.#clients.clear()
  }

  #counters() {
    const upstreams = new Map<string, { requests: number; failures: number }>()
    for (const u of this.#lb.upstreams) upstreams.set(u.id, { requests: u.requests, failures: u.failures })
    return { at: performance.now(), requests: this.#lb.stats().requests, upstreams }
  }

  #tick(): void {
    const now = this.#counters()
    const seconds = Math.max(1e-3, (now.at - this.#last.at) / 1000)
    const stats = this.#lb.stats()
    const upstreams: UpstreamStatus[] = stats.upstreams.map((u) => {
      const before = this.#last.upstreams.get(u.id) ?? { requests: 0, failures: 0 }
      const done = u.requests - before.requests
      const failed = u.failures - before.failures
      const latencies = (this.#latencies.get(u.id)?.samples ?? []).sort((a, b) => a - b)
      return {
        id: u.id,
        url: u.url,
        state: u.state,
        reason: u.reason,
        breaker: u.breaker,
        weight: u.weight,
        backup: u.backup,
        inFlight: u.inFlight,
        queued: u.queued,
        rate: done / seconds,
        errorRate: done === 0 ? 0 : failed / done,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
      }
    })
    this.#latencies.clear()
    const sample: StatusSample = {
      at: Date.now(),
      strategy: stats.strategy,
      actions: this.#token !== undefined,
      requests: stats.requests,
      errors: stats.errors,
      active: stats.active,
      panic: stats.panic,
      rate: (now.requests - this.#last.requests) / seconds,
      upstreams,
    }
    this.#last = now
    if (this.#fleet !== undefined) this.#fleet.sample(sample) // the fleet's merged sample comes back to #push
    else this.#push(sample)
  }

  /** Keeps a sample for the charts and pushes it to the page's clients. */
  #push(sample: StatusSample): void {
    this.#history.push(sample)
    if (this.#history.length > HISTORY) this.#history.shift()
    const frame = `data: ${JSON.stringify(sample)}\n\n`
    for (const res of this.#clients) res.write(frame)
  }
}

/** The q-quantile of sorted values (nearest rank); 0 for none. */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}
