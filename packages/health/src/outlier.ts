import { checkNumber, checkObject, rejectUnknownKeys } from '@switchyard/strategies'

/** Options of {@link outlierDetection}. Every duration is in ms; defaults are Envoy's. */
export interface OutlierDetectionOptions {
  /**
   * Consecutive 5xx answers (connection errors and timeouts count as 5xx) that eject an upstream;
   * `0` turns this rule off.
   * @default 5 (Envoy consecutive_5xx)
   */
  consecutive5xx?: number
  /**
   * Consecutive gateway failures (502, 503, 504, connection errors, timeouts) that eject an
   * upstream; `0` turns this rule off.
   * @default 5 (Envoy consecutive_gateway_failure)
   */
  consecutiveGatewayFailure?: number
  /**
   * How often ejections are reviewed: expired ones end, and the ejection count of an upstream
   * that stayed in decreases by one.
   * @default 10_000 (Envoy interval)
   */
  interval?: number
  /**
   * Ejection time of a first ejection; the n-th ejection in a row lasts n × this, up to
   * `maxEjectionTime`.
   * @default 30_000 (Envoy base_ejection_time)
   */
  baseEjectionTime?: number
  /**
   * Longest ejection.
   * @default 300_000 (Envoy max_ejection_time)
   */
  maxEjectionTime?: number
  /**
   * Most upstreams ejected at once, in percent of all; at least one may always be ejected, as in
   * Envoy.
   * @default 10 (Envoy max_ejection_percent)
   */
  maxEjectionPercent?: number
  /**
   * Envoy's success-rate ejection, reviewed every `interval`: among the upstreams that served at
   * least `requestVolume` requests in the interval, when there are at least `minimumHosts` of them,
   * an upstream whose success rate (answers below 500 over all; connection errors and timeouts are
   * failures) is below mean − `stdevFactor` × standard deviation is ejected, within
   * `maxEjectionPercent`. `false` turns it off; `true` is the defaults.
   * @default { minimumHosts: 5, requestVolume: 100, stdevFactor: 1.9 } (Envoy success_rate_minimum_hosts,
   * success_rate_request_volume, success_rate_stdev_factor 1900 / 1000)
   */
  successRate?: boolean | SuccessRateOptions
  /**
   * Envoy's failure-percentage ejection, reviewed every `interval`: among the upstreams that served
   * at least `requestVolume` requests in the interval, when there are at least `minimumHosts` of
   * them, an upstream whose failures (answers of 500 and above, connection errors, timeouts) are
   * `threshold` percent or more of its answers is ejected, within `maxEjectionPercent`. Unlike the
   * success-rate rule it needs no fleet to compare with, so it works with two or three upstreams.
   * Off by default (as Envoy's `enforcing_failure_percentage` 0); `true` is the defaults.
   * @default false; `true` = { threshold: 85, minimumHosts: 2, requestVolume: 50 }
   */
  failurePercentage?: boolean | FailurePercentageOptions
}

/** Options of Envoy's failure-percentage ejection; see {@link OutlierDetectionOptions.failurePercentage}. */
export interface FailurePercentageOptions {
  /** Failures, in percent of an upstream's answers in the interval, that eject it. @default 85 (Envoy failure_percentage_threshold) */
  threshold?: number
  /**
   * Upstreams with enough requests needed for the rule to run.
   * @default 2 (Envoy's failure_percentage_minimum_hosts is 5; 2 lets a pair use it, and a fleet of one has nowhere else to send traffic)
   */
  minimumHosts?: number
  /** Requests an upstream must serve in an interval to be judged. @default 50 (Envoy failure_percentage_request_volume) */
  requestVolume?: number
}

export interface ResolvedFailurePercentageOptions {
  readonly threshold: number
  readonly minimumHosts: number
  readonly requestVolume: number
}

