import { Dispatcher } from 'undici'
import type { SimClock } from './clock.js'
import { type Latency, sample } from './latency.js'

/** A modelled upstream. */
export interface UpstreamModel {
  /** Service time of one request. */
  latency: Latency
  /**
   * Requests served at once (a process with this many workers); more wait in a FIFO queue.
   * @default Infinity
   */
  concurrency?: number
  /**
   * Share of requests answered with a 500.
   * @default 0
   */
  errorRate?: number
  /** @default 1 */
  weight?: number
  /** The balancer's `priority` level for it. @default 0 */
  priority?: number
  /** The balancer's `backup` flag for it. @default false */
  backup?: boolean
}

/** The legacy undici handler callbacks the balancer's exchange implements. */
interface Handler {
  onConnect(abort: (reason?: Error) => void): void
  onHeaders(status: number, headers: Buffer[], resume: () => void, text: string): boolean
  onData(chunk: Buffer): boolean
  onComplete(trailers: Buffer[]): void
  onError(err: Error): void
}

interface Job {
  handler: Handler
  options: Dispatcher.DispatchOptions
}

const NO_HEADERS: Buffer[] = []
const noop = () => {}
/** What a crashed upstream's connection attempt ends in. */
const REFUSED = Object.assign(new Error('connect ECONNREFUSED (simulated)'), { code: 'ECONNREFUSED' })

/**
 * A simulated upstream: an undici `Dispatcher` that serves each request after a modelled latency
 * on the virtual clock, `concurrency` at a time, FIFO beyond that. Its state can change during a
 * run: `slowFactor` (latency multiplier), `crashed` (connections refused), `errorRate`.
 */
export class SimUpstream extends Dispatcher {
  readonly id: string
  readonly weight: number
  slowFactor = 1
  crashed = false
  errorRate: number
  /** Requests being served now, and waiting. */
  active = 0
  readonly #waiting: Job[] = []
  #head = 0
  /** Requests served (answered) since the start. */
  served = 0
  readonly #model: UpstreamModel
  readonly #clock: SimClock
  readonly #random: () => number
  /** Requests served at once; a change (an event) applies to requests started from then on. */
  concurrency: number
  readonly #onServed: (u: SimUpstream, options: Dispatcher.DispatchOptions) => void

  constructor(id: string, model: UpstreamModel, clock: SimClock, random: () => number, onServed: (u: SimUpstream, options: Dispatcher.DispatchOptions) => void) {
    super()
    this.id = id
    this.weight = model.weight ?? 1
    this.errorRate = model.errorRate ?? 0
    this.#model = model
    this.#clock = clock
    this.#random = random
    this.concurrency = model.concurrency ?? Number.POSITIVE_INFINITY
    this.#onServed = onServed
  }

  /** Requests here now: served and waiting (what a join-shortest-queue oracle reads). */
  get load(): number {
    return this.active + this.#waiting.length - this.#head
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = handler as unknown as Handler
    if (this.crashed) {
      this.#clock.setTimeout(() => h.onError(REFUSED), 0.1) // a refused connection takes a moment
      return true
    }
    const job: Job = { handler: h, options }
    if (this.active < this.concurrency) this.#start(job)
    else this.#waiting.push(job)
    return true
  }

  #start(job: Job): void {
    this.active++
    job.handler.onConnect(noop)
    const ms = sample(this.#model.latency, this.#random) * this.slowFactor
    this.#clock.setTimeout(() => this.#finish(job), ms)
  }

  #finish(job: Job): void {
    this.active--
    this.served++
    this.#onServed(this, job.options)
    const status = this.errorRate > 0 && this.#random() < this.errorRate ? 500 : 200
    job.handler.onHeaders(status, [], noop, '') // a fresh array: a sticky strategy appends its cookie
    job.handler.onComplete(NO_HEADERS)
    if (this.#head < this.#waiting.length && this.active < this.concurrency) {
      const next = this.#waiting[this.#head++]!
      if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
        this.#waiting.splice(0, this.#head)
        this.#head = 0
      }
      this.#start(next)
    }
  }

  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}
