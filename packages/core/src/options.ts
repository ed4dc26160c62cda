import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkObject,
  checkOneOf,
  describeValue,
  InvalidOptionError,
  rejectUnknownKeys,
  type Clock,
  roundRobin,
  type Affinity,
  normalizeTrustProxy,
  type RequestInfo,
  type Strategy,
  type SwitchyardError,
  type TrustProxy,
  type TrustRule,
} from '@switchyard/strategies'
import type { BreakerOptions, HealthCheck, PassiveOptions } from '@switchyard/health'
import {
  normalizeBreaker,
  normalizePassive,
  type ResolvedPassiveOptions,
  systemClock,
} from '@switchyard/health/internal'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Client, type Dispatcher, Pool } from 'undici'
import { normalizeInterceptor, type ResolvedInterceptor, type ResponseInterceptor } from './intercept.js'
import { type DnsOptions, normalizeDns, type ResolvedDns } from './dns-options.js'
import { type HedgeOptions, normalizeHedge, normalizeRetry, type ResolvedRetry, RETRY_DEFAULTS } from './retry-policy.js'
import {
  basePathOf,
  type HeaderRule,
  type HeaderTransform,
  normalizeCookieMap,
  normalizeHeaderTransform,
  normalizeRewritePath,
  type PathRule,
  type RewritePath,
} from './transforms.js'

/** `onError`: answers one of the balancer's own errors on the handler path. */
export type ErrorHandler = (error: SwitchyardError, req: IncomingMessage, res: ServerResponse) => void

function normalizeErrorsMode(input: unknown): 'respond' | 'next' {
  return checkOneOf(input, 'errors', ['respond', 'next'], 'respond')
}

/** One upstream, as given to `createBalancer({ upstreams })` or `lb.add()`. */
export interface UpstreamOptions {
  /**
   * Base URL, `http:` or `https:`. Its path, if any, is put in front of every request's path
   * (`http://10.0.0.5:5000/v1` sends `/users` as `/v1/users`, as nginx `proxy_pass` with a URI);
   * a query or fragment in it is refused. Optional with `dispatcher` (then it is only the
   * `origin` the dispatcher is given).
   */
  url?: string
  /**
   * Any undici `Dispatcher` to send this upstream's requests to, instead of a pool the balancer
   * makes for `url`: an `Agent`, a `MockAgent`, a function upstream in a test, a simulated upstream.
   * Needs an `id`. The balancer's `pool` and `timeouts.connect` options do not apply to it, and
   * `close()` / `remove()` close it.
   */
  dispatcher?: Dispatcher
  /**
   * DNS discovery (nginx `server ... resolve`): `true` makes one upstream per A/AAAA record of the
   * URL's host name (ids `<id>/<address>:<port>`), looked up again when the records' TTL runs out;
   * `'srv'` reads the host's SRV records (`http://_http._tcp.api.internal`): one upstream per
   * target address, with the record's port and weight, and those of a priority above the lowest
   * as backups. Changes go through `add` and `remove` with drain, so no request is dropped; a
   * failed lookup keeps the upstreams found last. The entry's other options go to every upstream
   * it makes (https ones check the certificate against the name). `lb.ready()` resolves after the
   * first lookup. Only in `createBalancer({ upstreams })`, not `lb.add()`.
   * @default false
   */
  resolve?: boolean | 'srv'
  /**
   * Speak HTTP/2 to this upstream: over TLS by ALPN (falling back to HTTP/1.1 when the upstream
   * does not offer h2), and over plain `http:` with prior knowledge (h2c: the upstream must speak
   * HTTP/2 on that port). Needed for gRPC upstreams.
   * @default the balancer's `http2`
   */
  http2?: boolean
  /**
   * Unique id, shown in stats and events.
   * @default the URL's origin
   */
  id?: string
  /**
   * Relative share of traffic, a positive integer.
   * @default 1
   */
  weight?: number
  /**
   * Takes traffic only when no primary upstream is eligible (nginx `backup`).
   * @default false
   */
  backup?: boolean
  /**
   * Listed but takes no traffic (nginx `down`).
   * @default false
   */
  down?: boolean
  /**
   * Cap on requests in flight to this upstream; over it, requests wait in the queue
   * (see `queue`). Also caps the pool's connections.
   * @default Infinity (no cap)
   */
  maxConnections?: number
  /**
   * Slow start for this upstream, ms (overrides the balancer's `slowStart`).
   * @default the balancer's `slowStart`
   */
  slowStart?: number
  /** TLS to an `https:` upstream (its pool and its active health checks). */
  tls?: UpstreamTlsOptions
}

