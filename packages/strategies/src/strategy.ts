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
  /** Cap on in-flight requests; `Infinity` when unlimited. */
  readonly maxConnections: number
  /** Exponentially weighted moving average of response time, ms. */
  readonly ewmaMs: number
}

/** Per-pick context from the core. */
export interface PickContext {
  /** The request's key for hash strategies, from the balancer's key function. */
  key?: string | undefined
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  attempt: number
  /** Ids of upstreams already tried for this request; a strategy must not pick them again. */
  tried: ReadonlySet<string>
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
   * Chooses one of `eligible` (all `up`, already filtered for health and backup rules), skipping
   * ids in `ctx.tried`. Returns `undefined` when none fits.
   */
  pick(eligible: readonly Candidate[], ctx: PickContext): Candidate | undefined
  /** Called when the set of upstreams or their weights change; build tables here, not in `pick`. */
  rebuild?(all: readonly Candidate[]): void
  /**
   * Called when a request to `picked` starts, after `picked.inFlight` counts it. The core changes
   * `inFlight` only together with `onStart` / `onEnd`, so a strategy may cache loads between them.
   */
  onStart?(picked: Candidate, ctx: PickContext): void
  /** Called when a request to `picked` ends, after `picked.inFlight` no longer counts it. */
  onEnd?(picked: Candidate, outcome: Outcome): void
  /**
   * The key function of a hash strategy. When present, the core calls it once per request and
   * passes the result as `ctx.key`.
   */
  readonly key?: KeyFunction
  /**
   * Called when the response head from `picked` is relayed; a returned string is added as a
   * `Set-Cookie` header (used by `stickyCookie()`).
   */
  setCookie?(picked: Candidate, ctx: PickContext): string | undefined
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
