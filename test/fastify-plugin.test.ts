import switchyard from '@switchyard/fastify'
import { createBalancer } from '@switchyard/core'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { first } from '@switchyard/strategies'
import { Writable } from 'node:stream'
import { deadPort, fakeUpstream } from '@switchyard/testing'

async function app(setup: (f: FastifyInstance) => Promise<void>) {
  const f = Fastify()
  await setup(f)
  await f.listen({ port: 0, host: '127.0.0.1' })
  onTestFinished(() => f.close())
  const { port } = f.server.address() as { port: number }
  return { f, base: `http://127.0.0.1:${port}` }
}

describe('@switchyard/fastify', () => {
  it('keeps Fastify’s logging and onResponse hooks for proxied replies, and logs why the balancer answered an error', async () => {
    const lines: { msg: string; level: number; code?: string; res?: { statusCode: number } }[] = []
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)))
        done()
      },
    })
    const up = await fakeUpstream({ name: 'a' })
    const f = Fastify({ logger: { stream } as never })
    const statuses: number[] = []
    f.addHook('onResponse', async (_req, reply) => {
      statuses.push(reply.statusCode)
    })
    await f.register(switchyard, { prefix: '/api', balancer: { upstreams: [up.url, `http://127.0.0.1:${await deadPort()}`], retry: false, strategy: first() } })
    await f.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => f.close())
    const base = `http://127.0.0.1:${(f.server.address() as { port: number }).port}`
    await (await request(`${base}/api/ok`)).body.dump()
    await up.kill()
    const failed = await request(`${base}/api/down`)
    await failed.body.dump()
    expect(failed.statusCode).toBe(502)
    await expect.poll(() => statuses).toEqual([200, 502])
    const completed = lines.filter((l) => l.msg === 'request completed').map((l) => l.res!.statusCode)
    expect(completed).toEqual([200, 502])
    const why = lines.find((l) => l.msg.startsWith('switchyard:'))
    expect(why).toMatchObject({ level: 40, code: 'SWY_ERR_UPSTREAM', path: '/down' })
  })

  it('proxies a prefix inside Fastify’s lifecycle: onRequest hooks first, bodies unread, other routes Fastify’s', async () => {
    const up = await fakeUpstream({ name: 'a' })
    const { f, base } = await app(async (f) => {
      f.addHook('onRequest', async (req, reply) => {
        if (req.url.startsWith('/api') && req.headers.authorization !== 'Bearer ok') return reply.code(401).send({ error: 'no' })
      })
      await f.register(switchyard, { prefix: '/api', balancer: { upstreams: [up.url] } })
      f.get('/health', async () => ({ ok: true }))
    })
    expect((await request(`${base}/api/users`)).statusCode).toBe(401)
    expect(up.hits).toBe(0)
    const auth = { authorization: 'Bearer ok' }
    const res = await request(`${base}/api/users?page=2`, { headers: auth })
    expect(res.statusCode).toBe(200)
    expect(((await res.body.json()) as { url: string }).url).toBe('/users?page=2') // the prefix is stripped, as @fastify/http-proxy does
    const big = JSON.stringify({ data: 'x'.repeat(2 * 1024 * 1024) })
    const post = await request(`${base}/api/upload`, { method: 'POST', body: big, headers: { ...auth, 'content-type': 'application/json' } })
    await post.body.dump()
    expect(up.requests.at(-1)!.bodyLength).toBe(big.length) // Fastify's JSON parser stayed off: the bytes went up as sent
    expect(up.requests.at(-1)!.url).toBe('/upload')
    expect(await (await request(`${base}/health`)).body.json()).toEqual({ ok: true })
    expect(f.switchyard.stats().requests).toBe(2)
  })

  it('closes a balancer it made with the app, and leaves one it was given to its owner', async () => {
    const up = await fakeUpstream()
    const given = createBalancer({ upstreams: [up.url] })
    onTestFinished(() => given.close())
    const { f, base } = await app(async (f) => {
      await f.register(switchyard, { balancer: given, prefix: '/x', rewritePrefix: '/v1' })
    })
    const res = await request(`${base}/x/a`)
    await res.body.dump()
    expect(up.requests[0]!.url).toBe('/v1/a')
    expect(f.switchyard).toBe(given)
    await f.close()
    expect((await given.dispatcher.request({ origin: 'http://svc', path: '/', method: 'GET' })).statusCode).toBe(200) // still open

    const made = Fastify()
    await made.register(switchyard, { balancer: { upstreams: [up.url] } })
    await made.ready()
    const lb = made.switchyard
    await made.close()
    expect(() => lb.add('http://127.0.0.1:1')).toThrow(expect.objectContaining({ code: 'SWY_ERR_CLOSED' }))
  })
})
