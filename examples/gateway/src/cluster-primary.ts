import cluster, { type Worker } from 'node:cluster'
import { type Balancer, createBalancer, type ShareNews } from '@switchyard/core'
import { AggregatorRegistry } from 'prom-client'
import { applyAdminOp } from './cluster-link.js'
import { type AdminOp, isGatewayMessage, type MetricsJson, type ToPrimary, type ToWorker } from './cluster-messages.js'
import type { GatewayConfig } from './config.js'
import { mergeSamples } from './fleet-status.js'
import { siteBalancerOptions, splitHealth } from './site.js'
import type { StatusSample } from './status.js'

/** How long a scrape waits for every worker's metrics before it uses the last ones it has of the slow ones, ms. */
const COLLECT_TIMEOUT = 1_000
/** A worker that dies sooner than this after it started is forked again only after this pause (no fork loop), ms. */
const RESPAWN_PAUSE = 1_000
/** How long `stop()` lets the workers drain before the primary exits anyway, ms. */
const STOP_GRACE = 5_000

/**
 * The gateway's cluster primary, nginx's master process with its `zone` (shared memory) done over
 * Node's IPC channel: it forks the workers (and forks a worker that dies again), runs the active
 * probes once for all of them, and relays what one worker decides to the others —
 *
 * - health verdicts (`share` news: a passive `max_fails`, an outlier ejection, a breaker opening,
 *   each for as long as it lasts) and passive failures, so `maxFails` counts across workers;
 * - admin changes (the admin API, the status page's actions), replayed to a worker forked later;
 * - `/metrics`: a scrape that reaches any worker is answered with every worker's metrics, merged by
 *   prom-client's `AggregatorRegistry.aggregate` (sums, or `max`/`average` where a metric says);
 * - the status page: every worker's sample each interval, merged into the fleet's.
 *
 * A change reaches the other workers in one IPC hop through the primary (well under a millisecond
 * on an idle machine; a busy worker reads it on its next event-loop turn). Workers decide every
 * request on their own with what they know: the primary is never on a request's path.
 */
export class ClusterPrimary {
  #config: GatewayConfig
  readonly #demo: readonly string[]
  #prober: Balancer | undefined
  /** Verdicts in force, by `sender|upstream|source`: replayed to a worker that starts later. */
  readonly #verdicts = new Map<string, { news: ShareNews; until: number | undefined }>()
  /** Admin changes since the start or the last reload, in order: replayed the same way. */
  #admin: AdminOp[] = []
  /** Each live worker's last metrics; the counters and histograms of workers that exited. */
  readonly #metrics = new Map<number, MetricsJson>()
  readonly #retired: MetricsJson[] = []
  readonly #samples = new Map<number, { pid: number; sample: StatusSample }>()
  readonly #collections = new Map<number, { pending: Set<number>; done(): void }>()
  readonly #started = new Map<number, number>()
  #nextCollection = 0
  #fleetTimer: NodeJS.Timeout | undefined
  #stopping = false

  constructor(config: GatewayConfig, demoUpstreams: readonly string[]) {
    this.#config = config
    this.#demo = demoUpstreams
  }