/** Options of Envoy's success-rate ejection; see {@link OutlierDetectionOptions.successRate}. */
export interface SuccessRateOptions {
  /** Upstreams with enough requests needed for the rule to run. @default 5 */
  minimumHosts?: number
  /** Requests an upstream must serve in an interval to be judged. @default 100 */
  requestVolume?: number
  /** How many standard deviations below the mean ejects. @default 1.9 */
  stdevFactor?: number
}

export interface ResolvedSuccessRateOptions {
  readonly minimumHosts: number
  readonly requestVolume: number
  readonly stdevFactor: number
}

export interface ResolvedOutlierOptions {
  readonly consecutive5xx: number
  readonly consecutiveGatewayFailure: number
  readonly interval: number
  readonly baseEjectionTime: number
  readonly maxEjectionTime: number
  readonly maxEjectionPercent: number
  readonly successRate: ResolvedSuccessRateOptions | false
  readonly failurePercentage: ResolvedFailurePercentageOptions | false
}

/** An outlier detector made by {@link outlierDetection}, for the balancer's `health` option. */
export interface OutlierDetection {
  readonly kind: 'outlier'
  readonly options: ResolvedOutlierOptions
}

export const OUTLIER_DEFAULTS = Object.freeze({
  consecutive5xx: 5, // Envoy consecutive_5xx
  consecutiveGatewayFailure: 5, // Envoy consecutive_gateway_failure
  interval: 10_000, // ms; Envoy interval
  baseEjectionTime: 30_000, // ms; Envoy base_ejection_time
  maxEjectionTime: 300_000, // ms; Envoy max_ejection_time
  maxEjectionPercent: 10, // %; Envoy max_ejection_percent
  successRate: Object.freeze({
    minimumHosts: 5, // Envoy success_rate_minimum_hosts
    requestVolume: 100, // Envoy success_rate_request_volume
    stdevFactor: 1.9, // Envoy success_rate_stdev_factor (1900, in thousandths)
  }),
  failurePercentage: Object.freeze({
    threshold: 85, // %; Envoy failure_percentage_threshold
    minimumHosts: 2, // Envoy failure_percentage_minimum_hosts is 5: a pair of upstreams gets the rule here
    requestVolume: 50, // Envoy failure_percentage_request_volume
  }),
})

/**
 * Envoy-style outlier ejection: an upstream that answers `consecutive5xx` 5xx in a row, or
 * `consecutiveGatewayFailure` gateway failures in a row, is ejected (`upstream:down`, reason
 * `outlier`) for `baseEjectionTime × ejections in a row` (capped at `maxEjectionTime`), unless
 * `maxEjectionPercent` of the upstreams are ejected already. Reviews run every `interval`, and
 * with them Envoy's success-rate rule (see `successRate`) and, when asked for, its
 * failure-percentage rule (see `failurePercentage`).
 *
 * @example
 * createBalancer({ upstreams, health: outlierDetection({ consecutive5xx: 3, baseEjectionTime: 10_000 }) })
 * @throws {InvalidOptionError} SWY_ERR_INVALID_OPTION for a bad option
 */
export function outlierDetection(options: OutlierDetectionOptions = {}): OutlierDetection {
  const p = 'outlierDetection()'
  const o = checkObject(options, p)
  rejectUnknownKeys(o, Object.keys(OUTLIER_DEFAULTS), p)
  const d = OUTLIER_DEFAULTS
  return Object.freeze({
    kind: 'outlier' as const,
    options: Object.freeze({
      consecutive5xx: checkNumber(o.consecutive5xx, `${p}.consecutive5xx`, d.consecutive5xx, { integer: true }),
      consecutiveGatewayFailure: checkNumber(o.consecutiveGatewayFailure, `${p}.consecutiveGatewayFailure`, d.consecutiveGatewayFailure, { integer: true }),
      interval: checkNumber(o.interval, `${p}.interval`, d.interval, { exclusiveMin: true }),
      baseEjectionTime: checkNumber(o.baseEjectionTime, `${p}.baseEjectionTime`, d.baseEjectionTime, { exclusiveMin: true }),
      maxEjectionTime: checkNumber(o.maxEjectionTime, `${p}.maxEjectionTime`, d.maxEjectionTime, { exclusiveMin: true }),
      maxEjectionPercent: checkNumber(o.maxEjectionPercent, `${p}.maxEjectionPercent`, d.maxEjectionPercent, { max: 100 }),
      successRate: resolveSuccessRate(o.successRate, `${p}.successRate`),
      failurePercentage: resolveFailurePercentage(o.failurePercentage, `${p}.failurePercentage`),
    }),
  })
}

