import type { Balancer, ShareChannel, ShareNews } from '@switchyard/core'
import type { Registry } from 'prom-client'
import { type AdminOp, isGatewayMessage, type ToPrimary, type ToWorker } from './cluster-messages.js'
import type { StatusSample } from './status.js'

/** How long a worker waits for the primary's answer to a scrape before answering 503, ms. */
const SCRAPE_TIMEOUT = 5_000

/** What the link reads from the site serving now (a reload swaps it). */
export interface LinkedSite {
  readonly lb: Balancer
  readonly registry: Registry
}

/**
 * A cluster worker's side of the gateway's shared state: the `share` channel its balancers use,
 * admin changes to and from the other workers, its metrics for the primary's aggregation, and
 * its status samples for the fleet's page. One per worker process; each site (a reload builds a
 * new one) attaches itself as the one serving. Nothing here runs per request.
 */
export class WorkerLink {
  readonly #send: (m: ToPrimary) => void
  readonly #receivers = new Set<(news: ShareNews) => void>()
  readonly #fleet = new Set<(sample: StatusSample) => void>()
  readonly #scrapes = new Map<number, { resolve(text: string): void; reject(err: Error): void; timer: NodeJS.Timeout }>()
  #site: LinkedSite | undefined
  #nextScrape = 0

  /** The channel every balancer of this worker shares health on. */
  readonly channel: ShareChannel = {
    send: (news) => this.#post({ sw: 'share', news }),
    subscribe: (receive) => {
      this.#receivers.add(receive)
      return () => this.#receivers.delete(receive)
    },
  }

  constructor(send: (m: ToPrimary) => void, listen: (on: (m: unknown) => void) => void) {
    this.#send = send
    listen((m) => {
      if (isGatewayMessage<ToWorker>(m)) this.#receive(m)
    })
  }

  /** The link of this process when it is a cluster worker with an IPC channel; undefined otherwise. */
  static forWorker(isWorker: boolean): WorkerLink | undefined {
    if (!isWorker || typeof process.send !== 'function') return undefined
    return new WorkerLink(
      (m) => process.send?.(m),
      (on) => process.on('message', on),
    )
  }

  /** The site that serves from now on. The first one asks the primary for the state so far. */
  attach(site: LinkedSite): void {
    const first = this.#site === undefined
    this.#site = site
    if (first) this.#post({ sw: 'hello' })
  }

  /** Tells the other workers (and the primary's prober) about an admin change made here. */
  admin(op: AdminOp): void {
    this.#post({ sw: 'admin', op })
  }

  /** This worker's status sample; the fleet's comes back through {@link onFleet}. */
  sample(sample: StatusSample): void {
    this.#post({ sw: 'sample', sample })
  }

  onFleet(receive: (sample: StatusSample) => void): () => void {
    this.#fleet.add(receive)
    return () => this.#fleet.delete(receive)
  }

  /** The whole gateway's metrics, in Prometheus text, aggregated by the primary. */
  scrape(): Promise<string> {
    const id = this.#nextScrape++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#scrapes.delete(id)
        reject(new Error('the cluster primary did not answer the scrape'))
      }, SCRAPE_TIMEOUT)
      timer.unref()
      this.#scrapes.set(id, { resolve, reject, timer })
      this.#post({ sw: 'scrape', id })
    })
  }

  #post(m: ToPrimary): void {
    try {
      this.#send(m)
    } catch {
      // The channel closed (the primary is going away): this worker goes on with what it knows.
    }
  }

  #receive(m: ToWorker): void {
    if (m.sw === 'share') {
      for (const receive of this.#receivers) receive(m.news)
    } else if (m.sw === 'admin') {
      const lb = this.#site?.lb
      if (lb !== undefined) applyAdminOp(lb, m.op)
    } else if (m.sw === 'collect') {
      const registry = this.#site?.registry
      if (registry === undefined) this.#post({ sw: 'metrics', id: m.id, metrics: [] })
      else void registry.getMetricsAsJSON().then((metrics) => this.#post({ sw: 'metrics', id: m.id, metrics }), () => this.#post({ sw: 'metrics', id: m.id, metrics: [] }))
    } else if (m.sw === 'scraped') {
      const pending = this.#scrapes.get(m.id)
      if (pending === undefined) return
      this.#scrapes.delete(m.id)
      clearTimeout(pending.timer)
      if (m.text !== undefined) pending.resolve(m.text)
      else pending.reject(new Error(m.error ?? 'the scrape failed'))
    } else if (m.sw === 'fleet') {
      for (const receive of this.#fleet) receive(m.sample)
    }
  }
}

/**
 * Applies an admin change made in another worker to this balancer. It was checked where it was
 * made; one that no longer applies here (the upstream already gone, say) is skipped.
 */
export function applyAdminOp(lb: Balancer, op: AdminOp): void {
  try {
    if (op.op === 'add') lb.add(op.upstream as string)
    else if (op.op === 'update') lb.update(op.id, op.change)
    else if (op.op === 'remove') lb.remove(op.id, { drain: op.drain }).catch(() => {})
  } catch {
    // Already applied here, or the upstream is gone: nothing to do.
  }
}