/** TLS options of one `https:` upstream, as Node's `tls.connect()` takes them. */
export interface UpstreamTlsOptions {
  /** Trusted CA certificates (PEM), for an upstream whose certificate a private CA signed. @default Node's bundled CAs */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Client certificate chain (PEM), for upstreams that require mutual TLS. */
  cert?: string | Buffer | ReadonlyArray<string | Buffer>
  /** Client private key (PEM), with `cert`. */
  key?: string | Buffer | ReadonlyArray<string | Buffer>
  /**
   * TLS server name (SNI and certificate check). Never the client's `Host`, so `preserveHost`
   * cannot break the handshake or churn pooled connections.
   * @default the URL's hostname; none for an IP address (the certificate is checked against the IP)
   */
  servername?: string
  /**
   * Refuse an upstream whose certificate does not verify. `false` accepts any certificate, which
   * also accepts an impostor: use `ca` instead wherever possible.
   * @default true
   */
  rejectUnauthorized?: boolean
}

/** Retry policy. */
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

/** Every default, with its unit and where it comes from. */
export const DEFAULTS = Object.freeze({
  weight: 1, // nginx server weight default
  retryAttempts: RETRY_DEFAULTS.attempts,
  retryMethods: RETRY_DEFAULTS.methods,
  connectTimeout: 5_000, // ms; Envoy connect_timeout default
  headersTimeout: 60_000, // ms; nginx proxy_read_timeout default
  bodyTimeout: 60_000, // ms; nginx proxy_read_timeout default
  clientBodyTimeout: 60_000, // ms; nginx client_body_timeout default
  sendTimeout: 60_000, // ms; nginx send_timeout default
  tunnelIdleTimeout: 60_000, // ms; nginx proxy_read_timeout default, which closes a quiet WebSocket
  queueSize: 1_000, // requests per upstream
  queueTimeout: 60_000, // ms; nginx Plus `queue ... timeout=60s` default
  preserveHost: true,
  xForwarded: true,
  underscoresInHeaders: false, // nginx underscores_in_headers off
  slowStart: 0, // ms; off, as HAProxy and nginx Plus
  panicThreshold: 50, // %; Envoy healthy_panic_threshold default
})

const KNOWN = [
  'upstreams',
  'strategy',
  'retry',
  'hedge',
  'onResponse',
  'cost',
  'dns',
  'timeouts',
  'passive',
  'queue',
  'pool',
  'preserveHost',
  'xForwarded',
  'trustProxy',
  'underscoresInHeaders',
  'clock',
  'random',
  'hideHeaders',
  'http2',
  'trace',
  'onError',
  'errors',
  'rewritePath',
  'requestHeaders',
  'responseHeaders',
  'rewriteLocation',
  'cookieDomain',
  'cookiePath',
  'health',
  'breaker',
  'slowStart',
  'panicThreshold',
] as const

const UPSTREAM_KNOWN = ['url', 'id', 'weight', 'backup', 'down', 'maxConnections', 'slowStart', 'tls', 'dispatcher', 'http2', 'resolve'] as const
const TLS_KNOWN = ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized'] as const

