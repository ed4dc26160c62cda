import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { compose, type Middleware, rateLimit, redisStore } from '@switchyard/guard'
import { createClient } from 'redis'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { redisServer } from '@switchyard/testing'

/**
 * An app instance: its own server and its own Redis client, limited through the shared store
 * (after `before`, middleware standing for the app's other work). Returns a request function; its
 * `url` is the instance's.
 */
async function instance(
  redisUrl: string,
  store: Partial<Parameters<typeof redisStore>[0]> = {},
  limit: Omit<Parameters<typeof rateLimit>[0], 'store'> = { rate: 1, burst: 2, nodelay: true },
  before: Middleware[] = [],
) {
  const client = createClient({ url: redisUrl, socket: { reconnectStrategy: false } })
  client.on('error', () => {}) // the Redis-down test stops the server under it
  await client.connect()
  const server = http.createServer(compose(...before, rateLimit({ ...limit, store: redisStore({ client, ...store }) }), (_req, res) => res.end('ok')))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    server.close()
    if (client.isOpen) await client.destroy()
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return Object.assign(
    async () => {
      const res = await request(url)
      await res.body.dump()
      return res.statusCode
    },
    { url },
  )
}

describe('redisStore: one limit shared by every instance (a real redis-server on loopback)', () => {
  it('two instances share the limit: rate 1/s, burst 2 allows 3 in all, then 429 on either', async () => {
    const redis = await redisServer()
    const a = await instance(redis.url)
    const b = await instance(redis.url)
    const statuses = [await a(), await b(), await a(), await b(), await a()]
    expect(statuses).toEqual([200, 200, 200, 429, 429])
  })

  it('different keys are limited apart, and buckets expire once empty', async () => {
    const redis = await redisServer()
    const client = await createClient({ url: redis.url }).connect()
    onTestFinished(() => client.destroy())
    const store = redisStore({ client })
    expect((await store.hit('x', 0, 1, 0)).allowed).toBe(true)
    expect((await store.hit('x', 0, 1, 0)).allowed).toBe(false)
    expect((await store.hit('y', 0, 1, 0)).allowed).toBe(true)
    const ttl = Number(await client.sendCommand(['PTTL', 'swy:rl:x']))
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(2_000) // (burst + 1) / rate + 1 s
  })

  it('Redis down, onError open (the default): requests pass', async () => {
    const redis = await redisServer()
    const a = await instance(redis.url, { timeout: 200 }, { rate: 1, burst: 0, nodelay: true })
    expect(await a()).toBe(200)
    expect(await a()).toBe(429)
    await redis.stop()
    expect(await a()).toBe(200)
    expect(await a()).toBe(200)
  })

  it('Redis down, onError closed: requests are refused', async () => {
    const redis = await redisServer()
    const a = await instance(redis.url, { timeout: 200, onError: 'closed' })
    expect(await a()).toBe(200)
    await redis.stop()
    expect(await a()).toBe(429)
  })

  it('validates its options', () => {
    expect(() => redisStore({ client: {} as never })).toThrow(/node-redis or ioredis client/)
    expect(() => redisStore({ client: { sendCommand: async () => null }, onError: 'maybe' as never })).toThrow(/'open' or 'closed'/)
  })
})

describe('redisStore under a burst (issue 22: a busy Redis is not a down Redis)', () => {
  it('500 concurrent requests against rate 5/s, burst 10: no more pass than the limit allows', async () => {
    const redis = await redisServer()
    // Each request costs the process 0.5 ms before the limit is asked, as a loaded gateway's do
    // (parsing, logging, the balancer): the loop is busy while Redis's answers wait to be read.
    const busy: Middleware = (_req, _res, next) => {
      const until = performance.now() + 0.5
      while (performance.now() < until) {}
      next()
    }
    const limit = { rate: 5, burst: 10, nodelay: true, key: (req: http.IncomingMessage) => String(req.headers['x-who'] ?? 'shared') }
    const { url: base } = await instance(redis.url, {}, limit, [busy])
    const { Agent } = await import('undici')
    const agent = new Agent({ connections: 500 })
    onTestFinished(() => agent.close())
    const url = `${base}/`
    // 500 connections opened first (each with a key of its own), so the burst arrives at once, as
    // from clients already connected, not paced by the server accepting one connection a turn.
    await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const res = await request(url, { dispatcher: agent, headers: { 'x-who': `warm-${i}` } })
        await res.body.dump()
      }),
    )
    const started = performance.now()
    const statuses = await Promise.all(
      Array.from({ length: 500 }, async () => {
        const res = await request(url, { dispatcher: agent })
        await res.body.dump()
        return res.statusCode
      }),
    )
    const seconds = (performance.now() - started) / 1_000
    const passed = statuses.filter((s) => s === 200).length
    // nginx limit_req: the first request, the burst, then `rate` a second over the burst's span.
    const bound = 1 + 10 + Math.ceil(5 * seconds)
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true)
    expect(passed, `${passed} passed in ${seconds.toFixed(2)} s`).toBeLessThanOrEqual(bound)
    expect(passed).toBeGreaterThanOrEqual(11)
  })

  it('a Redis that stops answering (SIGSTOP: connected, silent) gets onError after `timeout` of silence', async () => {
    const redis = await redisServer()
    const client = createClient({ url: redis.url })
    client.on('error', () => {})
    await client.connect()
    onTestFinished(() => {
      redis.resume()
      if (client.isOpen) client.destroy()
    })
    const store = redisStore({ client, timeout: 100, onError: 'closed' })
    expect((await store.hit('k', 0, 1, 5)).allowed).toBe(true)
    redis.pause()
    const started = performance.now()
    const state = await store.hit('k', 0, 1, 5)
    const waited = performance.now() - started
    expect(state).toEqual({ allowed: false, excess: 0, retryMs: 1_000 })
    expect(waited).toBeGreaterThanOrEqual(95)
    expect(waited).toBeLessThan(1_000) // silence, not the 10 × timeout cap
  })

  it('a Redis that lost the script (SCRIPT FLUSH, a restart) is given it again: EVALSHA, then EVAL once', async () => {
    const redis = await redisServer()
    const client = await createClient({ url: redis.url }).connect()
    onTestFinished(() => client.destroy())
    const store = redisStore({ client, onError: 'closed' })
    expect((await store.hit('s', 0, 1, 0)).allowed).toBe(true)
    await client.sendCommand(['SCRIPT', 'FLUSH'])
    expect((await store.hit('t', 0, 1, 0)).allowed).toBe(true) // not onError's refusal
    expect((await store.hit('t', 0, 1, 0)).allowed).toBe(false)
  })
})
