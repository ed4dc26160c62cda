import type { BreakerOptions, HealthCheck } from '@switchyard/health'
import type { ResolvedPassiveOptions } from '@switchyard/health/internal'
import type { ShareChannel } from './share-types.js'
import type { Clock, RequestInfo, Strategy, TrustRule } from '@switchyard/strategies'
import type { Dispatcher, Pool } from 'undici'
import type { ResolvedAdaptive } from './adaptive.js'
import type { ResolvedBuffering } from './buffering.js'
import type { ResolvedCache } from './cache.js'
import type { ResolvedCompress } from './compress.js'
import type { ResolvedMirror } from './mirror.js'
import type { ResponseHead, ResponseInterceptor } from './interceptor-types.js'
import type { ErrorHandler } from './types.js'

/*
 * The options as normalize.ts resolves them: every default filled in, every check passed. The
 * rest of the core reads only these.
 */

export interface ResolvedUpstream {
  readonly id: string
  readonly url: string
  readonly origin: string
  /** The URL's own path, put in front of every request's (`''` for none). */
  readonly basePath: string
  /** HTTP/2 to this upstream; undefined: the balancer's `http2`. */
  readonly http2: boolean | undefined
  readonly weight: number
  readonly backup: boolean
  readonly priority: number
  /** Send the PROXY protocol header, in this version. */
  readonly proxyProtocol: 'v1' | 'v2' | undefined
  readonly zone: string | undefined
  readonly down: boolean
  readonly maxConnections: number
  readonly slowStart: number | undefined
  /** TLS options for the connector (https only). */
  readonly tls: Readonly<Record<string, unknown>> | undefined
  /** The TLS server name every request to this upstream carries (https only); an IP stands for "none". */
  readonly servername: string | undefined
  /** A dispatcher given instead of a URL to pool, if any. */
  readonly dispatcher: Dispatcher | undefined
}

export interface ResolvedOptions {
  readonly upstreams: readonly ResolvedUpstream[]
  /** Upstream entries with `resolve`, unchecked: discovery.ts checks and expands them. */
  readonly resolving: readonly { readonly input: unknown; readonly path: string }[]
  readonly dns: ResolvedDns
  readonly strategy: Strategy
  readonly retry: ResolvedRetry
  /** `hedge.delay`, ms; undefined: no hedging. */
  readonly hedge: number | undefined
  /** `mirror`, checked; undefined: no mirroring. */
  readonly mirror: ResolvedMirror | undefined
  /** `adaptiveConcurrency`, checked; undefined: off. */
  readonly adaptiveConcurrency: ResolvedAdaptive | undefined
  /** `locality`, checked; undefined: no zone-aware routing. */
  readonly locality: { readonly zone: string; readonly minUpstreams: number } | undefined
  /** `compress`, checked; undefined: off. */
  readonly compress: ResolvedCompress | undefined
  /** `cache`, checked; undefined: off. */
  readonly cache: ResolvedCache | undefined
  /** `buffering`, checked; undefined: off. */
  readonly buffering: ResolvedBuffering | undefined
  readonly onResponse: ResolvedInterceptor | undefined
  readonly cost: ((req: RequestInfo) => number) | undefined
  readonly timeouts: {
    readonly connect: number
    readonly headers: number
    readonly body: number
    readonly clientBody: number
    readonly send: number
    readonly tunnelIdle: number
    readonly total: number | undefined
  }
  readonly passive: ResolvedPassiveOptions
  readonly health: readonly HealthCheck[]
  readonly breaker: BreakerOptions | undefined
  /** `share`: the channel to the other balancers over the same upstreams; undefined: none. */
  readonly share: ShareChannel | undefined
  readonly slowStart: number
  readonly panicThreshold: number
  readonly queue: { readonly size: number; readonly timeout: number }
  readonly pool: Pool.Options
  readonly preserveHost: boolean
  readonly xForwarded: boolean
  /** The trust rule of `trustProxy`; `TRUST_NONE` unless set. */
  readonly trust: TrustRule
  readonly underscoresInHeaders: boolean
  readonly clock: Clock
  readonly random: () => number
  /** Lower-case names the handler drops from responses, or undefined when none. */
  readonly hideHeaders: ReadonlySet<string> | undefined
  readonly http2: boolean
  readonly trace: number
  readonly onError: ErrorHandler | undefined
  readonly errors: 'respond' | 'next'
  readonly rewritePath: PathRule | undefined
  readonly requestHeaders: HeaderRule | undefined
  readonly responseHeaders: HeaderRule | undefined
  readonly rewriteLocation: boolean
  readonly cookieDomain: ReadonlyMap<string, string> | undefined
  readonly cookiePath: ReadonlyMap<string, string> | undefined
}


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

/** `onResponse`, resolved. */
export interface ResolvedInterceptor {
  readonly when: ((head: ResponseHead) => boolean) | undefined
  readonly maxBytes: number
  readonly handle: ResponseInterceptor['handle']
}

export interface ResolvedDns {
  readonly servers: readonly string[] | undefined
  readonly minTtl: number
  readonly maxTtl: number
  readonly srvInterval: number
  readonly retryInterval: number
}

/** A resolved header transform: changes a flat `[name, value, …]` array. */
export type HeaderRule = (headers: string[]) => string[]

/** A resolved path transform, and, for the prefix form, its inverse (for `Location`). */
export interface PathRule {
  readonly apply: (path: string) => string
  /** Maps an upstream path back to the client's; undefined when it cannot be inverted (a function). */
  readonly invert: ((path: string) => string | undefined) | undefined
}
