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
   * no answer to anyone over time this process could have read one: while Redis answers other
   * requests (a burst: it is busy, not down), a request waits on, for at most 10 × `timeout` in
   * all; time the event loop was too busy to read does not count, so a busy process never makes a
   * late answer an error.
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
  const evaluate = (key: string, rate: number, burst: number): Promise<unknown> => {
    const args = ['1', prefix + key, String(rate), String(burst)]
    return send(['EVALSHA', SHA, ...args]).catch((err: unknown) => {
      // A Redis that restarted, or never saw the script: load it by running it once in full.
      if (!String((err as Error | undefined)?.message).startsWith('NOSCRIPT')) throw err
      return send(['EVAL', SCRIPT, ...args])
    })
  }
  const silence = new SilenceWatch(timeout)
  return {
    hit(key, _now, rate, burst) {
      return new Promise<BucketState>((resolve) => {
        const waiter = silence.wait(() => resolve(failed))
        evaluate(key, rate, burst).then(
          (reply) => {
            if (!silence.answered(waiter)) return
            const [allowed, excess, retryMs] = reply as [string, string, string]
            resolve({ allowed: allowed === '1', excess: Number(excess), retryMs: Number(retryMs) })
          },
          () => {
            if (silence.answered(waiter)) resolve(failed)
          },
        )
      })
    },
  }
}

interface Waiter {
  readonly since: number
  readonly giveUp: () => void
}

/**
 * Tells a silent Redis from a busy one, for every request waiting on it, with one timer. Redis is
 * silent when no answer to anyone came for `timeout` ms of time in which this process could have
 * read one: a tick of the watch that fires late (the event loop was busy: answers may sit unread
 * in the socket) starts the window over, and a verdict waits for setImmediate, after the poll
 * phase has read what is there. A request waits 10 × `timeout` at most in all.
 */
class SilenceWatch {
  readonly #timeout: number
  readonly #tick: number
  readonly #waiting = new Set<Waiter>()
  #timer: NodeJS.Timeout | undefined = undefined
  #lastTick = 0
  /** The later of the last answer and the start of the current window. */
  #heard = 0

  constructor(timeout: number) {
    this.#timeout = timeout
    this.#tick = Math.max(1, timeout / 4)
  }

  wait(giveUp: () => void): Waiter {
    const waiter = { since: performance.now(), giveUp }
    this.#waiting.add(waiter)
    if (this.#timer === undefined) {
      this.#heard = this.#lastTick = waiter.since
      this.#timer = setInterval(this.#check, this.#tick)
      this.#timer.unref()
    }
    return waiter
  }

  /** Redis answered `waiter`: true when it was still waiting (not given up on). */
  answered(waiter: Waiter): boolean {
    this.#heard = performance.now()
    const waiting = this.#waiting.delete(waiter)
    this.#idle()
    return waiting
  }

  readonly #check = (): void => {
    const t = performance.now()
    const late = t - this.#lastTick - this.#tick
    this.#lastTick = t
    if (late > this.#tick) {
      this.#heard = Math.max(this.#heard, t) // the loop was busy: what Redis said may be unread
      return
    }
    setImmediate(this.#judge)
  }

  readonly #judge = (): void => {
    const t = performance.now()
    const silent = t - this.#heard >= this.#timeout
    for (const w of this.#waiting) {
      if (!silent && t - w.since < this.#timeout * MAX_WAIT_TIMEOUTS) continue
      this.#waiting.delete(w)
      w.giveUp()
    }
    this.#idle()
  }

  #idle(): void {
    if (this.#waiting.size !== 0 || this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
