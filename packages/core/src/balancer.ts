import { EventEmitter } from 'node:events'
import { checkBoolean, checkNumber, checkObject, type Clock, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import { DEFAULTS } from './config/defaults.js'
import { ClosedError, UnknownUpstreamError } from './config/errors.js'
import type { BalancerEvents, Emit, HasListeners, RequestTrace } from './config/events.js'
import { normalize } from './config/normalize.js'
import { normalizeUpstream } from './config/normalize-upstream.js'
import type { ResolvedOptions } from './config/resolved.js'
import type { BalancerOptions } from './config/types.js'
import type { UpstreamOptions } from './config/upstream-types.js'
import type { BalancedDispatcher } from './entry/dispatcher.js'
import { makeEntries, type RequestHandler, type UpgradeHandler } from './entry/entries.js'
import type { FetchInfo } from './entry/fetch.js'
import { type UpstreamHead, upstreamHead } from './entry/preview.js'
import type { ExchangeHost } from './exchange/context.js'
import { Mirror, type MirrorStats } from './exchange/mirror.js'
import { Counters } from './exchange/counters.js'
import { Discovery, resolvingUpstream } from './fleet/discovery.js'
import { Fleet } from './fleet/fleet.js'
import type { UpstreamSnapshot } from './fleet/upstream.js'

export type { RequestHandler, UpgradeHandler } from './entry/entries.js'

/** The balancer's parts as its exchanges see them: the fleet, the counters, the open tunnels. */
class Core implements ExchangeHost {
  readonly fleet: Fleet
  readonly options: ResolvedOptions
  readonly clock: Clock
  readonly counters: Counters
  readonly tunnels = new Set<{ destroy(): void }>()
  readonly mirror: Mirror | undefined
  readonly bufferBudget: { used: number; readonly max: number }
  isClosed = false

  constructor(options: ResolvedOptions, emit: Emit, hasListeners: HasListeners) {
    this.options = options
    this.clock = options.clock
    this.counters = new Counters(emit, hasListeners)
    this.counters.traceSize = options.trace
    this.fleet = new Fleet(options, emit)
    this.bufferBudget = { used: 0, max: options.buffering?.total ?? 0 }
    this.mirror = options.mirror === undefined ? undefined : new Mirror(options.mirror, options.random, options.timeouts)
  }
}

/** Totals and per-upstream counters, from `lb.stats()`. */
export interface BalancerStats {
  /** The strategy's name. */
  readonly strategy: string
  /** Requests taken (by the handler and the dispatcher). */
  readonly requests: number
  /** Requests the balancer answered with an error, or whose relayed response it had to cut. */
  readonly errors: number
  /** Attempts sent again to another upstream. */
  readonly retries: number
  /** Hedged attempts sent (see the `hedge` option). */
  readonly hedges: number
  /** Requests taken and not yet finished (in flight, queued, or between attempts). */
  readonly active: number
  /** Requests in flight to upstreams now. */
  readonly inFlight: number
  /** Requests waiting in upstream queues. */
  readonly queued: number
  /** True while panic mode balances over upstreams that are down (see `panicThreshold`). */
  readonly panic: boolean
  /** Per-upstream counters. */
  readonly upstreams: readonly UpstreamSnapshot[]
  /** What the `mirror` option did; absent without it. */
  readonly mirror?: MirrorStats
  /** With `cache`: attempts answered from the store (`hits`), sent on (`misses`), and revalidated with the upstream. */
  readonly cache?: { readonly hits: number; readonly misses: number; readonly revalidated: number }
}

/** Options of `lb.remove()`. */
export interface RemoveOptions {
  /**
   * Let the upstream's in-flight and queued requests finish before its pool closes. When false,
   * its connections are destroyed at once and queued requests go to other upstreams.
   * @default true
   */
  drain?: boolean
}

/** Options of `lb.close()`. */
export interface CloseOptions {
  /**
   * How long in-flight requests may take to finish, ms; then the pools are destroyed.
   * @default 30_000 (Kubernetes' default terminationGracePeriodSeconds)
   */
  timeout?: number
}

type Listener<E extends keyof BalancerEvents> = (payload: BalancerEvents[E]) => void

/**
 * The `Dispatcher` type Node's global `fetch` takes, as the app's own `@types/node` declares it
 * (`undici-types`, which names an older undici than the one Switchyard runs on), or `unknown` where
 * the global `RequestInit` has no `dispatcher` (the DOM lib's). Evaluated in the app's program, so
 * `fetch(url, { dispatcher: lb.dispatcher })` type-checks against whichever it has.
 */
export type GlobalFetchDispatcher = RequestInit extends { dispatcher?: infer D } ? NonNullable<D> : unknown

/**
 * An in-process load balancer over a set of upstreams. Made by {@link createBalancer}.
 */
export class Balancer extends EventEmitter {
  /**
   * Reverse-proxies a request to an upstream and streams the answer back. Fits
   * `http.createServer(lb.handler)`, Express and Connect (`app.use(lb.handler)`): it always
   * answers, so `next` is never called, except with `errors: 'next'`, which hands the balancer's
   * own errors to it. The path sent upstream is `req.url` (Express strips a
   * mount prefix from it).
   */
  readonly handler: RequestHandler
  /**
   * An undici `Dispatcher` that balances `fetch` and `undici.request` calls. Typed as undici's
   * Dispatcher and as the one Node's global `fetch` takes (see {@link GlobalFetchDispatcher}), so
   * both `fetch(url, { dispatcher: lb.dispatcher })` and undici's `request()` take it.
   */
  readonly dispatcher: BalancedDispatcher & GlobalFetchDispatcher
  /**
   * Proxies an HTTP upgrade (a WebSocket handshake): attach it to a server's `'upgrade'` event,
   * `server.on('upgrade', lb.upgrade)`. The upstream is picked, admitted (`maxConnections`) and
   * retried on another when nothing was sent, as for any request; hash and sticky keys apply. On
   * a 101 the client's and the upstream's sockets are joined; the tunnel counts in the upstream's
   * `inFlight` until either side closes, and `close()` ends tunnels still open after its grace
   * period. Any other answer is relayed and the connection closed.
   */
  readonly upgrade: UpgradeHandler
  /**
   * Answers `CONNECT` with 501 (`SWY_ERR_METHOD_NOT_SUPPORTED`): a reverse proxy opens no tunnels
   * to hosts of the client's choosing. Node hands `CONNECT` to a server's `'connect'` event, and
   * with no listener closes the connection without a word; `server.on('connect', lb.connect)`
   * answers it instead, as nginx answers it (400) rather than hanging up. Counted like any refusal.
   */
  readonly connect: UpgradeHandler
  /**
   * The Fetch-API handler, for Hono, Next.js route handlers, Bun and Deno-style servers:
   * `app.all('/api/*', (c) => lb.fetch(c.req.raw))`. The request's URL keeps its path and query;
   * its origin only reached this handler. Bodies stream both ways; `request.signal` aborting aborts
   * the upstream request. Never rejects: the balancer's errors come back as their JSON `Response`.
   * A `Request` carries no client address: pass it as `info.remoteAddress` for `ipHash` and
   * `X-Forwarded-For` (without it, incoming `X-Forwarded-*` are dropped and none is added for the client).
   */
  readonly fetch: (request: Request, info?: FetchInfo) => Promise<Response>
  readonly #core: Core
  readonly #discovery: Discovery | undefined
  #closing: Promise<void> | undefined

  constructor(options: BalancerOptions) {
    super()
    const resolved = normalize(options)
    const core = new Core(
      resolved,
      (event, payload) => this.emit(event, payload),
      (event) => this.listenerCount(event) !== 0,
    )
    this.#core = core
    this.#discovery =
      resolved.resolving.length === 0
        ? undefined
        : new Discovery(core.fleet, resolved.resolving.map((r) => resolvingUpstream(r.input, r.path)!), resolved.dns)
    const entries = makeEntries(core, () => this.close())
    this.handler = entries.handler
    this.upgrade = entries.upgrade
    this.connect = entries.connect
    this.fetch = entries.fetch
    this.dispatcher = entries.dispatcher as BalancedDispatcher & GlobalFetchDispatcher
  }

  /** Listens to a balancer event (see {@link BalancerEvents}). */
  override on<E extends keyof BalancerEvents>(event: E, listener: Listener<E>): this {
    return super.on(event, listener)
  }

  /** Listens to the next one of a balancer event. */
  override once<E extends keyof BalancerEvents>(event: E, listener: Listener<E>): this {
    return super.once(event, listener)
  }

  /** Stops listening. */
  override off<E extends keyof BalancerEvents>(event: E, listener: Listener<E>): this {
    return super.off(event, listener)
  }

  /**
   * The head `lb.handler` would send an upstream for `req`, without sending anything: the target
   * in origin-form after `rewritePath`; the headers after the balancer's header pass (hop-by-hop
   * and Connection-listed names out, `Proxy` out, names with `_` as `underscoresInHeaders` says,
   * one `Host`, this hop's forwarding headers) and after `requestHeaders`. For a guard in front of
   * the handler that must judge the request as the upstream will get it (`@switchyard/waf`'s
   * `view`). Costs one header pass; the handler makes its own.
   * @throws {BadRequestError} SWY_ERR_BAD_REQUEST when the handler would refuse the request (400)
   * @throws {CallbackError} SWY_ERR_CALLBACK when `requestHeaders` or `rewritePath` throws
   */
  upstreamHead(req: Parameters<RequestHandler>[0]): UpstreamHead {
    return upstreamHead(this.#core.options, req)
  }

  /**
   * The decision traces of the last requests (`trace` option: how many), oldest first: for each,
   * every attempt's upstream, status or error, whether it counted, and time. For tests that assert
   * how a request was routed, and for a look at a live balancer.
   */
  trace(): RequestTrace[] {
    return this.#core.counters.traces()
  }

  /**
   * An application's verdict on an answer the balancer could not judge (a 200 carrying an error
   * payload, a slow answer that breaks a deadline of the app's): feeds passive health, outlier
   * detection and the breaker as a failure or success of that upstream. `target`: an upstream id,
   * or a `request:end` payload (its last attempt's upstream is judged).
   * @throws {UnknownUpstreamError} SWY_ERR_UNKNOWN_UPSTREAM when no upstream has that id
   */
  report(target: string | RequestTrace, verdict: 'success' | 'failure'): void {
    const id = typeof target === 'string' ? target : target.attempts.at(-1)?.upstream
    const u = id === undefined ? undefined : this.#core.fleet.registry.find(id)
    if (u === undefined) throw new UnknownUpstreamError(`no upstream has the id ${JSON.stringify(id)}`, { field: 'target' })
    if (verdict !== 'success' && verdict !== 'failure') {
      throw new InvalidOptionError(`report() takes 'success' or 'failure', got ${JSON.stringify(verdict)}`, { field: 'verdict' })
    }
    this.#core.fleet.health.record(u, verdict === 'failure', verdict === 'failure' ? 500 : 200)
  }

  /** Snapshots of every upstream, in the order they were given or added. */
  get upstreams(): readonly UpstreamSnapshot[] {
    return this.#core.fleet.registry.all.map((u) => u.snapshot())
  }

  /**
   * Adds an upstream; it takes traffic at once.
   * @throws {InvalidOptionError} SWY_ERR_INVALID_OPTION for a bad upstream option
   * @throws {DuplicateUpstreamError} SWY_ERR_DUPLICATE_UPSTREAM when the id is in use
   */
  add(upstream: string | UpstreamOptions): UpstreamSnapshot {
    if (this.#core.isClosed) throw new ClosedError('the balancer is closed')
    return this.#core.fleet.add(normalizeUpstream(upstream, 'upstream')).snapshot()
  }

  /**
   * Changes a live upstream, as an operator would: `weight` (a positive integer; the strategy
   * rebuilds its tables), `down: true` to take it out of rotation (reason `'configured'`, as
   * nginx `down`; requests in flight finish) and `down: false` to bring it back (it ramps up when
   * it has a slow start). Returns its snapshot.
   * @throws {UnknownUpstreamError} SWY_ERR_UNKNOWN_UPSTREAM when no upstream has this id
   * @throws {InvalidOptionError} SWY_ERR_INVALID_OPTION for a bad weight or down
   */
  update(id: string, change: { weight?: number; down?: boolean }): UpstreamSnapshot {
    const core = this.#core
    if (core.isClosed) throw new ClosedError('the balancer is closed')
    const u = core.fleet.registry.find(id)
    if (u === undefined) throw new UnknownUpstreamError(`no upstream has the id ${JSON.stringify(id)}`, { field: 'id' })
    const c = checkObject(change, 'change')
    rejectUnknownKeys(c, ['weight', 'down'], 'change')
    const weight = c.weight === undefined ? undefined : checkNumber(c.weight, 'change.weight', 1, { min: 1, integer: true })
    const down = c.down === undefined ? undefined : checkBoolean(c.down, 'change.down', false)
    core.fleet.update(u, { weight, down })
    return u.snapshot()
  }

  /**
   * Removes an upstream: it takes no new requests at once; with `drain` (the default) the
   * promise resolves when its in-flight requests have finished and its pool is closed.
   * @throws {UnknownUpstreamError} SWY_ERR_UNKNOWN_UPSTREAM when no upstream has this id
   * @throws {ClosedError} SWY_ERR_CLOSED after `close()`
   */
  async remove(id: string, options: RemoveOptions = {}): Promise<void> {
    const core = this.#core
    if (core.isClosed) throw new ClosedError('the balancer is closed')
    const u = core.fleet.registry.find(id)
    if (u === undefined) throw new UnknownUpstreamError(`no upstream has the id ${JSON.stringify(id)}`, { field: 'id' })
    await core.fleet.remove(u, options.drain ?? DEFAULTS.removeDrain)
  }

  /**
   * Forgets what the cache holds for `url` — its host and its path with query, as clients ask for
   * it (`http://shop.test/items?id=7`) — under every upstream (nginx Plus `proxy_cache_purge`).
   * @throws {InvalidOptionError} SWY_ERR_INVALID_OPTION without the `cache` option, or for a URL that does not parse
   */
  async purge(url: string): Promise<void> {
    const cache = this.#core.options.cache
    if (cache === undefined) throw new InvalidOptionError('purge() needs the cache option', { field: 'cache' })
    const target = typeof url === 'string' ? URL.parse(url) : null
    if (target === null) throw new InvalidOptionError(`purge() needs an absolute URL, got ${JSON.stringify(url)}`, { field: 'url' })
    const path = `${target.pathname}${target.search}`
    const keys = new Set<string>()
    for (const u of this.#core.fleet.registry.all) keys.add(`${u.dispatcher === undefined ? `http://${target.host.toLowerCase()}` : u.origin}\n${u.basePath}${path}`)
    for (const key of keys) {
      const [origin, p] = key.split('\n') as [string, string]
      await cache.store.delete({ origin, method: 'GET', path: p })
    }
  }

  /**
   * Resolves once every upstream with `resolve` has been looked up once (found or not), so the
   * first requests find the upstreams DNS names. At once when there are none.
   */
  ready(): Promise<void> {
    return this.#discovery?.ready() ?? Promise.resolve()
  }

  /** Counters in total and per upstream. */
  stats(): BalancerStats {
    const core = this.#core
    const upstreams = this.upstreams
    let inFlight = 0
    let queued = 0
    for (const u of upstreams) {
      inFlight += u.inFlight
      queued += u.queued
    }
    return Object.freeze({
      strategy: core.fleet.strategy.name,
      requests: core.counters.requests,
      errors: core.counters.errors,
      retries: core.counters.retries,
      hedges: core.counters.hedges,
      active: core.counters.active,
      inFlight,
      queued,
      panic: core.fleet.availability.panic,
      upstreams,
      ...(core.mirror === undefined ? {} : { mirror: core.mirror.stats() }),
      ...(core.options.cache === undefined ? {} : { cache: cacheStats(core.fleet.cacheCounts) }),
    })
  }

  /**
   * Stops taking requests (new ones get 503 `SWY_ERR_CLOSED`), lets those in flight finish, then
   * closes every pool and timer so the process can exit. Safe to call more than once.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeout ?? DEFAULTS.closeTimeout)
    return this.#closing
  }

  async #close(timeout: number): Promise<void> {
    const core = this.#core
    core.isClosed = true
    this.#discovery?.stop()
    const stopped = core.fleet.stop()
    let drained = true
    const { counters, clock } = core
    if (counters.active !== 0) {
      drained = await new Promise<boolean>((resolve) => {
        const timer = clock.setTimeout(() => resolve(false), timeout)
        counters.onIdle = () => {
          clock.clearTimeout(timer)
          resolve(true)
        }
      })
      counters.onIdle = undefined
    }
    for (const tunnel of [...core.tunnels]) tunnel.destroy() // open past the grace period
    await Promise.all([stopped, core.mirror?.close(), ...core.fleet.registry.all.map((u) => (drained ? u.pool.close() : u.pool.destroy()))])
  }
}

/**
 * Makes a load balancer over `options.upstreams`.
 *
 * @example
 * const lb = createBalancer({ upstreams: ['http://127.0.0.1:5000', 'http://127.0.0.1:5001'] })
 * http.createServer(lb.handler).listen(8080)
 *
 * @throws {InvalidOptionError} SWY_ERR_INVALID_OPTION for a bad or unknown option, naming it
 * @throws {DuplicateUpstreamError} SWY_ERR_DUPLICATE_UPSTREAM when two upstreams share an id
 */
export function createBalancer(options: BalancerOptions): Balancer {
  return new Balancer(options)
}

function cacheStats(c: { hit: number; miss: number; revalidated: number }): NonNullable<BalancerStats['cache']> {
  return { hits: c.hit, misses: c.miss, revalidated: c.revalidated }
}
