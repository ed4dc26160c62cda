import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { compose, rateLimit, redisStore } from '@switchyard/guard'
import { createClient } from 'redis'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startRedis } from '../../../test/helpers/redis.js'

/** An app instance: its own server and its own Redis client, limited through the shared store. */
async function instance(redisUrl: string, store: Partial<Parameters<typeof redisStore>[0]> = {}, limit = { rate: 1, burst: 2, nodelay: true }) {
  const client = createClient({ url: redisUrl, socket: { reconnectStrategy: false } })
  client.on('error', () => {}) // the Redis-down test stops the server under it
  await client.connect()
  const server = http.createServer(compose(rateLimit({ ...limit, store: redisStore({ client, ...store }) }), (_req, res) => res.end('ok')))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  onTestFinished(async () => {
    server.closeAllConnections()
    server.close()
    if (client.isOpen) await client.destroy()
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return async () => {
    const res = await request(url)
    await res.body.dump()
    return res.statusCode
  }
}

describe('redisStore: one limit shared by every instance (a real redis-server on loopback)', () => {
  it('two instances share the limit: rate 1/s, burst 2 allows 3 in all, then 429 on either', async () => {
    const redis = await startRedis()
    const a = await instance(redis.url)
    const b = await instance(redis.url)
    const statuses = [await a(), await b(), await a(), await b(), await a()]
    expect(statuses).toEqual([200, 200, 200, 429, 429])
  })

  it('different keys are limited apart, and buckets expire once empty', async () => {
    const redis = await startRedis()
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
    const redis = await startRedis()
    const a = await instance(redis.url, { timeout: 200 }, { rate: 1, burst: 0, nodelay: true })
    expect(await a()).toBe(200)
    expect(await a()).toBe(429)
    await redis.stop()
    expect(await a()).toBe(200)
    expect(await a()).toBe(200)
  })

  it('Redis down, onError closed: requests are refused', async () => {
    const redis = await startRedis()
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