/** Validates one upstream entry. `path` names it in errors: `upstreams[1]`. */
export function normalizeUpstream(input: unknown, path: string): ResolvedUpstream {
  const o: Record<string, unknown> =
    typeof input === 'string' ? { url: input } : checkObject(input ?? null, path)
  rejectUnknownKeys(o, UPSTREAM_KNOWN, path)
  const dispatcher = o.dispatcher
  if (dispatcher !== undefined && (dispatcher === null || typeof (dispatcher as { dispatch?: unknown }).dispatch !== 'function')) {
    throw new InvalidOptionError(`${path}.dispatcher must be an undici Dispatcher, got ${describeValue(dispatcher)}`, {
      field: `${path}.dispatcher`,
    })
  }
  if (dispatcher !== undefined && (typeof o.id !== 'string' || o.id.length === 0)) {
    throw new InvalidOptionError(`${path}.id must be a non-empty string for a dispatcher upstream, got ${describeValue(o.id)}`, {
      field: `${path}.id`,
    })
  }
  if (dispatcher !== undefined && o.tls !== undefined) {
    throw new InvalidOptionError(`${path}.tls does not apply to a dispatcher upstream (set TLS on the dispatcher)`, { field: `${path}.tls` })
  }
  // A dispatcher upstream without a URL gets a placeholder origin (RFC 6761 reserves .invalid).
  const url = o.url ?? (dispatcher !== undefined ? `http://${encodeURIComponent(o.id as string)}.invalid` : undefined)
  if (typeof url !== 'string') {
    throw new InvalidOptionError(`${path}.url must be a string URL, got ${describeValue(url)}`, {
      field: `${path}.url`,
    })
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw new InvalidOptionError(`${path}.url is not a valid URL, got ${describeValue(url)}`, {
      field: `${path}.url`,
      cause,
    })
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new InvalidOptionError(`${path}.url must not have a query or fragment, got ${describeValue(url)}`, { field: `${path}.url` })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidOptionError(`${path}.url must use http: or https:, got ${describeValue(url)}`, {
      field: `${path}.url`,
    })
  }
  const id = o.id ?? parsed.origin
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidOptionError(`${path}.id must be a non-empty string, got ${describeValue(id)}`, {
      field: `${path}.id`,
    })
  }
  const maxConnections = checkNumber(o.maxConnections, `${path}.maxConnections`, Number.POSITIVE_INFINITY, {
    min: 1,
    integer: true,
  })
  return {
    id,
    url,
    origin: parsed.origin,
    basePath: basePathOf(parsed),
    http2: o.http2 === undefined ? undefined : checkBoolean(o.http2, `${path}.http2`, false),
    weight: checkNumber(o.weight, `${path}.weight`, DEFAULTS.weight, { min: 1, integer: true }),
    backup: checkBoolean(o.backup, `${path}.backup`, false),
    down: checkBoolean(o.down, `${path}.down`, false),
    maxConnections,
    slowStart: o.slowStart === undefined ? undefined : checkNumber(o.slowStart, `${path}.slowStart`, 0),
    ...(dispatcher === undefined ? normalizeTls(o.tls, parsed, `${path}.tls`) : { tls: undefined, servername: undefined }),
    dispatcher: dispatcher as Dispatcher | undefined,
  }
}

/** Validates an upstream's `tls`; works out the server name every request to it will carry. */
function normalizeTls(input: unknown, url: URL, path: string): Pick<ResolvedUpstream, 'tls' | 'servername'> {
  if (url.protocol !== 'https:') {
    if (input !== undefined) throw new InvalidOptionError(`${path} needs an https: url`, { field: path })
    return { tls: undefined, servername: undefined }
  }
  const o = checkObject(input, path)
  rejectUnknownKeys(o, TLS_KNOWN, path)
  for (const key of ['ca', 'cert', 'key'] as const) {
    const v = o[key]
    const ok = (x: unknown) => typeof x === 'string' || Buffer.isBuffer(x)
    if (v !== undefined && !(ok(v) || (Array.isArray(v) && v.every(ok)))) {
      throw new InvalidOptionError(`${path}.${key} must be PEM text, a Buffer, or an array of them, got ${describeValue(v)}`, {
        field: `${path}.${key}`,
      })
    }
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new InvalidOptionError(`${path}.cert and ${path}.key go together`, { field: `${path}.${o.cert === undefined ? 'cert' : 'key'}` })
  }
  if (o.servername !== undefined && (typeof o.servername !== 'string' || o.servername === '')) {
    throw new InvalidOptionError(`${path}.servername must be a non-empty string, got ${describeValue(o.servername)}`, {
      field: `${path}.servername`,
    })
  }
  checkBoolean(o.rejectUnauthorized, `${path}.rejectUnauthorized`, true)
  const { servername, ...tls } = o
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return { tls, servername: (servername as string | undefined) ?? host }
}

