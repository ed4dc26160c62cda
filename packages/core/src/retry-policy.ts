import { checkNumber, checkObject, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'

/** The retry options, resolved. */
export interface ResolvedRetry {
  readonly attempts: number
  readonly methods: ReadonlySet<string>
  /** Statuses that send an idempotent request to the next upstream; empty: none. */
  readonly on: ReadonlySet<number>
  /** Full-jitter backoff before a retry on a status, ms. */
  readonly backoff: { readonly base: number; readonly max: number }
  /** Longest `Retry-After` honoured, ms; a longer one is relayed to the client instead. */
  readonly maxRetryAfter: number
  /** Retries in progress may be at most this share of the requests in progress ... */
  readonly budget: number
  /** ... or this many, whichever is more. */
  readonly minConcurrency: number
}

/**
 * The defaults, with where they come from: Envoy's retry backoff (base 25 ms, max 10 × base),
 * its retry budget (`budget_percent` 20%, `min_retry_concurrency` 3). `maxRetryAfter` 1 s: a
 * proxy that waits longer for a `Retry-After` holds its client longer than the upstream asked
 * anyone to wait for the answer itself.
 */
export const RETRY_DEFAULTS = Object.freeze({
  attempts: 3, // attempts in all; Envoy allows 1 retry, nginx tries every server; 3 rides out one dead and one flapping upstream
  methods: Object.freeze(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']), // RFC 9110 9.2.2
  backoffBase: 25,
  backoffMax: 250,
  maxRetryAfter: 1_000,
  budget: 0.2,
  minConcurrency: 3,
})

/** Validates `retry` (`false`: one attempt only). */
export function normalizeRetry(input: unknown): ResolvedRetry {
  if (input === false) {
    return { attempts: 1, methods: new Set(), on: new Set(), backoff: { base: 0, max: 0 }, maxRetryAfter: 0, budget: 0, minConcurrency: 0 }
  }
  const o = checkObject(input, 'retry')
  rejectUnknownKeys(o, ['attempts', 'methods', 'on', 'backoff', 'maxRetryAfter', 'budget'], 'retry')
  const methods = o.methods ?? RETRY_DEFAULTS.methods
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) {
    throw new InvalidOptionError(`retry.methods must be an array of method names, got ${describeValue(methods)}`, { field: 'retry.methods' })
  }
  const on = o.on ?? []
  if (!Array.isArray(on) || on.some((s) => !Number.isInteger(s) || s < 400 || s > 599)) {
    throw new InvalidOptionError(`retry.on must be a list of 4xx/5xx statuses, got ${describeValue(on)}`, { field: 'retry.on' })
  }
  const backoff = checkObject(o.backoff, 'retry.backoff')
  rejectUnknownKeys(backoff, ['base', 'max'], 'retry.backoff')
  const base = checkNumber(backoff.base, 'retry.backoff.base', RETRY_DEFAULTS.backoffBase, { min: 0 })
  const budget = o.budget === false ? undefined : checkObject(o.budget, 'retry.budget')
  if (budget !== undefined) rejectUnknownKeys(budget, ['percent', 'minConcurrency'], 'retry.budget')
  return {
    attempts: checkNumber(o.attempts, 'retry.attempts', RETRY_DEFAULTS.attempts, { min: 1, integer: true }),
    methods: new Set((methods as string[]).map((m) => m.toUpperCase())),
    on: new Set(on as number[]),
    backoff: { base, max: checkNumber(backoff.max, 'retry.backoff.max', Math.max(base, RETRY_DEFAULTS.backoffMax), { min: base }) },
    maxRetryAfter: checkNumber(o.maxRetryAfter, 'retry.maxRetryAfter', RETRY_DEFAULTS.maxRetryAfter, { min: 0 }),
    budget:
      budget === undefined
        ? Number.POSITIVE_INFINITY
        : checkNumber(budget.percent, 'retry.budget.percent', RETRY_DEFAULTS.budget * 100, { min: 0, max: 100 }) / 100,
    minConcurrency:
      budget === undefined ? 0 : checkNumber(budget.minConcurrency, 'retry.budget.minConcurrency', RETRY_DEFAULTS.minConcurrency, { min: 0, integer: true }),
  }
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): uniform in [0, min(max, base × 2^(n-1))). */
export function backoffDelay(retry: number, backoff: ResolvedRetry['backoff'], random: () => number): number {
  const cap = Math.min(backoff.max, backoff.base * 2 ** Math.max(0, retry - 1))
  return random() * cap
}

/** A `Retry-After` header among raw response headers, in ms from `now` (epoch ms); undefined when absent or unreadable. */
export function retryAfterMs(raw: readonly Buffer[], now: number): number | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== 11 || name.toString('latin1').toLowerCase() !== 'retry-after') continue
    const value = raw[i + 1]!.toString('latin1').trim()
    if (/^\d+$/.test(value)) return Number(value) * 1000
    const date = Date.parse(value)
    return Number.isNaN(date) ? undefined : Math.max(0, date - now)
  }
  return undefined
}

/** Options of `hedge`. */
export interface HedgeOptions {
  /**
   * How long the first attempt may go without a response head before a second attempt goes to
   * another upstream, ms. A good value is about the upstreams' p95 latency (Dean and Barroso, "The
   * Tail at Scale": hedging at the 95th percentile cut the 99.9th by 4× for 2% more requests).
   */
  delay: number
}

/** `hedge`, resolved: the delay in ms, or undefined when off. */
export function normalizeHedge(input: unknown, retry: ResolvedRetry): number | undefined {
  if (input === undefined || input === false) return undefined
  const o = checkObject(input, 'hedge')
  rejectUnknownKeys(o, ['delay'], 'hedge')
  if (o.delay === undefined) throw new InvalidOptionError('hedge.delay is required (ms)', { field: 'hedge.delay' })
  const delay = checkNumber(o.delay, 'hedge.delay', 0, { exclusiveMin: true })
  if (retry.attempts < 2) {
    throw new InvalidOptionError('hedge needs retry.attempts of 2 or more: the hedged attempt is one of them', { field: 'hedge' })
  }
  return delay
}
