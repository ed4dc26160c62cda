import {
  bodyLimit,
  connectionLimit,
  type FilterRule,
  ipFilter,
  type Middleware,
  memoryStore,
  type RateLimitStore,
  rateLimit,
  redisStore,
  requestFilter,
} from '@switchyard/guard'
import { type WafOptions, type WafReport, waf } from '@switchyard/waf'
import { checkObject, describeValue, InvalidOptionError, rejectUnknownKeys, type TrustProxy } from '@switchyard/strategies'
import { createClient } from 'redis'

/**
 * The guards a config file turns on, by name, each with its options as JSON can say them. They
 * run in this order whatever the order of the keys: `ipFilter` (a refused address costs nothing
 * more), `requestFilter`, `bodyLimit`, `connectionLimit`, `rateLimit` (only requests that passed
 * the others use up tokens), then `waf` (the costliest, on what is left).
 */
export interface GatewayGuards {
  /** `ipFilter({ allow, deny })`: addresses, CIDR ranges, ipaddr.js range names. */
  ipFilter?: { allow?: string[]; deny?: string[] }
  /**
   * `requestFilter({ rules, starter })`. In JSON a rule's pattern (`denyPath`, `denyQuery`,
   * `pattern`) is a string, compiled as a case-insensitive regular expression.
   */
  requestFilter?: { starter?: boolean; rules?: JsonFilterRule[] }
  /** `bodyLimit({ max })`, bytes. */
  bodyLimit?: { max: number }
  /** `connectionLimit({ max })` per client address. */
  connectionLimit?: { max: number }
  /**
   * `rateLimit({ rate, burst, nodelay })` per client address. `store`: `"memory"` (the default,
   * bounded to `maxKeys` addresses) or `{ "redis": "redis://host:6379" }` to share the limit
   * between every gateway using that Redis (`onError`: `"open"` or `"closed"` when it is down).
   * `headers`: which answers carry the RateLimit fields, `"refused"` (the 429s; default),
   * `"always"` or `"never"` (nginx's way).
   */
  rateLimit?: {
    rate: number
    burst?: number
    nodelay?: boolean
    headers?: 'always' | 'refused' | 'never'
    store?: 'memory' | { redis: string; onError?: 'open' | 'closed'; prefix?: string }
    maxKeys?: number
  }
  /**
   * `waf({ crs, paranoiaLevel, anomalyThreshold, mode, rules, bodyLimit, bodyTimeout, exclusions })` from
   * `@switchyard/waf`: the OWASP Core Rule Set of the install at `crs` (Debian's
   * `/usr/share/modsecurity-crs`). An exclusion's `path` is a path prefix. Each request that
   * matched rules is counted by rule on `/metrics` (`switchyard_waf_requests_total`) and logged
   * as one access log line (`msg: "waf"`, the outcome, rule ids, score). The rules see each
   * request as the balancer will send it (`waf()`'s `view` is `lb.upstreamHead`): a header the
   * balancer drops (a name with `_`, one the Connection header lists) is not judged.
   */
  waf?: Omit<WafOptions, 'onMatch'>
}

/** A request filter rule as JSON holds it: patterns as strings. */
export type JsonFilterRule = { name: string } & Record<string, unknown>

/** How long the first connect to a rate-limit Redis may take, ms, before the start or reload fails. */
const REDIS_CONNECT_MS = 5_000

const GUARD_NAMES = ['ipFilter', 'requestFilter', 'bodyLimit', 'connectionLimit', 'rateLimit', 'waf'] as const
const PATTERN_KEYS = ['denyPath', 'denyQuery', 'pattern'] as const

/** Middleware built from a config's `guards`, and what must be closed with the gateway. */
export interface BuiltGuards {
  readonly chain: Middleware[]
  /** Names in the order they run. */
  readonly names: string[]
  close(): Promise<void>
}

/**
 * Builds the guard chain a config names. Options are checked by the guards themselves (unknown
 * keys refused, each error naming `guards.<name>.<option>`). A Redis store connects here, so a
 * wrong URL fails the start, not the first request.
 */