function normalizeStrategy(input: unknown): Strategy {
  if (input === undefined) return roundRobin()
  const s = input as Partial<Strategy> | null
  if (s === null || typeof s !== 'object' || typeof s.pick !== 'function' || typeof s.name !== 'string') {
    throw new InvalidOptionError(
      `strategy must be a strategy object with a name and a pick() function (made by a factory such as roundRobin()), got ${describeValue(input)}`,
      { field: 'strategy' },
    )
  }
  for (const hook of ['rebuild', 'onStart', 'onEnd'] as const) {
    if (s[hook] !== undefined && typeof s[hook] !== 'function') {
      throw new InvalidOptionError(`strategy.${hook} must be a function when present`, { field: `strategy.${hook}` })
    }
  }
  const a = s.affinity as Partial<Affinity> | null | undefined
  if (a !== undefined) {
    if (a === null || typeof a !== 'object' || typeof a.key !== 'function') {
      throw new InvalidOptionError(`strategy.affinity must be an object with a key() function, got ${describeValue(a)}`, {
        field: 'strategy.affinity',
      })
    }
    if (a.setCookie !== undefined && typeof a.setCookie !== 'function') {
      throw new InvalidOptionError('strategy.affinity.setCookie must be a function when present', { field: 'strategy.affinity.setCookie' })
    }
  }
  return s as Strategy
}

function normalizeHealth(input: unknown): HealthCheck[] {
  if (input === undefined) return []
  const list = Array.isArray(input) ? input : [input]
  return list.map((check, i) => {
    const kind = (check as { kind?: unknown } | null)?.kind
    if (kind !== 'active' && kind !== 'outlier') {
      const field = Array.isArray(input) ? `health[${i}]` : 'health'
      throw new InvalidOptionError(
        `${field} must be made by activeHealthCheck() or outlierDetection(), got ${describeValue(check)}`,
        { field },
      )
    }
    return check as HealthCheck
  })
}

/**
 * Validates `pool` the way undici will: a Pool and a Client are built with it (no connection is
 * made) and destroyed, so a bad value is an `InvalidOptionError` now, not an undici error later.
 */
function normalizePool(input: unknown): Pool.Options {
  const pool = { ...checkObject(input, 'pool') } as Pool.Options
  const { connections: _c, factory: _f, clientTtl: _t, ...clientOptions } = pool as Pool.Options & { clientTtl?: unknown }
  try {
    void new Pool('http://127.0.0.1', pool).destroy()
    void new Client('http://127.0.0.1', clientOptions as Client.Options).destroy()
  } catch (cause) {
    throw new InvalidOptionError(`pool is not valid for undici: ${(cause as Error).message}`, { field: 'pool', cause })
  }
  return pool
}

/** The names `hideHeaders: true` hides, and every list hides too: what identifies the backends' software. */
const IDENTIFYING_HEADERS = ['server', 'x-powered-by']

function normalizeHideHeaders(input: unknown): ReadonlySet<string> | undefined {
  if (input === undefined || input === false) return undefined
  if (input === true) return new Set(IDENTIFYING_HEADERS)
  if (!Array.isArray(input) || input.some((h) => typeof h !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h))) {
    throw new InvalidOptionError(`hideHeaders must be true, false or a list of header names, got ${describeValue(input)}`, {
      field: 'hideHeaders',
    })
  }
  return new Set([...IDENTIFYING_HEADERS, ...(input as string[]).map((h) => h.toLowerCase())])
}

function normalizeClock(input: unknown): Clock {
  if (input === undefined) return systemClock
  const c = checkObject(input, 'clock')
  for (const fn of ['now', 'setTimeout', 'clearTimeout'] as const) {
    if (typeof c[fn] !== 'function') {
      throw new InvalidOptionError(`clock.${fn} must be a function, got ${describeValue(c[fn])}`, { field: `clock.${fn}` })
    }
  }
  const clock = c as unknown as Clock
  // Bound once, so the parts can pass `clock.now` around without losing `this`.
  return { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h) }
}