function resolveSuccessRate(value: unknown, field: string): ResolvedSuccessRateOptions | false {
  if (value === false) return false
  const o = checkObject(value === undefined || value === true ? {} : value, field)
  const d = OUTLIER_DEFAULTS.successRate
  rejectUnknownKeys(o, Object.keys(d), field)
  return Object.freeze({
    minimumHosts: checkNumber(o.minimumHosts, `${field}.minimumHosts`, d.minimumHosts, { integer: true, min: 1 }),
    requestVolume: checkNumber(o.requestVolume, `${field}.requestVolume`, d.requestVolume, { integer: true, min: 1 }),
    stdevFactor: checkNumber(o.stdevFactor, `${field}.stdevFactor`, d.stdevFactor),
  })
}

function resolveFailurePercentage(value: unknown, field: string): ResolvedFailurePercentageOptions | false {
  if (value === undefined || value === false) return false
  const o = checkObject(value === true ? {} : value, field)
  const d = OUTLIER_DEFAULTS.failurePercentage
  rejectUnknownKeys(o, Object.keys(d), field)
  return Object.freeze({
    threshold: checkNumber(o.threshold, `${field}.threshold`, d.threshold, { max: 100 }),
    minimumHosts: checkNumber(o.minimumHosts, `${field}.minimumHosts`, d.minimumHosts, { integer: true, min: 1 }),
    requestVolume: checkNumber(o.requestVolume, `${field}.requestVolume`, d.requestVolume, { integer: true, min: 1 }),
  })
}

/** Per-upstream outlier state. */
export interface OutlierHost {
  consecutive5xx: number
  consecutiveGateway: number
  /** Ejections in a row (Envoy's ejection multiplier). */
  ejections: number
  /** When the current ejection ends (ms), or 0 when not ejected. */
  ejectedUntil: number
  /** Answers in the current interval, for the success-rate rule. */
  requests: number
  /** Of those, the successes (status below 500). */
  successes: number
}

export function newOutlierHost(): OutlierHost {
  return { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedUntil: 0, requests: 0, successes: 0 }
}

/**
 * The decisions, on injected time, so they are testable with fake clocks. The core keeps the
 * hosts, calls `record` per response and `review` every `interval`.
 */
export class OutlierDetector {
  readonly options: ResolvedOutlierOptions

  constructor(check: OutlierDetection) {
    this.options = check.options
  }

  /**
   * Records one outcome: `status` of the answer, or 0 for a connection error or timeout.
   * Returns true when the host should be ejected now (the caller checks nothing else).
   * `ejectedNow` counts the hosts ejected at the moment; it is called only when a rule trips, so
   * the per-answer cost stays O(1).
   */
  record(host: OutlierHost, status: number, now: number, ejectedNow: () => number, total: number): boolean {
    if (host.ejectedUntil !== 0) return false
    const is5xx = status === 0 || status >= 500
    const isGateway = status === 0 || status === 502 || status === 503 || status === 504
    host.requests++
    if (!is5xx) host.successes++
    host.consecutive5xx = is5xx ? host.consecutive5xx + 1 : 0
    host.consecutiveGateway = isGateway ? host.consecutiveGateway + 1 : 0
    const { consecutive5xx, consecutiveGatewayFailure } = this.options
    const tripped =
      (consecutive5xx > 0 && host.consecutive5xx >= consecutive5xx) ||
      (consecutiveGatewayFailure > 0 && host.consecutiveGateway >= consecutiveGatewayFailure)
    if (!tripped || !this.mayEject(ejectedNow(), total)) return false
    this.#eject(host, now)
    return true
  }

