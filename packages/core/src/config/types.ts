import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BreakerOptions, HealthCheck, PassiveOptions } from '@switchyard/health'
import type { Clock, RequestInfo, Strategy, SwitchyardError, TrustProxy } from '@switchyard/strategies'
import type { Pool } from 'undici'
import type { AdaptiveConcurrencyOptions } from './adaptive.js'
import type { BufferingOptions } from './buffering.js'
import type { CacheOptions } from './cache.js'
import type { CompressOptions } from './compress.js'
import type { HeaderMap, ResponseInterceptor } from './interceptor-types.js'
import type { ShareChannel } from './share-types.js'
import type { HedgeOptions, MirrorOptions } from './traffic-types.js'
import type { DnsOptions, UpstreamOptions } from './upstream-types.js'

/*
 * Every public option of the balancer, as `createBalancer()` takes it: the contract users write
 * against (its names are fixed in the design; options may gain fields). Defaults are in
 * defaults.ts, checks in normalize.ts; the upstream's own options are in upstream-types.ts. The
 * node:http types are named here for `onError`'s signature only (no code of node:http runs here).
 */

/** `onError`: answers one of the balancer's own errors on the handler path. */
export type ErrorHandler = (error: SwitchyardError, req: IncomingMessage, res: ServerResponse) => void

export interface RetryOptions {
  /**
   * Attempts in all, the first included, each on an upstream not yet tried for the request
   * (nginx `proxy_next_upstream_tries`). `1` turns retries off.
   * @default 3
   */
  attempts?: number
  /**
   * Methods that may be sent again after they reached an upstream (and only when they had no
   * request body). A request that never reached an upstream (connection refused, connect timeout)
   * is always retried, whatever its method.
   * @default ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'] (idempotent methods, RFC 9110 9.2.2)
   */
  methods?: readonly string[]
  /**
   * Response statuses that send the request to the next upstream instead of relaying the answer:
   * `[502, 503, 504]`, or with `429`. Only for `methods`, a replayable body, attempts left and an
   * untried upstream eligible; otherwise the answer is relayed as it came. The discarded answer is
   * read to its end (its connection stays reusable). A `Retry-After` (429, 503) is waited out when
   * it is at most `maxRetryAfter`, else the answer is relayed.
   * @default [] (nginx `proxy_next_upstream error timeout`: errors only)
   */
  on?: readonly number[]
  /**
   * Wait before a retry on a status: full jitter, uniform in [0, min(max, base × 2^(n-1))) ms.
   * Retries after an error (nothing or a broken answer came back) go to the next upstream at once.
   * @default { base: 25, max: 250 } (Envoy's retry back-off)
   */
  backoff?: { base?: number; max?: number }
  /**
   * Longest `Retry-After` honoured before retrying, ms.
   * @default 1_000
   */
  maxRetryAfter?: number
  /**
   * Envoy's retry budget: retries in progress may be at most `percent` of the requests in
   * progress, or `minConcurrency`, whichever is more; past it the failure is answered, not
   * retried, so a failing fleet is not hit with a retry storm. Retries of requests that never
   * reached an upstream (connection refused) are not counted: they add no load to the failing one.
   * `false` turns the budget off.
   * @default { percent: 20, minConcurrency: 3 } (Envoy)
   */
  budget?: { percent?: number; minConcurrency?: number } | false
}

/** Timeouts, each in ms. */
export interface TimeoutOptions {
  /**
   * Time to open a connection to an upstream. A connect timeout answers 504 (after retries).
   * @default 5_000 (Envoy's default connect_timeout)
   */
  connect?: number
  /**
   * Time from sending the request to receiving the response headers. Answers 504.
   * @default 60_000 (nginx proxy_read_timeout)
   */
  headers?: number
  /**
   * Longest pause between two chunks of the response body; past it the response is cut.
   * @default 60_000 (nginx proxy_read_timeout)
   */
  body?: number
  /**
   * Longest pause between two reads of the request body from the client (nginx
   * `client_body_timeout`). Past it, the upload ends: the client gets 408 (when nothing was relayed
   * yet), the upstream request is aborted and its connection released. Not counted against the
   * upstream. A pause the upstream causes (it stopped reading) is not the client's and does not count.
   * @default 60_000 (nginx client_body_timeout)
   */
  clientBody?: number
  /**
   * Longest time a client may leave the response unread while the proxy has 64 KiB waiting for it
   * (nginx `send_timeout`). Past it, the client connection is closed and the upstream request aborted.
   * For an upgraded connection (a WebSocket tunnel): longest time either side may leave bytes
   * unread (a full socket buffer); past it the tunnel is closed.
   * @default 60_000 (nginx send_timeout)
   */
  send?: number
  /**
   * An upgraded connection (a WebSocket tunnel) with no bytes either way for this long is closed,
   * freeing its upstream slot (nginx closes one after `proxy_read_timeout` without data). Keep
   * WebSockets alive through it with pings, as nginx users do.
   * @default 60_000 (nginx proxy_read_timeout)
   */
  tunnelIdle?: number
  /**
   * A deadline for the whole request, across attempts, queue waits and retry back-offs: past it
   * a request not yet answered gets 504 (`SWY_ERR_UPSTREAM_TIMEOUT`) and one being relayed is
   * cut. Runs on the balancer clock.
   * @default none
   */
  total?: number
}

