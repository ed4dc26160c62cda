import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkObject,
  checkOneOf,
  describeValue,
  InvalidOptionError,
  normalizeTrustProxy,
  rejectUnknownKeys,
  type Clock,
  type RequestInfo,
  roundRobin,
  type Affinity,
  type Strategy,
} from '@switchyard/strategies'
import type { HealthCheck } from '@switchyard/health'
import type { ShareChannel } from './share-types.js'
import { normalizeBreaker, normalizePassive, systemClock } from '@switchyard/health/internal'
import { Client, Pool } from 'undici'
import { DEFAULTS, RETRY_DEFAULTS } from './defaults.js'
import { normalizeDns } from './dns.js'
import { normalizeMirror } from './mirror.js'
import { normalizeAdaptive } from './adaptive.js'
import { normalizeBuffering } from './buffering.js'
import { normalizeCache } from './cache.js'
import { normalizeCompress } from './compress.js'
import { normalizeUpstream, zoneName } from './normalize-upstream.js'
import type { ResolvedInterceptor, ResolvedOptions, ResolvedRetry, ResolvedUpstream } from './resolved.js'
import { normalizeCookieMap, normalizeHeaderTransform, normalizeRewritePath } from './transforms.js'
import type { ResponseInterceptor } from './interceptor-types.js'
import type { ErrorHandler } from './types.js'

export { normalizeUpstream } from './normalize-upstream.js'

function normalizeErrorsMode(input: unknown): 'respond' | 'next' {
  return checkOneOf(input, 'errors', ['respond', 'next'], 'respond')
}


const KNOWN = [
  'upstreams',
  'strategy',
  'retry',
  'hedge',
  'mirror',
  'adaptiveConcurrency',
  'locality',
  'compress',
  'cache',
  'buffering',
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
  'share',
  'breaker',
  'slowStart',
  'panicThreshold',
] as const

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
    mirror: normalizeMirror(o.mirror),
    adaptiveConcurrency: normalizeAdaptive(o.adaptiveConcurrency),
    locality: normalizeLocality(o.locality),
    compress: normalizeCompress(o.compress),
    cache: normalizeCache(o.cache),
    buffering: normalizeBuffering(o.buffering),
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
    share: normalizeShare(o.share),
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
    trace: checkNumber(o.trace, 'trace', DEFAULTS.trace, { min: 0, integer: true }),
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

/** Validates `onResponse`. */
export function normalizeInterceptor(input: unknown): ResolvedInterceptor | undefined {
  if (input === undefined) return undefined
  const o = checkObject(input, 'onResponse')
  rejectUnknownKeys(o, ['when', 'maxBytes', 'handle'], 'onResponse')
  if (typeof o.handle !== 'function') {
    throw new InvalidOptionError(`onResponse.handle must be a function, got ${describeValue(o.handle)}`, { field: 'onResponse.handle' })
  }
  return {
    when: checkFunction<ResolvedInterceptor['when']>(o.when, 'onResponse.when', undefined),
    maxBytes: checkNumber(o.maxBytes, 'onResponse.maxBytes', DEFAULTS.interceptMaxBytes, { min: 0, integer: true }),
    handle: o.handle as ResponseInterceptor['handle'],
  }
}

/** `locality`, checked: the balancer's zone and the smallest list zone-aware routing applies to. */
function normalizeLocality(input: unknown): ResolvedOptions['locality'] {
  if (input === undefined) return undefined
  const o = checkObject(input, 'locality')
  rejectUnknownKeys(o, ['zone', 'minUpstreams'], 'locality')
  return {
    zone: zoneName(o.zone, 'locality.zone'),
    minUpstreams: checkNumber(o.minUpstreams, 'locality.minUpstreams', 6, { min: 1, integer: true }), // Envoy min_cluster_size
  }
}

function normalizeShare(input: unknown): ShareChannel | undefined {
  if (input === undefined) return undefined
  const c = input as Partial<ShareChannel> | null
  if (c === null || typeof c !== 'object' || typeof c.send !== 'function' || typeof c.subscribe !== 'function') {
    throw new InvalidOptionError(`share must be a channel with send() and subscribe() functions, got ${describeValue(input)}`, { field: 'share' })
  }
  return c as ShareChannel
}