  #eject(host: OutlierHost, now: number): void {
    host.ejections++
    host.ejectedUntil = now + this.ejectionTime(host.ejections)
    host.consecutive5xx = 0
    host.consecutiveGateway = 0
  }

  /**
   * The rate rules, run once per `interval` after {@link review}: Envoy's success-rate rule ejects
   * the hosts whose success rate in the interval is below mean − stdevFactor × standard deviation
   * (population, as Envoy) of the hosts with at least `requestVolume` answers, when there are
   * `minimumHosts` of them; then the failure-percentage rule ejects the hosts whose failures are at
   * least `threshold` percent of their answers, on the same conditions with its own numbers. Both
   * within `maxEjectionPercent`, lowest rate first. Starts the next interval's counts. Returns the
   * positions in `hosts` ejected now.
   */
  reviewRates(hosts: readonly OutlierHost[], now: number): number[] {
    const ejected: number[] = []
    let out = -1
    const eject = (candidates: number[]) => {
      if (out === -1) out = hosts.reduce((n, h) => n + (h.ejectedUntil !== 0 ? 1 : 0), 0)
      candidates.sort((a, b) => rate(hosts[a]!) - rate(hosts[b]!))
      for (const i of candidates) {
        if (hosts[i]!.ejectedUntil !== 0) continue
        if (!this.mayEject(out, hosts.length)) break
        this.#eject(hosts[i]!, now)
        ejected.push(i)
        out++
      }
    }
    const sr = this.options.successRate
    if (sr !== false) {
      const judged = judge(hosts, sr.requestVolume)
      if (judged.length >= sr.minimumHosts) {
        let sum = 0
        for (const i of judged) sum += rate(hosts[i]!)
        const mean = sum / judged.length
        let squares = 0
        for (const i of judged) squares += (rate(hosts[i]!) - mean) ** 2
        const threshold = mean - sr.stdevFactor * Math.sqrt(squares / judged.length)
        eject(judged.filter((i) => rate(hosts[i]!) < threshold))
      }
    }
    const fp = this.options.failurePercentage
    if (fp !== false) {
      const judged = judge(hosts, fp.requestVolume)
      if (judged.length >= fp.minimumHosts) eject(judged.filter((i) => (1 - rate(hosts[i]!)) * 100 >= fp.threshold))
    }
    for (const h of hosts) {
      h.requests = 0
      h.successes = 0
    }
    return ejected
  }

  /** Ejection time of the n-th ejection in a row. */
  ejectionTime(ejections: number): number {
    return Math.min(this.options.baseEjectionTime * ejections, this.options.maxEjectionTime)
  }

  /** Whether one more of `total` may be ejected when `ejected` already are (at least one always may). */
  mayEject(ejected: number, total: number): boolean {
    return ejected === 0 || ejected < Math.floor((total * this.options.maxEjectionPercent) / 100)
  }

  /**
   * The periodic review of one host. Returns true when its ejection ends now. A host that stayed
   * in for a whole interval has its ejection count lowered by one (Envoy decrements the
   * multiplier the same way).
   */
  review(host: OutlierHost, now: number): boolean {
    if (host.ejectedUntil !== 0) {
      if (now < host.ejectedUntil) return false
      host.ejectedUntil = 0
      return true
    }
    if (host.ejections > 0) host.ejections--
    return false
  }
}

/** A host's success rate in the interval. */
function rate(h: OutlierHost): number {
  return h.successes / h.requests
}

/** The hosts in with at least `volume` answers in the interval. */
function judge(hosts: readonly OutlierHost[], volume: number): number[] {
  const out: number[] = []
  for (let i = 0; i < hosts.length; i++) {
    const h = hosts[i]!
    if (h.ejectedUntil === 0 && h.requests >= volume) out.push(i)
  }
  return out
}