/** The wait queue for upstreams with `maxConnections`. */
export interface QueueOptions {
  /**
   * Requests that may wait per upstream; one more answers 503 (`SWY_ERR_QUEUE_FULL`).
   * @default 1_000
   */
  size?: number
  /**
   * Longest wait in the queue, ms; past it the request answers 503 (`SWY_ERR_QUEUE_TIMEOUT`).
   * @default 60_000 (nginx Plus `queue` default timeout)
   */
  timeout?: number
}

/** Options of {@link createBalancer}. */
export interface BalancerOptions {
  /** The upstreams: URL strings or {@link UpstreamOptions}. At least one. */
  upstreams: ReadonlyArray<string | UpstreamOptions>
  /**
   * How to pick an upstream.
   * @default roundRobin() (smooth weighted round robin, as nginx)
   */
  strategy?: Strategy
  /** Retry policy, or `false` for a single attempt. */
  retry?: RetryOptions | false
  /**
   * Hedged requests (opt-in): when the first attempt has no response head after `delay` ms, a
   * second one goes to another upstream that can take it at once; the first head wins and the
   * other attempt is aborted (not counted against its upstream). Only for `retry.methods` with no
   * request body (or one held in memory), at most one hedge per request; the hedge is one of
   * `retry.attempts` and, once out, counts in the retry budget. A racer that fails, or answers a
   * `retry.on` status, while the other is out drops out and the other goes on.
   * @default none
   */
  hedge?: HedgeOptions | false
  /**
   * Request mirroring (opt-in; nginx `mirror`, Envoy request mirror policies): a copy of chosen
   * requests goes to `mirror.to`, fire-and-forget, its answer dropped; it never delays or fails
   * the client's request. See {@link MirrorOptions}.
   * @default none
   */
  mirror?: MirrorOptions | false
  /**
   * Adaptive concurrency (Envoy's adaptive concurrency filter, its gradient controller): each
   * upstream gets a concurrency limit that follows its latency against its measured minimum, so an
   * overloaded upstream gets fewer requests before it fails; past it, requests go elsewhere or
   * queue, then 503. `true` for Envoy's defaults. See `AdaptiveConcurrencyOptions`.
   * @default off
   */
  adaptiveConcurrency?: AdaptiveConcurrencyOptions | boolean
  /**
   * Zone-aware routing (Envoy's): this balancer runs in `zone`, and keeps its requests on the
   * upstreams of that zone (their `zone`) while the zone has at least its share of the up
   * upstreams; when fewer are up, the local share falls in proportion and the rest goes to the
   * other zones. Off for lists of fewer than `minUpstreams` (Envoy's min_cluster_size, 6).
   * @default off
   */
  locality?: { zone: string; minUpstreams?: number }
  /**
   * Response compression on `lb.handler` (nginx `gzip`, `brotli`): brotli, zstd where the runtime
   * has it, or gzip, as the client's `Accept-Encoding` weighs them, for compressible types above a
   * minimum size, streaming. `true` for the defaults. See `CompressOptions`.
   * @default off
   */
  compress?: CompressOptions | boolean
  /**
   * An HTTP cache in front of the upstreams (nginx `proxy_cache`), on undici's cache interceptor
   * and stores: RFC 9111 freshness, revalidation, `Vary`, `no-store` and `private` respected, one
   * store for every upstream. `true` for a 64 MiB memory store. See `CacheOptions`.
   * @default off
   */
  cache?: CacheOptions | boolean
  /**
   * Buffering for slow clients on `lb.handler` (nginx `proxy_buffering`): the upstream's body is
   * read at the upstream's pace into memory, then a temporary file, and fed to the client at its
   * own, so a slow client no longer holds an upstream connection. `true` for the defaults. See
   * `BufferingOptions`.
   * @default off
   */
  buffering?: BufferingOptions | boolean
  /**
   * A buffered response interceptor (opt-in), for the rare case that must read a body: a 200 that
   * carries an error (report it with `lb.report`), a field to redact. The responses `when`
   * selects (all with a body by default; never HEAD, 1xx, 204, 304 or an upgrade) are read whole,
   * up to `maxBytes`, and `handle` may change status, headers and body before the client gets
   * them; every other response streams. Costs a copy of each body it selects, and the client waits
   * for the whole body before its first byte.
   * @default none
   */
  onResponse?: ResponseInterceptor
  /**
   * Cost hints: what one request weighs (tokens, bytes, expected work), from the request as a key
   * function sees it. Least-load strategies (`leastConnections`, `powerOfTwo`, `peakEwma`) then
   * balance the summed cost in flight (`load`) instead of the request count, for backends whose
   * requests differ a hundredfold. A value that is not a finite number ≥ 0 (or a throw) counts as
   * 1, so a hint never fails a request. Called once per request.
   * @default every request costs 1
   */
  cost?: (req: RequestInfo) => number
  /** DNS discovery settings, for upstreams with `resolve` (see {@link DnsOptions}). */
  dns?: DnsOptions
  /** Connect, headers and body timeouts. */
  timeouts?: TimeoutOptions
  /** Passive failure accounting (nginx `max_fails`/`fail_timeout`), or `false` to turn it off. */
  passive?: PassiveOptions | false
  /**
   * Health checks: `activeHealthCheck(...)` and/or `outlierDetection(...)`, one or an array.
   * @default none
   */
  health?: HealthCheck | readonly HealthCheck[]
  /**
   * Shares health with other balancers over the same upstreams (cluster workers): this one's
   * verdicts (passive, active, outlier, breaker) and passive failures go out on the channel, and
   * theirs take effect here. See {@link ShareChannel}. @default none
   */
  share?: ShareChannel
  /**
   * One opossum circuit breaker per upstream with these options (`true` for opossum's defaults),
   * or `false`. Off by default: passive accounting already gives nginx's behaviour, and a breaker
   * adds a rolling error-rate rule on top.
   * @default false
   */
  breaker?: BreakerOptions | boolean
  /**
   * Slow start, ms: an upstream added or back from down ramps from 10% to its full share of
   * traffic over this time (HAProxy `slowstart`). 0 turns it off.
   * @default 0
   */
  slowStart?: number
  /**
   * Panic threshold, percent (Envoy `healthy_panic_threshold`): when fewer than this share of the
   * primary upstreams are up, traffic is balanced over all of them, up or not, rather than
   * overloading the few (and when none is up and no backup is, over all primaries). 0 turns it off.
   * @default 50 (Envoy's default)
   */
  panicThreshold?: number
  /** Queue for requests over an upstream's `maxConnections`. */
  queue?: QueueOptions
  /**
   * Options passed to each upstream's undici `Pool` (keep-alive, pipelining, TLS `connect`
   * options). `timeouts` take precedence for `headersTimeout`, `bodyTimeout` and connect timeout.
   * @default {}
   */
  pool?: Pool.Options
  /**
   * Send the client's `Host` header upstream. When false, the upstream's own host is sent
   * (nginx's default `proxy_set_header Host $proxy_host`). HAProxy and Envoy keep the client's.
   * @default true
   */
  preserveHost?: boolean
  /**
   * Add `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` (set from what this hop saw)
   * and `Forwarded` (RFC 7239). What the client sent of them is kept (and appended to, as nginx
   * `$proxy_add_x_forwarded_for`) only when the client is a proxy `trustProxy` trusts; from anyone
   * else it is dropped, so no client can put a forged address in front of its own.
   * @default true
   */
  xForwarded?: boolean
  /**
   * Which proxies in front of the balancer are believed, as Express's `trust proxy` and the same
   * rule as every `@switchyard/guard` middleware: `false` (nobody: the socket's peer is the client),
   * `true` (everyone), a hop count, or addresses and CIDR ranges (`'10.0.0.0/8'`, `['loopback']`).
   * It decides the client address strategies see (`ipHash`, `addressKey`: the nearest untrusted
   * `X-Forwarded-For` hop) and whether the incoming forwarding headers are kept (peer trusted:
   * kept and appended to, its `X-Forwarded-Proto`/`-Host` passed on) or replaced (the default).
   * @default false
   */
  trustProxy?: TrustProxy
  /**
   * Forward request headers whose names contain an underscore. Off by default, as nginx
   * (`underscores_in_headers off`): `X_User` and `X-User` may reach an app as the same variable
   * (CGI and many frameworks map `-` to `_`), so a client could forge one with the other.
   * @default false
   */
  underscoresInHeaders?: boolean
  /**
   * Response headers the handler does not pass on to clients, to hide what the backends run
   * (nginx `proxy_hide_header`): `true` hides `Server` and `X-Powered-By`; a list hides those two
   * and the names listed (any letter case). The dispatcher path passes every header on.
   * @default false (every end-to-end header is relayed)
   */
  hideHeaders?: boolean | readonly string[]
  /**
   * Keep the decision traces of the last `trace` requests for `lb.trace()` (what each attempt
   * went to, answered, cost; see the `request:end` event). 0 keeps none, and costs nothing per
   * request unless a `request:end` listener is attached.
   * @default 0
   */
  trace?: number
  /**
   * Speak HTTP/2 to every upstream that does not say otherwise (see `UpstreamOptions.http2`).
   * @default false
   */
  http2?: boolean
  /**
   * Answers the balancer's own errors on the handler path (no upstream, timeouts, bad requests:
   * every `SwitchyardError` with a `statusCode`) instead of the default JSON body: a page of your
   * own, a header, a log line. It must answer `res`; if it throws or does not, the default answer
   * is sent. Errors after the response head was relayed cut the response as always.
   * @default none: a short JSON body (see docs/errors.md)
   */
  onError?: ErrorHandler
  /**
   * `'next'`: the handler calls Express's or Connect's `next(err)` with the typed error instead of
   * answering, so the app's error middleware decides (only when the handler was given a `next`;
   * otherwise as `'respond'`).
   * @default 'respond'
   */
  errors?: 'respond' | 'next'
  /**
   * Rewrites the path (and query) sent upstream: a function of it, or `{ stripPrefix, addPrefix }`
   * (`{ stripPrefix: '/api' }` sends `/api/users` as `/users`; a path without the prefix is sent
   * as it is). Applied before an upstream URL's own path is put in front. Handler, upgrade and
   * dispatcher paths alike.
   * @default none
   */
  rewritePath?: RewritePath
  /**
   * Changes the request headers sent upstream, after the forwarding headers are set:
   * `{ set: { 'x-env': 'prod' }, remove: ['cookie'] }` or a function that edits a map of
   * lower-case names in place. Handler and upgrade paths (a dispatcher caller writes its own).
   * @default none
   */
  requestHeaders?: HeaderTransform
  /**
   * Changes the response headers relayed to clients, as `requestHeaders` (after `hideHeaders`).
   * Handler path.
   * @default none
   */
  responseHeaders?: HeaderTransform
  /**
   * Rewrite a `Location` or `Content-Location` that points at the upstream itself (its origin, or
   * a path under its URL's base path) to the path the client uses, undoing `rewritePath`'s
   * prefixes (nginx `proxy_redirect default`, on by default there too): no redirect sends a
   * client to a backend's address. Handler path.
   * @default true
   */
  rewriteLocation?: boolean
  /**
   * Rewrites the `Domain` of `Set-Cookie` headers from upstreams: `{ 'app.internal': 'example.com' }`
   * (nginx `proxy_cookie_domain`). Handler path.
   * @default none
   */
  cookieDomain?: Record<string, string>
  /**
   * Rewrites the `Path` of `Set-Cookie` headers by prefix: `{ '/v1/': '/' }` (nginx
   * `proxy_cookie_path`). Handler path.
   * @default none
   */
  cookiePath?: Record<string, string>
  /**
   * Where time comes from, for every timestamp and timer of the balancer and its health checks
   * (fail timeouts, outlier ejection and its reviews, slow start, probe schedules, queue waits,
   * latency averages, `close()`'s grace period). Pass a virtual clock to run time-dependent
   * behaviour in tests without waiting. Sockets keep real time: undici's connect, headers and body
   * timeouts, the client timeouts, and each probe's own timeout. opossum keeps its own timers.
   * @default the real clock (`performance.now()`, unref'd `setTimeout`)
   */
  clock?: Clock
  /**
   * Source of randomness for the balancer's own draws (slow start's admission, probe jitter).
   * Strategies take their own (`roundRobin({ random })`).
   * @default Math.random
   */
  random?: () => number
}


/** Headers as a transform function sees them (defined beside the interceptor, which reads them too). */
export type { HeaderMap } from './interceptor-types.js'

/**
 * A header transform: a table (`set` replaces or adds, `remove` drops; names in any case), or a
 * function that changes the map in place.
 */
export type HeaderTransform = { set?: Record<string, string>; remove?: string[] } | ((headers: HeaderMap) => void)

/** The path transform: a function of the path (with query), or prefixes to strip and add. */
export type RewritePath = ((path: string) => string) | { stripPrefix?: string; addPrefix?: string }
