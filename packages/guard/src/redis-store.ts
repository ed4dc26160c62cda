import { checkNumber, checkObject, checkOneOf, describeValue, InvalidOptionError, rejectUnknownKeys } from '@switchyard/strategies'
import type { BucketState, RateLimitStore } from './memory-store.js'

/**
 * The Redis client `redisStore` needs: node-redis (the official client, `createClient()`), whose
 * `sendCommand(args)` it uses, or ioredis, whose `call(command, ...args)` it uses.
 */
export type RedisLike =
  | { sendCommand(args: readonly string[]): Promise<unknown> }
  | { call(command: string, ...args: string[]): Promise<unknown> }

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** A connected client: node-redis (`createClient()`) or ioredis. */
  client: RedisLike
  /** Prefix of the bucket keys. @default 'swy:rl:' */
  prefix?: string
  /**
   * What a request gets when Redis does not answer in `timeout` or fails: `'open'` lets it pass
   * (availability first: the limit is off while Redis is), `'closed'` refuses it with 429.
   * @default 'open'
   */
  onError?: 'open' | 'closed'
  /** How long to wait for Redis, ms, before `onError` applies. @default 100 */
  timeout?: number
}

/**
 * nginx's `limit_req` arithmetic in one Lua script, run atomically in one round trip, on Redis's
 * clock (`TIME`), so that every instance sharing the store shares one limit and one time. Numbers
 * go back as strings: Redis would truncate Lua floats to integers.
 */
const SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ttl = math.ceil((burst + 1) * 1000 / rate) + 1000
local b = redis.call('HMGET', KEYS[1], 'e', 'l')
if not b[1] then
  redis.call('HSET', KEYS[1], 'e', 0, 'l', now)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {'1', '0', '0'}
end
local excess = math.max(0, tonumber(b[1]) - (now - tonumber(b[2])) * rate / 1000 + 1)
if excess > burst then
  return {'0', b[1], tostring((excess - burst) * 1000 / rate)}
end
redis.call('HSET', KEYS[1], 'e', excess, 'l', now)
redis.call('PEXPIRE', KEYS[1], ttl)
return {'1', tostring(excess), '0'}
`

/**
 * A `rateLimit` store in Redis, so that every instance of an app — processes, machines — shares
 * one limit per key. Each request is one `EVAL` of an atomic Lua script (keys expire when their
 * bucket is empty). When Redis is slow or down, `onError` decides.
 *
 * @example
 * const client = await createClient({ url: 'redis://127.0.0.1:6379' }).connect()
 * rateLimit({ rate: 10, burst: 20, store: redisStore({ client }) })
 */
export function redisStore(options: RedisStoreOptions): RateLimitStore {
  const o = checkObject(options, 'redisStore()')
  rejectUnknownKeys(o, ['client', 'prefix', 'onError', 'timeout'], 'redisStore()')
  const client = o.client as Record<string, unknown> | undefined
  const send =
    typeof client?.sendCommand === 'function'
      ? (args: string[]) => (client.sendCommand as (a: string[]) => Promise<unknown>)(args)
      : typeof client?.call === 'function'
        ? (args: string[]) => (client.call as (c: string, ...a: string[]) => Promise<unknown>)(args[0]!, ...args.slice(1))
        : undefined
  if (send === undefined) {
    throw new InvalidOptionError(`redisStore().client must be a node-redis or ioredis client, got ${describeValue(o.client)}`, {
      field: 'redisStore().client',
    })
  }
  const prefix = o.prefix ?? 'swy:rl:'
  if (typeof prefix !== 'string') throw new InvalidOptionError('redisStore().prefix must be a string', { field: 'redisStore().prefix' })
  const onError = checkOneOf(o.onError, 'redisStore().onError', ['open', 'closed'], 'open')
  const timeout = checkNumber(o.timeout, 'redisStore().timeout', 100, { exclusiveMin: true })
  const failed: BucketState = onError === 'open' ? { allowed: true, excess: 0, retryMs: 0 } : { allowed: false, excess: 0, retryMs: 1_000 }
  return {
    hit(key, _now, rate, burst) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<BucketState>((resolve) => {
        timer = setTimeout(() => resolve(failed), timeout)
        timer.unref()
      })
      const answer = send(['EVAL', SCRIPT, '1', prefix + key, String(rate), String(burst)]).then(
        (reply) => {
          const [allowed, excess, retryMs] = reply as [string, string, string]
          return { allowed: allowed === '1', excess: Number(excess), retryMs: Number(retryMs) }
        },
        () => failed,
      )
      return Promise.race([answer, late]).finally(() => clearTimeout(timer))
    },
  }
}