/** Validates all options and fills in defaults. Never writes into `input`. */
export function normalize(input: unknown): ResolvedOptions {
  const o = checkObject(input ?? null, 'options')
  rejectUnknownKeys(o, KNOWN, '')
  if (!Array.isArray(o.upstreams) || o.upstreams.length === 0) {
    throw new InvalidOptionError(`upstreams must be a non-empty array, got ${describeValue(o.upstreams)}`, {
      field: 'upstreams',
    })
  }
  // Entries with `resolve` become upstreams once their names are looked up (discovery.ts).
  const upstreams: ResolvedUpstream[] = []
  const resolving: { input: unknown; path: string }[] = []
  o.upstreams.forEach((u, i) => {
    const path = `upstreams[${i}]`
    if (u !== null && typeof u === 'object' && (u as { resolve?: unknown }).resolve !== undefined && (u as { resolve?: unknown }).resolve !== false) resolving.push({ input: u, path })
    else upstreams.push(normalizeUpstream(u, path))
  })
  const timeouts = checkObject(o.timeouts, 'timeouts')
  rejectUnknownKeys(timeouts, ['connect', 'headers', 'body', 'clientBody', 'send', 'tunnelIdle', 'total'], 'timeouts')
  const queue = checkObject(o.queue, 'queue')
  rejectUnknownKeys(queue, ['size', 'timeout'], 'queue')
  const pool = normalizePool(o.pool)
  const retry = normalizeRetry(o.retry)
  return {
    upstreams,
    resolving,
    dns: normalizeDns(o.dns),
    strategy: normalizeStrategy(o.strategy),
    retry,
    hedge: normalizeHedge(o.hedge, retry),
    onResponse: normalizeInterceptor(o.onResponse),
    cost: checkFunction<((req: RequestInfo) => number) | undefined>(o.cost, 'cost', undefined),
    timeouts: {
      connect: checkNumber(timeouts.connect, 'timeouts.connect', DEFAULTS.connectTimeout, { exclusiveMin: true }),
      headers: checkNumber(timeouts.headers, 'timeouts.headers', DEFAULTS.headersTimeout, { exclusiveMin: true }),
      body: checkNumber(timeouts.body, 'timeouts.body', DEFAULTS.bodyTimeout, { exclusiveMin: true }),
      clientBody: checkNumber(timeouts.clientBody, 'timeouts.clientBody', DEFAULTS.clientBodyTimeout, { exclusiveMin: true }),
      send: checkNumber(timeouts.send, 'timeouts.send', DEFAULTS.sendTimeout, { exclusiveMin: true }),
      tunnelIdle: checkNumber(timeouts.tunnelIdle, 'timeouts.tunnelIdle', DEFAULTS.tunnelIdleTimeout, { exclusiveMin: true }),
      total: timeouts.total === undefined ? undefined : checkNumber(timeouts.total, 'timeouts.total', 0, { exclusiveMin: true }),
    },
    passive: normalizePassive(o.passive),
    health: normalizeHealth(o.health),
    breaker: normalizeBreaker(o.breaker),
    slowStart: checkNumber(o.slowStart, 'slowStart', DEFAULTS.slowStart),
    panicThreshold: checkNumber(o.panicThreshold, 'panicThreshold', DEFAULTS.panicThreshold, { max: 100 }),
    queue: {
      size: checkNumber(queue.size, 'queue.size', DEFAULTS.queueSize, { integer: true }),
      timeout: checkNumber(queue.timeout, 'queue.timeout', DEFAULTS.queueTimeout, { exclusiveMin: true }),
    },
    pool,
    preserveHost: checkBoolean(o.preserveHost, 'preserveHost', DEFAULTS.preserveHost),
    xForwarded: checkBoolean(o.xForwarded, 'xForwarded', DEFAULTS.xForwarded),
    trust: normalizeTrustProxy(o.trustProxy),
    underscoresInHeaders: checkBoolean(o.underscoresInHeaders, 'underscoresInHeaders', DEFAULTS.underscoresInHeaders),
    clock: normalizeClock(o.clock),
    hideHeaders: normalizeHideHeaders(o.hideHeaders),
    http2: checkBoolean(o.http2, 'http2', false),
    trace: checkNumber(o.trace, 'trace', 0, { min: 0, integer: true }),
    onError: checkFunction<ErrorHandler | undefined>(o.onError, 'onError', undefined),
    errors: normalizeErrorsMode(o.errors),
    rewritePath: normalizeRewritePath(o.rewritePath),
    requestHeaders: normalizeHeaderTransform(o.requestHeaders, 'requestHeaders'),
    responseHeaders: normalizeHeaderTransform(o.responseHeaders, 'responseHeaders'),
    rewriteLocation: checkBoolean(o.rewriteLocation, 'rewriteLocation', true),
    cookieDomain: normalizeCookieMap(o.cookieDomain, 'cookieDomain'),
    cookiePath: normalizeCookieMap(o.cookiePath, 'cookiePath'),
    random: checkFunction<() => number>(o.random, 'random', Math.random),
  }
}
