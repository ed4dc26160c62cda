import { createHash } from 'node:crypto'
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
   * What a request gets when Redis is silent for `timeout` or fails: `'open'` lets it pass
   * (availability first: the limit is off while Redis is), `'closed'` refuses it with 429.
   * @default 'open'
   */
  onError?: 'open' | 'closed'
  /**
   * How long Redis may be silent, ms, before a request waiting on it gets `onError`. Silent means
   * no answer to anyone: while Redis answers other requests (a burst: it is busy, not down), a
   * request waits on, for at most 10 × `timeout` in all. An answer already in the socket when the
   * timer fires is read first, so a busy event loop never makes a late answer an error.
   * @default 100
   */
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

/** The script's SHA-1, as Redis names it for EVALSHA: each request sends 40 bytes instead of the script. */
const SHA = createHash('sha1').update(SCRIPT).digest('hex')

/** How long, in timeouts, a request waits in all while Redis keeps answering others. */
const MAX_WAIT_TIMEOUTS = 10

/**
 * A `rateLimit` store in Redis, so that every instance of an app — processes, machines — shares
 * one limit per key. Each request is one `EVALSHA` of an atomic Lua script (loaded by `EVAL` the
 * first time a Redis lacks it; keys expire when their bucket is empty). A burst is pipelined by
 * the client on its one connection. When Redis is silent or failing, `onError` decides.
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
  let lastAnswer = 0
  const now = () => performance.now()
  const evaluate = (key: string, rate: number, burst: number): Promise<unknown> => {
    const args = ['1', prefix + key, String(rate), String(burst)]
    return send(['EVALSHA', SHA, ...args]).catch((err: unknown) => {
      // A Redis that restarted, or never saw the script: load it by running it once in full.
      if (!String((err as Error | undefined)?.message).startsWith('NOSCRIPT')) throw err
      return send(['EVAL', SCRIPT, ...args])
    })
  }
  return {
    hit(key, _now, rate, burst) {
      const sent = now()
      return new Promise<BucketState>((resolve) => {
        let done = false
        let timer: NodeJS.Timeout | undefined
        const finish = (state: BucketState): void => {
          if (done) return
          done = true
          clearTimeout(timer)
          resolve(state)
        }
        evaluate(key, rate, burst).then(
          (reply) => {
            lastAnswer = now()
            const [allowed, excess, retryMs] = reply as [string, string, string]
            finish({ allowed: allowed === '1', excess: Number(excess), retryMs: Number(retryMs) })
          },
          () => {
            lastAnswer = now()
            finish(failed)
          },
        )
        // Fired in the timers phase: the poll phase after it reads what Redis has already sent,
        // so the verdict waits for setImmediate (the check phase, after poll).
        const check = (): void => {
          setImmediate(() => {
            if (done) return
            const t = now()
            const silent = t - Math.max(lastAnswer, sent)
            if (silent >= timeout || t - sent >= timeout * MAX_WAIT_TIMEOUTS) finish(failed)
            else {
              timer = setTimeout(check, timeout - silent)
              timer.unref()
            }
          })
        }
        timer = setTimeout(check, timeout)
        timer.unref()
      })
    },
  }
}
