import { checkNumber, checkObject, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'

/** Options of passive failure accounting (nginx `max_fails` / `fail_timeout`). */
export interface PassiveOptions {
  /**
   * Failures within `failTimeout` that make an upstream unavailable for `failTimeout`. `0` turns
   * passive accounting off.
   * @default 1 (nginx default)
   */
  maxFails?: number
  /**
   * The window in which failures are counted, and how long an upstream then stays unavailable, ms.
   * @default 10_000 (nginx default, 10 s)
   */
  failTimeout?: number
  /**
   * Upstream response statuses that count as failures, beside connection errors and timeouts
   * (which always count). nginx counts none by default (`proxy_next_upstream error timeout`).
   * @default []
   */
  failOnStatus?: readonly number[]
  /**
   * gRPC statuses (the `grpc-status` trailer, or header of a trailers-only answer) that count as
   * failures: a gRPC error arrives on HTTP 200, so without this every gRPC answer is a success.
   * `[14]` (UNAVAILABLE) is the usual choice; `[4, 13, 14]` adds DEADLINE_EXCEEDED and INTERNAL.
   * @default []
   */
  failOnGrpcStatus?: readonly number[]
}

/** Passive options with every default filled in. */
export interface ResolvedPassiveOptions {
  readonly maxFails: number
  readonly failTimeout: number
  readonly failOnStatus: ReadonlySet<number>
  readonly failOnGrpcStatus: ReadonlySet<number>
}

export const PASSIVE_DEFAULTS = Object.freeze({
  maxFails: 1, // nginx default max_fails=1
  failTimeout: 10_000, // ms; nginx default fail_timeout=10s
})

/** Validates passive options; `false` is the same as `{ maxFails: 0 }`. */
export function normalizePassive(input: unknown, path = 'passive'): ResolvedPassiveOptions {
  if (input === false) return { maxFails: 0, failTimeout: PASSIVE_DEFAULTS.failTimeout, failOnStatus: new Set(), failOnGrpcStatus: new Set() }
  const o = checkObject(input, path)
  rejectUnknownKeys(o, ['maxFails', 'failTimeout', 'failOnStatus', 'failOnGrpcStatus'], path)
  const failOnStatus = o.failOnStatus ?? []
  if (!Array.isArray(failOnStatus) || failOnStatus.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new InvalidOptionError(`${path}.failOnStatus must be an array of HTTP status codes`, {
      field: `${path}.failOnStatus`,
    })
  }
  const grpc = o.failOnGrpcStatus ?? []
  if (!Array.isArray(grpc) || grpc.some((s) => !Number.isInteger(s) || s < 1 || s > 16)) {
    throw new InvalidOptionError(`${path}.failOnGrpcStatus must be an array of gRPC status codes (1 to 16)`, {
      field: `${path}.failOnGrpcStatus`,
    })
  }
  return {
    maxFails: checkNumber(o.maxFails, `${path}.maxFails`, PASSIVE_DEFAULTS.maxFails, { integer: true }),
    failTimeout: checkNumber(o.failTimeout, `${path}.failTimeout`, PASSIVE_DEFAULTS.failTimeout, {
      exclusiveMin: true,
    }),
    failOnStatus: new Set(failOnStatus as number[]),
    failOnGrpcStatus: new Set(grpc as number[]),
  }
}

/**
 * nginx's passive health for one upstream (ngx_http_upstream_round_robin.c): failures are counted
 * in a window of `failTimeout` that starts at the first failure; the `maxFails`-th failure in the
 * window makes the upstream unavailable for `failTimeout`. A success resets the count. Time is
 * passed in, so the unit is deterministic.
 */
export class PassiveHealth {
  readonly #options: ResolvedPassiveOptions
  #fails = 0
  #windowStart = 0
  #downUntil = 0

  constructor(options: ResolvedPassiveOptions) {
    this.#options = options
  }

  get isEnabled(): boolean {
    return this.#options.maxFails > 0
  }

  /** Failures counted in the current window. */
  get fails(): number {
    return this.#fails
  }

  /** Whether a response with this status counts as a failure. */
  isFailureStatus(status: number): boolean {
    return this.#options.failOnStatus.size !== 0 && this.#options.failOnStatus.has(status)
  }

  /** Whether gRPC statuses are judged at all (`failOnGrpcStatus` is not empty). */
  get judgesGrpc(): boolean {
    return this.#options.failOnGrpcStatus.size !== 0
  }

  /** Whether a `grpc-status` value counts as a failure. */
  isFailureGrpcStatus(status: number): boolean {
    return this.#options.failOnGrpcStatus.has(status)
  }

  /**
   * Records a failure at `now` (ms). Returns the time until which the upstream is unavailable when
   * this failure trips it, otherwise 0.
   */
  recordFailure(now: number): number {
    const { maxFails, failTimeout } = this.#options
    if (maxFails === 0) return 0
    if (this.#fails === 0 || now - this.#windowStart > failTimeout) {
      this.#fails = 0
      this.#windowStart = now
    }
    this.#fails++
    if (this.#fails >= maxFails) {
      this.#fails = 0
      this.#downUntil = now + failTimeout
      return this.#downUntil
    }
    return 0
  }

  /** Records a success: the failure count starts again. */
  recordSuccess(): void {
    this.#fails = 0
  }

  /** Whether the upstream may take traffic at `now` as far as passive accounting goes. */
  isAvailable(now: number): boolean {
    return now >= this.#downUntil
  }
}
