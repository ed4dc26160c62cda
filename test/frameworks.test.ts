import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { type HttpBindings, serve } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { type Balancer, createBalancer } from '@switchyard/core'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'
import { request } from 'undici'
import { describe, expect, it, onTestFinished } from 'vitest'
import { fakeUpstream } from '@switchyard/testing'

/**
 * The README's recipes for Koa, Hono (on @hono/node-server) and Fastify, each mounted on /api/
 * beside a route of the framework's own: bodies stream through unread, every Set-Cookie arrives.
 */
type Mount = (lb: Balancer) => Promise<{ port: number; close: () => Promise<void> | void }>

const recipes: Record<string, Mount> = {
  async koa(lb) {
    const app = new Koa()
    app.use(async (ctx, next) => {
      if (!ctx.path.startsWith('/api/')) return next()
      ctx.respond = false // Koa will not answer: the balancer does
      lb.handler(ctx.req, ctx.res)
    })
    app.use((ctx) => {
      ctx.body = 'own route'
    })
    const server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return { port: (server.address() as AddressInfo).port, close: () => void server.close(() => {}) }
  },
  async hono(lb) {
    const app = new Hono<{ Bindings: HttpBindings }>()
    app.all('/api/*', (c) => {
      lb.handler(c.env.incoming, c.env.outgoing)
      return RESPONSE_ALREADY_SENT
    })
    app.get('/own', (c) => c.text('own route'))
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await once(server, 'listening')
    return { port: (server.address() as AddressInfo).port, close: () => void server.close() }
  },
  async fastify(lb) {
    const app = Fastify()
    await app.register(async (api) => {
      // Leave bodies unread on these routes: the balancer streams them upstream.
      api.removeAllContentTypeParsers()
      api.addContentTypeParser('*', (_request, _payload, done) => done(null))
      api.all('/api/*', (request, reply) => {
        reply.hijack() // Fastify will not answer: the balancer does
        lb.handler(request.raw, reply.raw)
      })
    })
    app.get('/own', async () => 'own route')
    await app.listen({ port: 0, host: '127.0.0.1' })
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
  },
}

for (const [name, mount] of Object.entries(recipes)) {
  describe(`${name} recipe`, () => {
    it('proxies /api/*, streams the body unread, relays every Set-Cookie; its own routes still answer', async () => {
      const up = await fakeUpstream({
        handler: (req, res, self) => {
          res.setHeader('set-cookie', ['a=1', 'b=2'])
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ url: req.url, body: self.requests.at(-1)!.body.toString() }))
        },
      })
      const lb = createBalancer({ upstreams: [up.url] })
      const app = await mount(lb)
      onTestFinished(async () => {
        await app.close()
        await lb.close({ timeout: 1_000 })
      })
      const base = `http://127.0.0.1:${app.port}`
      const res = await request(`${base}/api/orders?x=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"order":7}',
      })
      expect(res.statusCode).toBe(200)
      expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2'])
      expect(await res.body.json()).toEqual({ url: '/api/orders?x=1', body: '{"order":7}' })
      const get = await request(`${base}/api/items`)
      expect(get.statusCode).toBe(200)
      await get.body.dump()
      const own = await request(`${base}/own`)
      expect(await own.body.text()).toBe('own route')
      expect(up.hits).toBe(2)
    })
  })
}

describe('without the recipe’s pass-through parser', () => {
  it('Fastify’s default JSON parser reads the body first: a clear 500 SWY_ERR_BODY_CONSUMED, never an empty POST upstream', async () => {
    const up = await fakeUpstream()
    const lb = createBalancer({ upstreams: [up.url] })
    const app = Fastify()
    app.post('/api/*', (request, reply) => {
      reply.hijack()
      lb.handler(request.raw, reply.raw)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(async () => {
      await app.close()
      await lb.close({ timeout: 1_000 })
    })
    const res = await request(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    expect(res.statusCode).toBe(500)
    expect(((await res.body.json()) as { code: string }).code).toBe('SWY_ERR_BODY_CONSUMED')
    expect(up.hits).toBe(0)
  })
})