  start(): void {
    cluster.on('message', (worker: Worker, m: unknown) => {
      if (isGatewayMessage<ToPrimary>(m)) this.#receive(worker, m)
    })
    cluster.on('exit', (worker: Worker) => this.#exited(worker))
    for (let i = 0; i < this.#config.workers; i++) this.#fork()
    this.#prober = this.#buildProber(this.#config)
    const interval = (this.#config.status === false ? undefined : this.#config.status?.intervalMs) ?? 1_000
    this.#fleetTimer = setInterval(() => this.#mergeStatus(), interval)
    this.#fleetTimer.unref()
  }

  /** `SIGHUP`: the new config's probes replace the old; verdicts and admin changes start afresh, as the workers' balancers do. */
  async reload(): Promise<void> {
    try {
      this.#config = (this.#config.reread ?? (() => this.#config))()
    } catch {
      // The workers read it too and report the error; the old probes go on.
    }
    const old = this.#prober
    this.#verdicts.clear()
    this.#admin = []
    for (const w of this.#workers()) w.process.kill('SIGHUP')
    this.#prober = this.#buildProber(this.#config)
    await old?.close()
  }

  /** `SIGTERM`, `SIGINT`: the workers drain and exit, then the primary. */
  stop(exit: (code: number) => void = process.exit): void {
    this.#stopping = true
    clearInterval(this.#fleetTimer)
    void this.#prober?.close()
    for (const w of this.#workers()) w.kill('SIGTERM')
    setTimeout(() => exit(0), STOP_GRACE).unref()
    const check = () => {
      if (this.#workers().length === 0) exit(0)
    }
    cluster.on('exit', check)
    check()
  }

  #workers(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w?.isConnected() === true)
  }

  #fork(): void {
    const env = this.#demo.length === 0 ? {} : { SWITCHYARD_DEMO_UPSTREAMS: this.#demo.join(',') }
    const w = cluster.fork(env)
    this.#started.set(w.id, Date.now())
  }

  /** Active probes, once for every worker: a balancer that takes no traffic and only probes, and says what it finds. */
  #buildProber(config: GatewayConfig): Balancer | undefined {
    try {
      const options = siteBalancerOptions(config, this.#demo)
      const { probes } = splitHealth(options.health)
      if (probes.length === 0) return undefined
      const channel = { send: (news: ShareNews) => this.#relay('primary', news, undefined), subscribe: () => () => {} }
      const lb = createBalancer({ upstreams: options.upstreams, health: probes, passive: false, http2: options.http2, pool: options.pool, share: channel })
      for (const op of this.#admin) applyAdminOp(lb, op)
      return lb
    } catch (err) {
      console.error(`switchyard gateway: the primary's health probes did not start: ${(err as Error).message}`)
      return undefined
    }
  }

  #receive(worker: Worker, m: ToPrimary): void {
    if (m.sw === 'hello') this.#replay(worker)
    else if (m.sw === 'share') this.#relay(`w${worker.id}`, m.news, worker)
    else if (m.sw === 'admin') {
      this.#admin.push(m.op)
      if (this.#prober !== undefined) applyAdminOp(this.#prober, m.op)
      this.#broadcast({ sw: 'admin', op: m.op }, worker)
    } else if (m.sw === 'scrape') {
      this.#collect().then(
        (text) => this.#send(worker, { sw: 'scraped', id: m.id, text }),
        (err: Error) => this.#send(worker, { sw: 'scraped', id: m.id, error: err.message }),
      )
    } else if (m.sw === 'metrics') {
      this.#metrics.set(worker.id, m.metrics)
      const c = this.#collections.get(m.id)
      c?.pending.delete(worker.id)
      if (c?.pending.size === 0) c.done()
    } else if (m.sw === 'sample') this.#samples.set(worker.id, { pid: worker.process.pid ?? 0, sample: m.sample })
  }

  /** One sender's news: kept while in force (for workers forked later) and passed to every other worker. */
  #relay(from: string, news: ShareNews, origin: Worker | undefined): void {
    const stamped = { ...news, from }
    if (news.type !== 'failure') {
      const key = `${from}|${news.upstream}|${news.by}`
      if (news.type === 'down') this.#verdicts.set(key, { news: stamped, until: news.ms === undefined ? undefined : Date.now() + news.ms })
      else this.#verdicts.delete(key)
    }
    this.#broadcast({ sw: 'share', news: stamped }, origin)
  }

  /** A worker (new, or forked again) is ready: the admin changes so far, then the verdicts in force. */
  #replay(worker: Worker): void {
    for (const op of this.#admin) this.#send(worker, { sw: 'admin', op })
    const now = Date.now()
    for (const [key, { news, until }] of this.#verdicts) {
      if (until !== undefined && until <= now) this.#verdicts.delete(key)
      else this.#send(worker, { sw: 'share', news: until === undefined ? news : { ...news, ms: until - now } as ShareNews })
    }
  }

  /** Every worker's metrics now (or the last of a worker that does not answer in time), merged. */
  #collect(): Promise<string> {
    const id = this.#nextCollection++
    const workers = this.#workers()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), COLLECT_TIMEOUT)
      const done = () => {
        clearTimeout(timer)
        this.#collections.delete(id)
        resolve()
      }
      this.#collections.set(id, { pending: new Set(workers.map((w) => w.id)), done })
      if (workers.length === 0) done()
      for (const w of workers) this.#send(w, { sw: 'collect', id })
    }).then(() => AggregatorRegistry.aggregate([...this.#metrics.values(), ...this.#retired]).metrics())
  }

  #mergeStatus(): void {
    if (this.#samples.size === 0) return
    const sample = mergeSamples([...this.#samples].map(([worker, { pid, sample }]) => ({ worker, pid, sample })))
    this.#broadcast({ sw: 'fleet', sample }, undefined)
  }

  #exited(worker: Worker): void {
    this.#samples.delete(worker.id)
    // Its counts stay in the gateway's totals, so a scrape never goes backwards when a worker is replaced.
    const last = this.#metrics.get(worker.id)
    // prom-client's MetricType is a type-only enum; its values are these strings.
    const kept = new Set<unknown>(['counter', 'histogram'])
    if (last !== undefined) this.#retired.push(last.filter((m) => kept.has(m.type)))
    this.#metrics.delete(worker.id)
    for (const c of this.#collections.values()) {
      c.pending.delete(worker.id)
      if (c.pending.size === 0) c.done()
    }
    if (this.#stopping) return
    const lived = Date.now() - (this.#started.get(worker.id) ?? 0)
    this.#started.delete(worker.id)
    console.error(`switchyard gateway: worker ${worker.process.pid} exited; starting another`)
    if (lived < RESPAWN_PAUSE) setTimeout(() => this.#stopping || this.#fork(), RESPAWN_PAUSE)
    else this.#fork()
  }

  #broadcast(m: ToWorker, except: Worker | undefined): void {
    for (const w of this.#workers()) if (w !== except) this.#send(w, m)
  }

  #send(w: Worker, m: ToWorker): void {
    try {
      w.send(m)
    } catch {
      // The worker is exiting; 'exit' cleans up after it.
    }
  }
}
