import { checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import CircuitBreaker from 'opossum'

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

/**
 * One opossum circuit breaker for one upstream. The balancer, not opossum, sends requests: each
 * finished attempt is recorded with `record(ok)` (an opossum `fire()` whose action settles at
 * once), and opossum's error percentage over its rolling window opens the breaker. An open
 * breaker makes the upstream ineligible; after `resetTimeout` it is half-open and the balancer
 * lets one trial request through, whose outcome closes or re-opens it.
 */
export class UpstreamBreaker {
  readonly #breaker: CircuitBreaker<[boolean], undefined>
  #trialInFlight = false

  constructor(name: string, options: BreakerOptions, events: BreakerEvents) {
    this.#breaker = new CircuitBreaker(succeed, { ...options, name, timeout: false })
    this.#breaker.on('open', () => {
      this.#trialInFlight = false
      events.onOpen()
    })
    this.#breaker.on('halfOpen', () => events.onHalfOpen())
    this.#breaker.on('close', () => {
      this.#trialInFlight = false
      events.onClose()
    })
  }

  get state(): BreakerState {
    return this.#breaker.opened ? 'open' : this.#breaker.halfOpen ? 'half-open' : 'closed'
  }

  /** Whether a request may be sent now: closed, or half-open with no trial under way. */
  get isAdmitting(): boolean {
    if (this.#breaker.closed) return true
    return this.#breaker.halfOpen && !this.#trialInFlight
  }

  /** Marks the half-open trial as sent (call when a request to this upstream starts). */
  noteStart(): void {
    if (this.#breaker.halfOpen) this.#trialInFlight = true
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
    this.#breaker.fire(ok).catch(ignore)
  }

  shutdown(): void {
    this.#breaker.shutdown()
  }
}
