/** States an upstream can be in. Only `up` upstreams are handed to a strategy. */
export type UpstreamState = 'up' | 'down' | 'draining'

/**
 * What a strategy sees of an upstream: a read-only view. A strategy never sees a pool, a socket
 * or a request.
 */
export interface Candidate {
  /** Unique id (default: the URL's origin). */
  readonly id: string
  /** The upstream's base URL. */
  readonly url: string
  /**
   * A small integer slot, unique among the upstreams of one balancer and reused after removal.
   * Strategies index per-upstream state arrays by it, which keeps `pick` free of map lookups.
   */
  readonly index: number
  /** Configured weight, a positive integer. */
  readonly weight: number
  /** True for a backup upstream (takes traffic only when no primary is eligible). */
  readonly backup: boolean
  readonly state: UpstreamState
  /** Requests in flight to this upstream now. */
  readonly inFlight: number
  /**
   * Work in flight to this upstream: the sum of the costs of its requests in flight (the
   * balancer's `cost` option: tokens, bytes, expected work). Each request costs 1 without a
   * `cost`, so it equals `inFlight` then; absent in a hand-made candidate means `inFlight`.
   * Least-load strategies (`leastConnections`, `powerOfTwo`, `peakEwma`) balance it.
   */
  readonly load?: number
  /** Cap on in-flight requests; `Infinity` when unlimited. */
  readonly maxConnections: number
  /** Exponentially weighted moving average of response time, ms. */
  readonly ewmaMs: number
}

/** Per-pick context from the core. Valid only during the `pick` call it is passed to. */
export interface PickContext {
  /** The request's affinity key (from {@link Affinity.key}); `undefined` when it has none. */
  key?: string | undefined
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  attempt: number
  /**
   * The core's verdict on a candidate for this attempt: false for one already tried for the
   * request, or one that cannot take it now (at its cap, its breaker testing, held back by its
   * slow-start ramp). A strategy returns the candidate it prefers among those `accept` approves,
   * or `undefined` when it approves none (Pingora's `select_with`). The core owns the rules; a
   * strategy only orders. Cheap, and may be called more than once for one candidate.
   */
  accept(c: Candidate): boolean
}

/**
 * Session affinity: how a strategy ties a request to an upstream. The core calls `key` once per
 * request and hands the result to `pick` as `ctx.key`.
 */
export interface Affinity {
  /** The request's key: a client address, a header, a cookie's value. */
  readonly key: KeyFunction
  /**
   * Called when the response head from `picked` is relayed, with the request's key; a returned
   * string is added as a `Set-Cookie` header (used by `stickyCookie()`).
   */
  setCookie?(picked: Candidate, key: string | undefined): string | undefined
  /**
   * Called when the response head from `picked` is relayed, before `setCookie`, with the
   * `Set-Cookie` values the upstream sent and the request's key: how `stickyLearn()` learns the
   * sessions the application starts. The core reads the upstream's cookies only for a strategy
   * that has this hook.
   */
  learn?(picked: Candidate, setCookies: readonly string[], key: string | undefined): void
}

/** How one request to an upstream ended. */
export interface Outcome {
  /** True when a response was received and relayed (any status). */
  ok: boolean
  /** The upstream's status code, when a response started. */
  status?: number | undefined
  /** Time from dispatch to the end of the response or the error, ms. */
  latencyMs: number
  /** A `SWY_ERR_*` or foreign error code when `ok` is false. */
  errorCode?: string | undefined
  /**
   * False when the attempt says nothing about the upstream: the client's or the caller's doing (a
   * bad request, an abort, a stall) or the balancer's (a keep-alive race, a closed pool). A strategy
   * that learns from outcomes (latency, errors) must skip these; in-flight bookkeeping still applies.
   * @default true
   */
  judged?: boolean
}

/** What a key function sees of a request. */
export interface RequestInfo {
  readonly method: string
  /** Path and query, as sent: `/users/7?tab=posts`. */
  readonly path: string
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  /** The client's address (`::ffff:` prefix removed); `''` on the dispatcher path. */
  readonly remoteAddress: string
}

/** Maps a request to the key a hash strategy hashes; `undefined` when the request has none. */
export type KeyFunction = (info: RequestInfo) => string | undefined

/**
 * A balancing strategy: a plain object made by a factory. `pick` is synchronous, never throws
 * for "nobody eligible" (it returns `undefined`), and does no I/O.
 */
export interface Strategy {
  /** Shown in stats and errors: `'round-robin'`. */
  readonly name: string
  /**
   * Chooses one of `eligible` (all `up`, already filtered for health and backup rules) that
   * `ctx.accept` approves. Returns `undefined` when none fits.
   */
  pick(eligible: readonly Candidate[], ctx: PickContext): Candidate | undefined
  /** Called when the set of upstreams or their weights change; build tables here, not in `pick`. */
  rebuild?(all: readonly Candidate[]): void
  /**
   * Called when a request to `picked` starts, after `picked.inFlight` counts it. The core changes
   * `inFlight` only together with `onStart` / `onEnd`, so a strategy may cache loads between them.
   */
  onStart?(picked: Candidate): void
  /** Called when a request to `picked` ends, after `picked.inFlight` no longer counts it. */
  onEnd?(picked: Candidate, outcome: Outcome): void
  /** Session affinity of a hash or sticky strategy; absent for the others. */
  readonly affinity?: Affinity
}

/** Injected sources of randomness and time, so tests can be deterministic. */
export interface StrategyDeps {
  /**
   * Returns a float in [0, 1).
   * @default Math.random
   */
  random?: () => number
  /**
   * Returns a monotonic time in ms.
   * @default performance.now
   */
  now?: () => number
}
