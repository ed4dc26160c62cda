import { checkObject, describeValue, InvalidOptionError } from '@switchyard/strategies'
import CircuitBreaker from 'opossum'

/** Breaker states, as opossum names them. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * Breaker options: opossum's, passed through. The ones that matter here, with opossum's defaults:
 * `errorThresholdPercentage` (50), `resetTimeout` (30_000 ms before a half-open trial),
 * `rollingCountTimeout` (10_000 ms window), `volumeThreshold` (0 requests before it may open).
 * `timeout` is ignored: the balancer's `timeouts` bound each request.
 */
export type BreakerOptions = Omit<CircuitBreaker.Options, 'timeout'>

/** What the core hears from a breaker. */
export interface BreakerEvents {
  onOpen(): void
  onHalfOpen(): void
  onClose(): void
}

/** Validates breaker options; `false` or undefined means no breaker. */
export function normalizeBreaker(input: unknown, path = 'breaker'): BreakerOptions | undefined {
  if (input === undefined || input === false) return undefined
  if (input === true) return {}
  const o = checkObject(input, path)
  for (const key of ['errorThresholdPercentage', 'resetTimeout', 'rollingCountTimeout', 'volumeThreshold'] as const) {
    const v = o[key]
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0))) {
      throw new InvalidOptionError(`${path}.${key} must be a number >= 0, got ${describeValue(v)}`, { field: `${path}.${key}` })
    }
  }
  const { timeout: _ignored, ...rest } = o as CircuitBreaker.Options
  return rest
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