export async function buildGuards(input: unknown, trustProxy: TrustProxy | undefined, onWaf?: (report: WafReport) => void, wafView?: WafOptions['view']): Promise<BuiltGuards> {
  if (input === undefined) return { chain: [], names: [], close: async () => {} }
  const o = checkObject(input, 'guards')
  rejectUnknownKeys(o, GUARD_NAMES, 'guards')
  const chain: Middleware[] = []
  const names: string[] = []
  const closers: (() => Promise<void>)[] = []
  const trust = trustProxy === undefined ? {} : { trustProxy }
  try {
    for (const name of GUARD_NAMES) {
      const options = o[name]
      if (options === undefined) continue
      const field = `guards.${name}`
      const opts = checkObject(options, field)
      names.push(name)
      if (name === 'ipFilter') chain.push(rethrow(field, () => ipFilter({ ...opts, ...trust })))
      else if (name === 'requestFilter') {
        const { rules, ...rest } = opts
        chain.push(rethrow(field, () => requestFilter({ ...rest, ...(rules === undefined ? {} : { rules: compileRules(rules, field) }) })))
      } else if (name === 'bodyLimit') chain.push(rethrow(field, () => bodyLimit(opts as { max: number })))
      else if (name === 'waf') {
        if ('onMatch' in opts) throw new InvalidOptionError(`${field}.onMatch cannot be set in a config file: the gateway counts and logs matches itself`, { field: `${field}.onMatch` })
        if ('view' in opts) throw new InvalidOptionError(`${field}.view cannot be set in a config file: the gateway's WAF sees each request as its balancer will send it`, { field: `${field}.view` })
        chain.push(rethrow(field, () => waf({ ...opts, ...(onWaf === undefined ? {} : { onMatch: onWaf }), ...(wafView === undefined ? {} : { view: wafView }) })))
      }
      else if (name === 'connectionLimit') chain.push(rethrow(field, () => connectionLimit({ ...(opts as { max: number }), ...trust })))
      else {
        const { store, maxKeys, ...rest } = opts
        const built = await makeStore(store, maxKeys, field)
        if (built.close !== undefined) closers.push(built.close)
        chain.push(rethrow(field, () => rateLimit({ ...(rest as { rate: number }), store: built.store, ...trust })))
      }
    }
  } catch (err) {
    await Promise.all(closers.map((c) => c()))
    throw err
  }
  return { chain, names, close: async () => void (await Promise.all(closers.map((c) => c()))) }
}

/** Runs a guard factory; its option errors are renamed from `rateLimit().burst` to `guards.rateLimit.burst`. */
function rethrow<T>(field: string, make: () => T): T {
  try {
    return make()
  } catch (err) {
    const e = err as InvalidOptionError
    if (e.code !== 'SWY_ERR_INVALID_OPTION') throw err
    const name = field.slice('guards.'.length)
    const inner = (e.field ?? '').replace(`${name}()`, field)
    throw new InvalidOptionError(e.message.replaceAll(`${name}()`, field), { field: inner || field, cause: err })
  }
}

function compileRules(input: unknown, field: string): FilterRule[] {
  if (!Array.isArray(input)) throw new InvalidOptionError(`${field}.rules must be an array, got ${describeValue(input)}`, { field: `${field}.rules` })
  return input.map((rule, i) => {
    const r = { ...checkObject(rule, `${field}.rules[${i}]`) }
    for (const key of PATTERN_KEYS) {
      const v = r[key]
      if (v === undefined) continue
      if (typeof v !== 'string') {
        throw new InvalidOptionError(`${field}.rules[${i}].${key} must be a pattern string, got ${describeValue(v)}`, { field: `${field}.rules[${i}].${key}` })
      }
      try {
        r[key] = new RegExp(v, 'i')
      } catch (cause) {
        throw new InvalidOptionError(`${field}.rules[${i}].${key} is not a valid pattern: ${(cause as Error).message}`, {
          field: `${field}.rules[${i}].${key}`,
          cause,
        })
      }
    }
    return r as unknown as FilterRule
  })
}

async function makeStore(
  input: unknown,
  maxKeys: unknown,
  field: string,
): Promise<{ store: RateLimitStore; close?: () => Promise<void> }> {
  if (input === undefined || input === 'memory') {
    return { store: rethrow(field, () => memoryStore(maxKeys === undefined ? {} : { max: maxKeys as number })) }
  }
  const o = checkObject(input, `${field}.store`)
  rejectUnknownKeys(o, ['redis', 'onError', 'prefix'], `${field}.store`)
  if (typeof o.redis !== 'string') {
    throw new InvalidOptionError(`${field}.store.redis must be a redis:// URL, got ${describeValue(o.redis)}`, { field: `${field}.store.redis` })
  }
  // The first connect is bounded: a Redis that cannot be reached fails the start (or the reload,
  // which keeps the old config) within REDIS_CONNECT_MS, instead of node-redis retrying it
  // forever. Once connected, a Redis that goes away is reconnected with backoff (up to 2 s apart);
  // meanwhile the store's onError policy applies.
  let connected = false
  const client = createClient({
    url: o.redis,
    socket: {
      connectTimeout: REDIS_CONNECT_MS,
      reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(50 * 2 ** retries, 2_000) : cause),
    },
  })
  client.on('error', () => {}) // reported through the store's policy, not as an unhandled event
  try {
    await client.connect()
    connected = true
  } catch (cause) {
    client.destroy()
    throw new InvalidOptionError(`${field}.store.redis: cannot connect to ${o.redis}: ${(cause as Error).message}`, {
      field: `${field}.store.redis`,
      cause,
    })
  }
  const { redis: _url, ...rest } = o
  return {
    store: rethrow(field, () => redisStore({ client, ...rest })),
    close: async () => {
      if (client.isOpen) await client.quit().catch(() => client.destroy())
    },
  }
}
