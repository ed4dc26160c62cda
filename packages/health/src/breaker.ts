import { checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { EventEmitter } from 'node:events'
import type { Clock } from '@switchyard/strategies'
import CircuitBreaker from 'opossum'
import { systemClock } from './clock.js'

/** Breaker states, as opossum names them. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * Breaker options, passed to opossum (its names and defaults). `timeout` is not one: the
 * balancer's `timeouts` bound each request. Declared here rather than taken from `@types/opossum`,
 * so the public types need nothing beyond this package.
 */
export interface BreakerOptions {
  /**
   * Error percentage over the rolling window at which the breaker opens.
   * @default 50 (opossum)
   */
  errorThresholdPercentage?: number
  /**
   * Time an open breaker waits before it lets a half-open trial through, ms.
   * @default 30_000 (opossum)
   */
  resetTimeout?: number
  /**
   * Length of the rolling window the error percentage is measured over, ms.
   * @default 10_000 (opossum)
   */
  rollingCountTimeout?: number
  /**
   * Buckets the rolling window is divided into.
   * @default 10 (opossum)
   */
  rollingCountBuckets?: number
  /**
   * Requests in the window before the breaker may open at all.
   * @default 0 (opossum)
   */
  volumeThreshold?: number
  /**
   * Let the first window pass without opening (opossum `allowWarmUp`).
   * @default false (opossum)
   */
  allowWarmUp?: boolean
}

const BREAKER_KEYS = [
  'errorThresholdPercentage',
  'resetTimeout',
  'rollingCountTimeout',
  'rollingCountBuckets',
  'volumeThreshold',
  'allowWarmUp',
] as const

/** What the core hears from a breaker. */
export interface BreakerEvents {
  onOpen(): void
  onHalfOpen(): void
  onClose(): void
}

/** Validates breaker options; `false` or undefined means no breaker. Unknown keys are rejected. */
export function normalizeBreaker(input: unknown, path = 'breaker'): BreakerOptions | undefined {
  if (input === undefined || input === false) return undefined
  if (input === true) return {}
  const o = checkObject(input, path)
  rejectUnknownKeys(o, BREAKER_KEYS, path)
  const out: Record<string, number | boolean> = {}
  for (const key of BREAKER_KEYS) {
    const v = o[key]
    if (v === undefined) continue
    if (key === 'allowWarmUp') {
      if (typeof v !== 'boolean') {
        throw new InvalidOptionError(`${path}.${key} must be a boolean, got ${describeValue(v)}`, { field: `${path}.${key}` })
      }
    } else if (typeof v !== 'number' || !(v >= 0) || (key === 'rollingCountBuckets' && !(Number.isInteger(v) && v >= 1))) {
      throw new InvalidOptionError(`${path}.${key} must be a number >= ${key === 'rollingCountBuckets' ? 1 : 0}, got ${describeValue(v)}`, {
        field: `${path}.${key}`,
      })
    }
    out[key] = v
  }
  return out as BreakerOptions
}

const FAILED = Object.assign(new Error('upstream attempt failed'), { code: 'SWY_ERR_UPSTREAM' })
const SUCCEEDED: Promise<undefined> = Promise.resolve(undefined)
const succeed = (ok: boolean): Promise<undefined> => (ok ? SUCCEEDED : Promise.reject(FAILED))
const ignore = () => {}

/** opossum's defaults for the two times the breaker keeps itself (opossum's docs). */
const OPOSSUM_RESET_TIMEOUT = 30_000
const OPOSSUM_ROLLING_COUNT_TIMEOUT = 10_000
const OPOSSUM_ROLLING_COUNT_BUCKETS = 10
/**
 * The longest timer Node allows (2^31 - 1 ms, about 24.8 days). opossum starts its own reset
 * timer whenever it opens; given this, it never fires before the balancer's clock half-opens it.
 */
const NEVER = 2 ** 31 - 1

/**
 * One opossum circuit breaker for one upstream. The balancer, not opossum, sends requests: each
 * finished attempt is recorded with `record(ok)` (an opossum `fire()` whose action settles at
 * once), and opossum's error percentage over its rolling window opens the breaker. An open
 * breaker makes the upstream ineligible; after `resetTimeout` it is half-open and the balancer
 * lets one trial request through, whose outcome closes or re-opens it.
 *
 * Time is the balancer's clock, not opossum's: the rolling window's buckets turn on a clock timer
 * (opossum's `rotateBucketController`), and the reset timeout is a clock timer that half-opens
 * the breaker; opossum keeps the counts and the open/closed decision. opossum's snapshot timer is
 * off (nothing reads it). One exception: `allowWarmUp`'s first window is opossum's own timer.
 */
export class UpstreamBreaker {
  readonly #breaker: CircuitBreaker<[boolean], undefined>
  readonly #events: BreakerEvents
  readonly #clock: Clock
  readonly #resetTimeout: number
  readonly #buckets = new EventEmitter()
  readonly #bucketMs: number
  #bucketTimer: unknown
  #resetTimer: unknown
  /** Half-open by the balancer's clock (opossum itself still says open). */
  #halfOpen = false
  #trialInFlight = false

  /** How long the breaker stays open before its trial, ms (opossum's `resetTimeout`). */
  get resetTimeout(): number {
    return this.#resetTimeout
  }

  constructor(name: string, options: BreakerOptions, events: BreakerEvents, clock: Clock = systemClock) {
    this.#events = events
    this.#clock = clock
    this.#resetTimeout = options.resetTimeout ?? OPOSSUM_RESET_TIMEOUT
    const window = options.rollingCountTimeout ?? OPOSSUM_ROLLING_COUNT_TIMEOUT
    this.#bucketMs = Math.max(1, Math.floor(window / (options.rollingCountBuckets ?? OPOSSUM_ROLLING_COUNT_BUCKETS)))
    this.#breaker = new CircuitBreaker(succeed, {
      ...options,
      name,
      timeout: false,
      resetTimeout: NEVER,
      enableSnapshots: false,
      rotateBucketController: this.#buckets,
    } as CircuitBreaker.Options)
    this.#turnBuckets()
    this.#breaker.on('open', () => this.#opened())
    // Only after NEVER ms open (about 24.8 days) does opossum half-open on its own.
    this.#breaker.on('halfOpen', () => this.#enterHalfOpen())
    this.#breaker.on('close', () => {
      this.#clock.clearTimeout(this.#resetTimer)
      this.#halfOpen = false
      this.#trialInFlight = false
      events.onClose()
    })
  }

  get state(): BreakerState {
    if (this.#halfOpen || this.#breaker.halfOpen) return 'half-open'
    return this.#breaker.opened ? 'open' : 'closed'
  }

  /** Whether a request may be sent now: closed, or half-open with no trial under way. */
  get isAdmitting(): boolean {
    if (this.#breaker.closed) return true
    return (this.#halfOpen || this.#breaker.halfOpen) && !this.#trialInFlight
  }

  /** Marks the half-open trial as sent (call when a request to this upstream starts). */
  noteStart(): void {
    if (this.#halfOpen || this.#breaker.halfOpen) this.#trialInFlight = true
  }

  /**
   * Ends a half-open trial without a verdict: the attempt said nothing about the upstream (the
   * client's doing, or a keep-alive race), so the next request may be the trial.
   */
  abandonTrial(): void {
    this.#trialInFlight = false
  }

  /** Records a finished attempt. */
  record(ok: boolean): void {
    if (this.#halfOpen) {
      // The trial's verdict; opossum is still open, so it hears it as a close or a fresh open.
      this.#halfOpen = false
      if (ok) this.#breaker.close()
      else this.#opened()
      return
    }
    this.#breaker.fire(ok).catch(ignore)
  }

  shutdown(): void {
    this.#clock.clearTimeout(this.#resetTimer)
    this.#clock.clearTimeout(this.#bucketTimer)
    this.#breaker.shutdown()
  }

  #opened(): void {
    this.#trialInFlight = false
    this.#halfOpen = false
    this.#clock.clearTimeout(this.#resetTimer)
    this.#resetTimer = this.#clock.setTimeout(() => this.#enterHalfOpen(), this.#resetTimeout)
    this.#events.onOpen()
  }

  #enterHalfOpen(): void {
    if (this.#halfOpen || this.#breaker.closed) return
    this.#clock.clearTimeout(this.#resetTimer)
    this.#halfOpen = !this.#breaker.halfOpen
    this.#trialInFlight = false
    this.#events.onHalfOpen()
  }

  #turnBuckets(): void {
    this.#bucketTimer = this.#clock.setTimeout(() => {
      this.#buckets.emit('rotate')
      this.#turnBuckets()
    }, this.#bucketMs)
  }
}
